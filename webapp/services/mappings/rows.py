"""The editor's rows (target fields in the editor's order, required first, with their stored
problems) and the accounting system's codes, cached per integration in ReferenceCache, with
the codes in the mapping that the system does not have.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from flask_babel import gettext as _

from adapters import get_adapter, get_type
from adapters.types import IntegrationType, ReferenceKind, TargetField, Text
from webapp import mapping as resolver
from webapp.db import db, utcnow
from webapp.mapping import MappingRow
from webapp.models import (
    FieldMapping,
    Integration,
    ReferenceCache,
)
from webapp.services.mappings.kept import Kept
from webapp.services.providers import adapter_settings

NONE = "none"
KINDS = (NONE, "field", "constant", "lookup", "template")
# Transforms the form offers for each target data type (others make no sense there).
TRANSFORMS_FOR = {
    "text": ("date_format", "truncate", "default"),
    "code": ("date_format", "truncate", "default"),
    "date": ("default",),
    "decimal": ("sign", "round", "default"),
    "integer": ("sign", "default"),
}
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")
# The preview's sample: the organisation's latest approved claims.
PREVIEW_CHOICES = 10
MAX_ENTRIES = 500
# Approved claims whose lookup keys are checked when a lookup table has no default.
KEY_SAMPLE = 1000


class InvalidMapping(Exception):
    """A change that would leave the row invalid; `message` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConnected(Exception):
    """The integration has no saved credentials, so the system cannot be asked."""


# ---------------------------------------------------------------------------------------------
# Rows


@dataclass(frozen=True)
class CodeFlag:
    """A code typed into the mapping that the accounting system does not have."""

    target: str
    kind: str
    code: str
    closest: tuple[str, ...]


@dataclass
class RowState:
    """One target field as the editor shows it."""

    target: str
    field: TargetField | None
    row: MappingRow | None
    error: Text | None = None
    flags: list[CodeFlag] = dataclasses.field(default_factory=list)

    @property
    def label(self) -> Text:
        return self.field.label if self.field else Text(self.target, self.target)

    @property
    def required(self) -> bool:
        return bool(self.field and self.field.required)

    @property
    def kind(self) -> str:
        return self.row.kind if self.row else NONE

    def flagged(self, code: str) -> CodeFlag | None:
        return next((f for f in self.flags if f.code == str(code).strip()), None)


def ordered_targets(itype: IntegrationType) -> list[TargetField]:
    """The type's target fields, required ones first, otherwise in the type's order."""
    fields = [f for f in itype.target_fields if f.name != resolver.AMOUNT]
    return [f for f in fields if f.required] + [f for f in fields if not f.required]


def stored_rows(integration: Integration) -> dict[str, MappingRow]:
    models = FieldMapping.select().where(FieldMapping.integration == integration)
    return {row.target: row for row in resolver.rows_from_models(models)}


def editor_rows(
    integration: Integration,
    itype: IntegrationType,
    rows: Mapping[str, MappingRow] | None = None,
    caches: Mapping[str, ReferenceCache] | None = None,
) -> list[RowState]:
    """Every target field with its stored row, what is wrong with it and unknown codes."""
    rows = stored_rows(integration) if rows is None else rows
    caches = cached_references(integration) if caches is None else caches
    # What is wrong with each row, and which required fields have none: the compiled plan
    # knows both, and is compiled once per mapping (cached by the rows' contents).
    errors = resolver.plan_for(itype, list(rows.values())).errors
    flags: dict[str, list[CodeFlag]] = {}
    for flag in code_flags(itype, rows.values(), caches):
        flags.setdefault(flag.target, []).append(flag)
    states = []
    for tf in ordered_targets(itype):
        row = rows.get(tf.name)
        states.append(RowState(tf.name, tf, row, errors.get(tf.name), flags.get(tf.name, [])))
    known = {tf.name for tf in itype.target_fields}
    for target, row in rows.items():
        if target not in known:
            states.append(RowState(target, None, row, errors.get(target)))
    return states


def target_field(itype: IntegrationType, target: str) -> TargetField | None:
    try:
        return itype.target_field(target)
    except KeyError:
        return None


# ---------------------------------------------------------------------------------------------
# Reference data


@dataclass
class ReferenceState:
    """What the editor knows about the accounting system's codes."""

    kinds: list[str]
    caches: dict[str, ReferenceCache]
    flags: list[tuple[RowState, CodeFlag]] = dataclasses.field(default_factory=list)
    # Kinds the system would not list at the last fetch → the note saying why.
    skipped: dict[str, dict] = dataclasses.field(default_factory=dict)
    checked_codes: int = 0

    @property
    def refreshed_at(self) -> dt.datetime | None:
        times = [c.refreshed_at for c in self.caches.values()]
        return max(times) if times else None

    @property
    def complete(self) -> bool:
        return all(kind in self.caches for kind in self.kinds)


# What a code of each reference kind is, for "6899 is not an account in Xledger."
CODE_WHAT = {
    "account": lambda: _("an account"),
    "tax_code": lambda: _("a tax code"),
    "project": lambda: _("a project"),
    "dimension": lambda: _("a dimension value"),
}


def reference_kinds(itype: IntegrationType) -> list[str]:
    """Reference kinds the type's target fields name, in order, that the system can list."""
    allowed = itype.extra.get("reference_kinds")
    kinds: list[str] = []
    for tf in itype.target_fields:
        kind = tf.reference
        if kind is None or kind in kinds:
            continue
        if isinstance(allowed, tuple | list) and kind not in allowed:
            continue
        kinds.append(kind)
    return kinds


def cached_references(integration: Integration) -> dict[str, ReferenceCache]:
    """Kinds whose codes were fetched (a list the system would not give is not among them)."""
    return {
        c.kind: c
        for c in ReferenceCache.select().where(
            (ReferenceCache.integration == integration) & ReferenceCache.skipped.is_null()
        )
    }


def all_references(integration: Integration) -> tuple[dict[str, ReferenceCache], dict[str, dict]]:
    """`cached_references` and `skipped_references` in one query (the editor's page)."""
    cached, skipped = {}, {}
    for c in ReferenceCache.select().where(ReferenceCache.integration == integration):
        if c.skipped is None:
            cached[c.kind] = c
        else:
            skipped[c.kind] = c.skipped
    return cached, skipped


def skipped_references(integration: Integration) -> dict[str, dict]:
    """Kinds the system would not list at the last fetch → the note saying why."""
    return {
        c.kind: c.skipped
        for c in ReferenceCache.select().where(
            (ReferenceCache.integration == integration) & ReferenceCache.skipped.is_null(False)
        )
    }


def code_flags(
    itype: IntegrationType,
    rows: Iterable[MappingRow | None],
    caches: Mapping[str, ReferenceCache],
) -> list[CodeFlag]:
    """Typed codes the cached reference data does not have, with the closest known codes."""
    flags = []
    charts: dict[str, _Chart] = {}
    for target, kind, code in resolver.used_codes(itype, [r for r in rows if r is not None]):
        cache = caches.get(kind)
        if cache is None:
            continue
        chart = charts.get(kind) or charts.setdefault(kind, _Chart(cache.items))
        if code not in chart.codes:
            flags.append(CodeFlag(target, kind, code, chart.closest(code)))
    return flags


class _Chart:
    """One kind of fetched codes, read once per request.

    A flagged code shows on every view of the editor until it is fixed, and finding the
    closest codes compares it with every code of the chart: that answer is kept per chart
    contents and code (`_CLOSEST`)."""

    def __init__(self, items: list | None) -> None:
        self.order = [str(item[0]) for item in items or [] if item]
        self.codes = frozenset(self.order)
        self._digest: bytes | None = None

    def closest(self, code: str) -> tuple[str, ...]:
        if self._digest is None:
            text = "\n".join(self.order)
            self._digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        key = (self._digest, code)
        closest = _CLOSEST.get(key)
        if closest is None:
            closest = tuple(resolver.closest_codes(code, self.order))
            _CLOSEST.put(key, closest)
        return closest


_CLOSEST: Kept[tuple[str, ...]] = Kept(1024)


def reference_state(
    integration: Integration,
    itype: IntegrationType,
    rows: list[RowState] | None = None,
    references: tuple[dict[str, ReferenceCache], dict[str, dict]] | None = None,
) -> ReferenceState:
    """`references`: what `all_references` read already for the same page."""
    caches, skipped = all_references(integration) if references is None else references
    state = ReferenceState(reference_kinds(itype), caches, skipped=skipped)
    rows = editor_rows(integration, itype, caches=caches) if rows is None else rows
    stored = [r.row for r in rows if r.row is not None]
    state.checked_codes = sum(
        1 for _target, kind, _code in resolver.used_codes(itype, stored) if kind in caches
    )
    state.flags = [(r, flag) for r in rows for flag in r.flags]
    return state


def refresh_references(integration: Integration) -> dict[str, int]:
    """Fetch every reference kind the type uses and replace the cache; kind → count.

    Raises NotConnected without saved credentials, `VaultError` when they cannot be read and
    an `AdapterError` when the system refuses; the cache is then left as it was.
    """
    from webapp.vault import get_vault

    itype = get_type(integration.type_key)
    kinds = reference_kinds(itype)
    if not kinds:
        return {}
    # A draft's pending credentials serve too: the wizard's defaults are picked from them.
    version = integration.active_credential_version or integration.pending_credential_version
    if version is None:
        raise NotConnected(integration.id)
    credentials = get_vault().open_set(integration, version)
    # A coordinator waits for this page: fewer, shorter retries than a background export.
    settings = dataclasses.replace(
        adapter_settings(),
        max_attempts=min(adapter_settings().max_attempts, 2),
        max_retry_seconds=min(adapter_settings().max_retry_seconds, 5.0),
        read_timeout=min(adapter_settings().read_timeout, 15.0),
    )
    adapter = get_adapter(integration.type_key)(credentials, settings)
    fetched = {kind: adapter.reference_data(cast(ReferenceKind, kind)) for kind in kinds}
    # A list the system would not give is remembered as skipped, never as "no codes".
    skipped = {note.key: note.as_dict() for note in adapter.notes if note.key in fetched}
    now = utcnow()
    with db.atomic():
        for kind, items in fetched.items():
            values = [[item.code, item.description] for item in items]
            note = skipped.get(kind)
            updated = (
                ReferenceCache.update(items=values, refreshed_at=now, skipped=note)
                .where((ReferenceCache.integration == integration) & (ReferenceCache.kind == kind))
                .execute()
            )
            if not updated:
                ReferenceCache.create(
                    integration=integration, kind=kind, items=values, refreshed_at=now, skipped=note
                )
    return {kind: len(items) for kind, items in fetched.items() if kind not in skipped}


def remember_unreachable(integration: Integration, itype: IntegrationType, error) -> None:
    """Kinds never fetched are marked as not checked, with the system's refusal as the
    reason (a later fetch that works replaces the marks)."""
    note = {
        "key": "unreachable",
        "nb": error.message.nb,
        "en": error.message.en,
        "code": error.provider_code,
        "details": dict(error.details),
    }
    fetched = cached_references(integration)
    with db.atomic():
        for kind in reference_kinds(itype):
            if kind in fetched:
                continue
            updated = (
                ReferenceCache.update(items=[], skipped=note, refreshed_at=utcnow())
                .where((ReferenceCache.integration == integration) & (ReferenceCache.kind == kind))
                .execute()
            )
            if not updated:
                ReferenceCache.create(integration=integration, kind=kind, items=[], skipped=note)


def mapping_count(integration: Integration) -> int:
    """How many target fields the integration's mapping fills."""
    return FieldMapping.select().where(FieldMapping.integration == integration.id).count()
