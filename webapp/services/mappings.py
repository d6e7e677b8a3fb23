"""Field mapping editor: load, check and save one row at a time; preview; reference check.

The rules of a mapping live in `webapp.mapping` (pure); this module adds what needs the
database, the vault or an adapter:

- rows in the editor's order (required target fields first) with their stored problems;
- the edit form as a `Draft`, parsed and checked field by field, then saved through
  `integrations.change` so that every save bumps `integration.version` under the optimistic
  lock and writes an audit event naming the target field;
- lookup tables checked against the keys that approved, not yet exported claims really use;
- a preview that resolves the latest approved claims with the stored mapping;
- the accounting system's codes, cached per integration in `ReferenceCache`, and the codes
  typed into the mapping that the system does not have, with the closest ones it does.

`install_defaults` is what the setup wizard calls to pre-fill a new integration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import ngettext
from peewee import fn

from adapters import get_adapter, get_type
from adapters.types import IntegrationType, TargetField, Text, Voucher
from webapp import mapping as resolver
from webapp.db import db, utcnow
from webapp.i18n import current_locale, format_local
from webapp.mapping import CATALOGUE, MappingRow
from webapp.models import (
    ExpenseClaim,
    ExpenseClaimLine,
    ExportItem,
    FieldMapping,
    Integration,
    ReferenceCache,
    User,
)
from webapp.services import integrations
from webapp.services.integrations import StaleVersion
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
PREVIEW_DEFAULT = 5
PREVIEW_CHOICES = 10
MAX_ENTRIES = 500
# Approved claims whose lookup keys are checked when a lookup table has no default.
KEY_SAMPLE = 1000
__all__ = [
    "StaleVersion",
    "install_defaults",
    "editor_rows",
    "draft_for",
    "parse_form",
    "check_draft",
    "save_draft",
    "save_row",
    "add_lookup_entry",
    "change_lookup_entry",
    "remove_lookup_entry",
    "preview",
    "sample_claims",
    "reference_state",
    "refresh_references",
]


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
    missing = resolver.validate_mapping(itype, list(rows.values()))
    states = []
    for tf in ordered_targets(itype):
        row = rows.get(tf.name)
        error = resolver.validate_row(itype, row) if row else missing.get(tf.name)
        flags = code_flags(itype, [row], caches) if row else []
        states.append(RowState(tf.name, tf, row, error, flags))
    known = {tf.name for tf in itype.target_fields}
    for target, row in rows.items():
        if target not in known:
            states.append(RowState(target, None, row, resolver.validate_row(itype, row)))
    return states


def target_field(itype: IntegrationType, target: str) -> TargetField | None:
    try:
        return itype.target_field(target)
    except KeyError:
        return None


# ---------------------------------------------------------------------------------------------
# The edit form


@dataclass
class Draft:
    """The edit form of one row: what was typed, and what is wrong with it."""

    target: str
    kind: str
    version: int
    field: str = ""
    constant: str = ""
    template: str = ""
    lookup_field: str = ""
    entries: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    lookup_default: str = ""
    transforms: dict[str, str] = dataclasses.field(default_factory=dict)
    new_key: str = ""
    new_value: str = ""
    # Input name → message; `row_error` for what belongs to the row as a whole.
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    row_error: str | None = None
    conflict: str | None = None

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.row_error or self.conflict)

    def row(self) -> MappingRow | None:
        """The row this draft describes (None for "no source")."""
        if self.kind == NONE:
            return None
        value = {
            "field": self.field,
            "constant": self.constant,
            "template": self.template,
            "lookup": self.lookup_field,
        }.get(self.kind, "")
        entries = self.entries if self.kind == "lookup" else []
        if self.kind == "lookup" and (self.new_key.strip() or self.new_value.strip()):
            entries = [*entries, (self.new_key.strip(), self.new_value.strip())]
        return MappingRow(
            target=self.target,
            kind=self.kind,
            value=value.strip() if self.kind != "template" else value,
            lookup=tuple(entries),
            lookup_default=(self.lookup_default.strip() or None) if self.kind == "lookup" else None,
            transforms={k: v for k, v in self.transforms.items() if v.strip()},
        )


def draft_for(
    integration: Integration, itype: IntegrationType, target: str, kind: str | None = None
) -> Draft:
    """The edit form filled from the stored row; `kind` switches the source type."""
    row = stored_rows(integration).get(target)
    tf = target_field(itype, target)
    draft = Draft(target, row.kind if row else NONE, integration.version)
    if row is not None:
        draft.transforms = dict(row.transforms)
        if row.kind == "lookup":
            draft.lookup_field = row.value
            draft.entries = [(str(k), str(v)) for k, v in row.lookup]
            draft.lookup_default = row.lookup_default or ""
        elif row.kind in ("field", "constant", "template"):
            setattr(draft, row.kind, row.value)
    if kind in KINDS and kind != draft.kind:
        draft.kind = kind
        if kind == "lookup" and not draft.lookup_field:
            draft.lookup_field = "line.expense_type" if _on_lines(tf) else "claim.department"
        if kind == "field" and not draft.field:
            draft.field = next((name for name, _label in field_choices(tf)), "")
    allowed = transforms_for(tf, draft.kind)
    draft.transforms = {k: v for k, v in draft.transforms.items() if k in allowed}
    return draft


def _on_lines(tf: TargetField | None) -> bool:
    return tf is None or tf.role == "line"


def field_choices(tf: TargetField | None) -> list[tuple[str, Text]]:
    """App fields that can fill the target: line fields only on expense lines."""
    return [
        (name, label)
        for name, (_dtype, label) in CATALOGUE.items()
        if _on_lines(tf) or name.startswith("claim.")
    ]


def transforms_for(tf: TargetField | None, kind: str) -> tuple[str, ...]:
    names = TRANSFORMS_FOR.get(tf.data_type if tf else "text", ())
    if kind == "constant":
        # A constant is never empty and is typed as the target wants it already.
        names = tuple(n for n in names if n in ("truncate",))
    if kind != "field":
        names = tuple(n for n in names if n != "date_format")
    if kind == "lookup":
        # The table's own "any other value" is the default a coordinator looks for.
        names = tuple(n for n in names if n != "default")
    return names if kind != NONE else ()


def parse_form(itype: IntegrationType, target: str, form: Mapping[str, str]) -> Draft:
    """The edit form as submitted (a werkzeug MultiDict or any mapping of strings)."""
    tf = target_field(itype, target)
    kind = form.get("kind", "")
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    draft = Draft(target, kind, version)
    if kind not in KINDS:
        draft.kind = NONE
        draft.errors["kind"] = _("Choose where the value comes from.")
    draft.field = form.get("field", "")
    draft.constant = form.get("constant", "")
    draft.template = form.get("template", "")
    draft.lookup_field = form.get("lookup_field", "")
    draft.lookup_default = form.get("lookup_default", "")
    draft.new_key = form.get("new_key", "")
    draft.new_value = form.get("new_value", "")
    try:
        count = min(int(form.get("entry_count", "0")), MAX_ENTRIES)
    except ValueError:
        count = 0
    for i in range(max(count, 0)):
        key = form.get(f"entry-{i}-key", "").strip()
        value = form.get(f"entry-{i}-value", "").strip()
        if form.get(f"entry-{i}-remove") or not (key or value):
            continue
        draft.entries.append((key, value))
    for name in transforms_for(tf, draft.kind):
        option = form.get(f"t_{name}", "").strip()
        if option:
            draft.transforms[name] = option
    return draft


def check_draft(
    integration: Integration, itype: IntegrationType, draft: Draft
) -> MappingRow | None:
    """Fill `draft.errors`/`row_error`; the row to save (None = no source) if it is valid."""
    tf = target_field(itype, draft.target)
    if tf is None:
        draft.row_error = _("This field no longer exists in %(system)s.", system=_t(itype.name))
        return None
    if draft.errors:
        return None
    if draft.kind == NONE:
        if tf.required:
            draft.errors["kind"] = _(
                "%(label)s is required by %(system)s, so it needs a source. Choose a field, a "
                "constant, a lookup table or a template.",
                label=_t(tf.label),
                system=_t(itype.name),
            )
        return None
    if draft.kind == "lookup":
        _check_entries(itype, draft)
    row = draft.row()
    if draft.errors:
        return row
    problem = resolver.validate_row(itype, row)
    if problem is not None:
        draft.errors[_input_for(draft)] = _t(problem)
        return row
    if draft.kind == "lookup" and row.lookup_default is None:
        unmatched = unmatched_keys(integration, row)
        if unmatched:
            draft.errors["lookup_default"] = _unmatched_message(row, unmatched)
    return row


def _input_for(draft: Draft) -> str:
    """The input a row-level problem is shown at."""
    return {"field": "field", "constant": "constant", "template": "template"}.get(
        draft.kind, "lookup_field"
    )


def _check_entries(itype: IntegrationType, draft: Draft) -> None:
    """Each lookup entry on its own: key filled in, not twice, value valid for the target."""
    seen: dict[str, int] = {}
    pairs = list(draft.entries)
    new = (draft.new_key.strip(), draft.new_value.strip())
    if any(new):
        pairs.append(new)
    for i, (key, value) in enumerate(pairs):
        name = "new" if i == len(draft.entries) else f"entry-{i}"
        if not key:
            draft.errors[f"{name}-key"] = _(
                "Fill in the key (for example an expense type such as mileage), or leave both "
                "boxes empty."
            )
        elif key.casefold() in seen:
            draft.errors[f"{name}-key"] = (
                _(
                    "“%(key)s” is already in the table. Change its value there instead.",
                    key=key,
                )
                if name == "new"
                else _("“%(key)s” is in the table twice. Keep one of them.", key=key)
            )
        else:
            seen[key.casefold()] = i
        if not value:
            draft.errors[f"{name}-value"] = _("Fill in the value for “%(key)s”.", key=key or "…")
            continue
        problem = resolver.validate_row(itype, MappingRow(draft.target, "constant", value))
        if problem is not None:
            draft.errors[f"{name}-value"] = _t(problem)
    if draft.lookup_default.strip():
        default_row = MappingRow(draft.target, "constant", draft.lookup_default.strip())
        problem = resolver.validate_row(itype, default_row)
        if problem is not None:
            draft.errors["lookup_default"] = _t(problem)


def unmatched_keys(integration: Integration, row: MappingRow) -> list[str]:
    """Keys of approved, not yet exported claims that the lookup table does not have."""
    name = row.value
    if name not in CATALOGUE or CATALOGUE[name][0] not in ("text", "code"):
        return []
    keys = {str(k).strip().casefold() for k, _v in row.lookup}
    return [value for value in key_values(integration, name) if value.casefold() not in keys]


def key_values(integration: Integration, name: str) -> list[str]:
    """The distinct values of an app field on approved claims still waiting for export."""
    scope, attr = name.split(".", 1)
    claims = (
        ExpenseClaim.select(ExpenseClaim.id)
        .where(
            (ExpenseClaim.organization == integration.organization_id)
            & (ExpenseClaim.status == "approved")
            & ~fn.EXISTS(_exported(integration))
        )
        .order_by(ExpenseClaim.approved_at.desc(nulls="LAST"))
        .limit(KEY_SAMPLE)
    )
    if scope == "claim":
        column = getattr(ExpenseClaim, attr)
        query = ExpenseClaim.select(column.alias("v")).where(ExpenseClaim.id.in_(claims))
    else:
        column = getattr(ExpenseClaimLine, attr)
        if name in ("line.department", "line.project"):
            # As the resolver reads them: the line's own value, else the claim's.
            column = fn.COALESCE(fn.NULLIF(column, ""), getattr(ExpenseClaim, attr))
        query = (
            ExpenseClaimLine.select(column.alias("v"))
            .join(ExpenseClaim)
            .where(ExpenseClaimLine.claim.in_(claims))
        )
    values = {str(v).strip() for (v,) in query.distinct().tuples() if v and str(v).strip()}
    return sorted(values, key=str.casefold)


def _exported(integration: Integration):
    """Correlated subquery: this claim's export to this integration went through."""
    return ExportItem.select(ExportItem.id).where(
        (ExportItem.integration == integration)
        & (ExportItem.claim == ExpenseClaim.id)
        & (ExportItem.status == "exported")
    )


def _unmatched_message(row: MappingRow, unmatched: list[str]) -> str:
    label = _t(CATALOGUE[row.value][1])
    shown = ", ".join(f"“{key}”" for key in unmatched[:5])
    if len(unmatched) > 5:
        shown += " …"
    return ngettext(
        "%(keys)s (%(field)s on an approved claim waiting for export) is not in the lookup "
        "table, and the table has no default. Add it to the table, or give the table a default.",
        "%(keys)s (%(field)s on approved claims waiting for export) are not in the lookup table, "
        "and the table has no default. Add them to the table, or give the table a default.",
        len(unmatched),
        keys=shown,
        field=label,
    )


# ---------------------------------------------------------------------------------------------
# Saving


def save_draft(
    integration: Integration, itype: IntegrationType, draft: Draft, actor: User | None
) -> Integration | None:
    """Check and save the edit form; the fresh integration, or None when the draft is invalid.

    A stale `draft.version` sets `draft.conflict` ("changed by NAME at TIME") and saves nothing.
    """
    row = check_draft(integration, itype, draft)
    if draft.invalid:
        return None
    try:
        return save_row(integration, draft.target, row, actor=actor, expected_version=draft.version)
    except StaleVersion as stale:
        draft.conflict = conflict_message(stale, actor, integration.organization.time_zone)
        return None


def save_row(
    integration: Integration,
    target: str,
    row: MappingRow | None,
    *,
    actor: User | None,
    expected_version: int,
    action: str | None = None,
) -> Integration:
    """Store one row (None removes it) and bump the version; StaleVersion if it moved on.

    The caller has validated the row. One audit event names the target field.
    """
    itype = get_type(integration.type_key)
    old = stored_rows(integration).get(target)
    action = action or _action(old, row)
    with db.atomic():
        fresh = integrations.change(
            integration,
            {},
            actor=actor,
            action=action,
            expected_version=expected_version,
            audit_fields=[target],
        )
        if row is None:
            FieldMapping.delete().where(
                (FieldMapping.integration == integration) & (FieldMapping.target == target)
            ).execute()
        else:
            values = {
                **row.model_values(),
                "position": _position(itype, target),
                "updated_at": utcnow(),
                "updated_by": actor,
            }
            updated = (
                FieldMapping.update(**values)
                .where((FieldMapping.integration == integration) & (FieldMapping.target == target))
                .execute()
            )
            if not updated:
                FieldMapping.create(integration=integration, **values)
    return fresh


def _position(itype: IntegrationType, target: str) -> int:
    names = [f.name for f in itype.target_fields]
    return names.index(target) if target in names else len(names)


def _action(old: MappingRow | None, new: MappingRow | None) -> str:
    """The audit action: what kind of change this is."""
    if new is None:
        return "mapping.cleared"
    if old is None or old.kind != "lookup" or new.kind != "lookup":
        return "mapping.saved"
    if dataclasses.replace(old, lookup=()) != dataclasses.replace(new, lookup=()):
        return "mapping.saved"
    before, after = dict(old.lookup), dict(new.lookup)
    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    if added and not removed and not changed:
        return "mapping.lookup_entry_added"
    if removed and not added and not changed:
        return "mapping.lookup_entry_removed"
    if changed and not added and not removed:
        return "mapping.lookup_entry_changed"
    return "mapping.lookup_changed"


def conflict_message(stale: StaleVersion, actor: User | None, time_zone: str) -> str:
    """ "Changed by NAME at TIME – reload": what a second coordinator sees on save."""
    when = clock_time(stale.changed_at, time_zone) if stale.changed_at else "?"
    by_id = stale.integration.updated_by_id
    if actor is not None and by_id == actor.id:
        return _(
            "You changed this integration elsewhere (another row or tab) at %(time)s. Reload "
            "the page, then make this change again. Nothing was saved.",
            time=when,
        )
    return _(
        "Changed by %(name)s at %(time)s – reload the page to see their change, then make yours "
        "again. Nothing was saved.",
        name=stale.changed_by or _("Ledgerlink (automatic)"),
        time=when,
    )


def _edit_lookup(
    integration: Integration,
    target: str,
    change: str,
    key: str,
    value: str,
    *,
    actor: User | None,
    expected_version: int,
) -> Integration:
    itype = get_type(integration.type_key)
    row = stored_rows(integration).get(target)
    if row is None or row.kind != "lookup":
        raise InvalidMapping(_("This field does not use a lookup table."))
    entries = [(str(k), str(v)) for k, v in row.lookup]
    index = next((i for i, (k, _v) in enumerate(entries) if k.casefold() == key.casefold()), None)
    if change == "add":
        if index is not None:
            raise InvalidMapping(_("“%(key)s” is already in the table.", key=key))
        entries.append((key.strip(), value.strip()))
    elif index is None:
        raise InvalidMapping(_("“%(key)s” is not in the table.", key=key))
    elif change == "change":
        entries[index] = (entries[index][0], value.strip())
    else:
        del entries[index]
    new = dataclasses.replace(row, lookup=tuple(entries))
    draft = Draft(target, "lookup", expected_version, lookup_field=row.value, entries=entries)
    draft.lookup_default = row.lookup_default or ""
    draft.transforms = dict(row.transforms)
    check_draft(integration, itype, draft)
    if draft.invalid:
        raise InvalidMapping(next(iter(draft.errors.values()), draft.row_error or ""))
    return save_row(
        integration,
        target,
        new,
        actor=actor,
        expected_version=expected_version,
        action=f"mapping.lookup_entry_{_PAST[change]}",
    )


_PAST = {"add": "added", "change": "changed", "remove": "removed"}


def add_lookup_entry(integration, target, key, value, *, actor, expected_version) -> Integration:
    """Add `key → value` to the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "add", key, value, actor=actor, expected_version=expected_version
    )


def change_lookup_entry(integration, target, key, value, *, actor, expected_version):
    """Give `key` a new value in the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "change", key, value, actor=actor, expected_version=expected_version
    )


def remove_lookup_entry(integration, target, key, *, actor, expected_version) -> Integration:
    """Take `key` out of the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "remove", key, "", actor=actor, expected_version=expected_version
    )


def install_defaults(integration: Integration, actor: User | None) -> int:
    """Pre-fill a new integration with its type's default mapping; how many rows were added.

    Idempotent: an integration that has any mapping row already is left alone, so a
    coordinator's own choices are never overwritten. Does not change `integration.version`.
    The rows are written by `integrations.apply_default_mapping` (one audit event), so the
    wizard and the editor fill in exactly the same thing.
    """
    return integrations.apply_default_mapping(integration, actor)


# ---------------------------------------------------------------------------------------------
# Preview


@dataclass
class ClaimPreview:
    claim: ExpenseClaim
    voucher: Voucher | None
    errors: list[resolver.ClaimError]
    payload: str


def sample_claims(integration: Integration, limit: int = PREVIEW_CHOICES) -> list[ExpenseClaim]:
    """The organisation's latest approved claims, newest first."""
    return list(
        ExpenseClaim.select()
        .where(
            (ExpenseClaim.organization == integration.organization_id)
            & (ExpenseClaim.status == "approved")
        )
        .order_by(ExpenseClaim.approved_at.desc(nulls="LAST"), ExpenseClaim.id.desc())
        .limit(limit)
    )


def preview(
    integration: Integration, itype: IntegrationType, claims: Iterable[ExpenseClaim]
) -> list[ClaimPreview]:
    """Resolve the claims with the stored mapping: each claim's payload or its errors."""
    claims = list(claims)
    rows = list(stored_rows(integration).values())
    data = [resolver.ClaimData.from_model(claim) for claim in claims]
    vouchers, errors = resolver.resolve_claims(
        itype,
        rows,
        data,
        integration_id=integration.id,
        tz=integration.organization.time_zone,
    )
    by_claim = {v.claim_id: v for v in vouchers}
    adapter = _preview_adapter(integration, itype)
    out = []
    for claim in claims:
        voucher = by_claim.get(claim.id)
        mine = [e for e in errors if e.claim_id == claim.id]
        payload = payload_text(adapter, voucher) if voucher is not None else ""
        out.append(ClaimPreview(claim, voucher, mine, payload))
    return out


def payload_text(adapter, voucher: Voucher) -> str:
    """The exact requests the adapter would send for this voucher, as JSON."""
    return json.dumps(adapter.payload([voucher]), ensure_ascii=False, indent=2, default=_json_value)


def _preview_adapter(integration: Integration, itype: IntegrationType):
    """An adapter holding only the non-secret settings: enough to build payloads."""
    from webapp.vault import VaultError, get_vault

    values: dict[str, str] = {}
    version = integration.active_credential_version or integration.pending_credential_version
    for field in itype.credential_fields:
        if field.secret or version is None:
            continue
        try:
            values[field.name] = get_vault().open_field(integration, version, field.name)
        except VaultError:
            continue  # a missing optional field, or one that must be entered again
    return get_adapter(itype.key)(values, adapter_settings())


def _json_value(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------------------------
# Reference data


@dataclass
class ReferenceState:
    """What the editor knows about the accounting system's codes."""

    kinds: list[str]
    caches: dict[str, ReferenceCache]
    flags: list[tuple[RowState, CodeFlag]] = dataclasses.field(default_factory=list)
    checked_codes: int = 0

    @property
    def refreshed_at(self) -> dt.datetime | None:
        times = [c.refreshed_at for c in self.caches.values()]
        return max(times) if times else None

    @property
    def complete(self) -> bool:
        return all(kind in self.caches for kind in self.kinds)


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
    return {
        c.kind: c for c in ReferenceCache.select().where(ReferenceCache.integration == integration)
    }


def code_flags(
    itype: IntegrationType,
    rows: Iterable[MappingRow | None],
    caches: Mapping[str, ReferenceCache],
) -> list[CodeFlag]:
    """Typed codes the cached reference data does not have, with the closest known codes."""
    flags = []
    for target, kind, code in resolver.used_codes(itype, [r for r in rows if r is not None]):
        cache = caches.get(kind)
        if cache is None:
            continue
        known = [str(item[0]) for item in cache.items or [] if item]
        if code not in known:
            closest = tuple(resolver.closest_codes(code, known))
            flags.append(CodeFlag(target, kind, code, closest))
    return flags


def reference_state(
    integration: Integration, itype: IntegrationType, rows: list[RowState] | None = None
) -> ReferenceState:
    caches = cached_references(integration)
    state = ReferenceState(reference_kinds(itype), caches)
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
    if integration.active_credential_version is None:
        raise NotConnected(integration.id)
    credentials = get_vault().open_set(integration, integration.active_credential_version)
    # A coordinator waits for this page: fewer, shorter retries than a background export.
    settings = dataclasses.replace(
        adapter_settings(),
        max_attempts=min(adapter_settings().max_attempts, 2),
        max_retry_seconds=min(adapter_settings().max_retry_seconds, 5.0),
        read_timeout=min(adapter_settings().read_timeout, 15.0),
    )
    adapter = get_adapter(integration.type_key)(credentials, settings)
    fetched = {kind: adapter.reference_data(kind) for kind in kinds}
    now = utcnow()
    with db.atomic():
        for kind, items in fetched.items():
            values = [[item.code, item.description] for item in items]
            updated = (
                ReferenceCache.update(items=values, refreshed_at=now)
                .where((ReferenceCache.integration == integration) & (ReferenceCache.kind == kind))
                .execute()
            )
            if not updated:
                ReferenceCache.create(
                    integration=integration, kind=kind, items=values, refreshed_at=now
                )
    return {kind: len(items) for kind, items in fetched.items()}


# ---------------------------------------------------------------------------------------------
# Small helpers


def local_time(value: dt.datetime, time_zone: str) -> str:
    """An instant as the organisation reads it, in the reader's language and its time zone."""
    return format_local(value, _zone(time_zone).key, current_locale(), "numeric")


def clock_time(value: dt.datetime, time_zone: str) -> str:
    """14:05 when it was today in the organisation's time zone, else with the date too."""
    zone = _zone(time_zone)
    local = value.astimezone(zone)
    if local.date() == dt.datetime.now(zone).date():
        return local.strftime("%H:%M")
    return format_local(value, zone.key, current_locale(), "numeric")


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("Europe/Oslo")


def _t(value: Text) -> str:
    from webapp.i18n import text

    return text(value)
