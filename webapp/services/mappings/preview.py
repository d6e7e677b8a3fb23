"""The preview: the organisation's latest approved claims resolved with the stored mapping,
one claim on screen at a time, as the voucher an accountant reads and, when asked for, as
the exact requests the adapter would send.

A claim's result depends only on the mapping's rows, the claim, the fetched codes and the
organisation's time zone, so it is kept in this process under a key made of exactly those
(`_key`): the rows' contents, each fetched kind's `refreshed_at`, the claim's `updated_at`.
An edited mapping, a new fetch or a changed claim makes a new key, so the next request
resolves again and never shows an old result. The key starts with the organisation and the
integration, and a result holds the voucher and its problems, never a credential: the
requests to send are built on demand from the non-secret settings only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _

from adapters import get_adapter
from adapters.types import IntegrationType, Text, Voucher
from webapp import mapping as resolver
from webapp.mapping.table import VoucherTable, voucher_table
from webapp.models import (
    ExpenseClaim,
    ExpenseClaimLine,
    Integration,
    ReferenceCache,
)
from webapp.services.exports.outbox import CLAIM_COLUMNS
from webapp.services.mappings.kept import Kept
from webapp.services.mappings.rows import (
    CODE_WHAT,
    PREVIEW_CHOICES,
    cached_references,
    stored_rows,
    target_field,
)
from webapp.services.mappings.times import _t
from webapp.services.providers import adapter_settings

# ---------------------------------------------------------------------------------------------
# Preview


@dataclass
class ClaimPreview:
    claim: ExpenseClaim
    voucher: Voucher | None
    errors: list[resolver.ClaimError]
    # The exact requests, as JSON: only when asked for (the disclosure was opened).
    payload: str
    # The voucher as an accountant reads it (issue 16); None when it cannot be built.
    table: VoucherTable | None = None


@dataclass
class Preview:
    """The sample claims, the one on screen, and how many problems each sample claim has."""

    claims: list[ExpenseClaim]
    shown: ClaimPreview | None = None
    problems: dict[int, int] = field(default_factory=dict)

    @property
    def position(self) -> int:
        """The shown claim's place among the sample claims, from 1."""
        if self.shown is None:
            return 0
        return next(n for n, c in enumerate(self.claims, 1) if c.id == self.shown.claim.id)

    @property
    def previous(self) -> ExpenseClaim | None:
        return self.claims[self.position - 2] if self.position > 1 else None

    @property
    def next(self) -> ExpenseClaim | None:
        return self.claims[self.position] if 0 < self.position < len(self.claims) else None

    @property
    def ready(self) -> int:
        """How many of the sample claims would be sent."""
        return sum(1 for c in self.claims if not self.problems.get(c.id))


@dataclass(frozen=True)
class _Result:
    voucher: Voucher | None
    errors: list[resolver.ClaimError]
    table: VoucherTable | None


# What the preview shows of a claim and resolves it from (`ClaimData`), and its change time.
_CLAIM_COLUMNS = (*CLAIM_COLUMNS, ExpenseClaim.updated_at)


def sample_claims(integration: Integration, limit: int = PREVIEW_CHOICES) -> list[ExpenseClaim]:
    """The organisation's latest approved claims, newest first, without their lines (one
    query, on the index of migration 0007)."""
    return list(
        ExpenseClaim.select(*_CLAIM_COLUMNS)
        .where(
            (ExpenseClaim.organization == integration.organization_id)
            & (ExpenseClaim.status == "approved")
        )
        .order_by(ExpenseClaim.approved_at.desc(nulls="LAST"), ExpenseClaim.id.desc())
        .limit(limit)
    )


def preview(
    integration: Integration,
    itype: IntegrationType,
    claim_id: int | None = None,
    *,
    rows: Mapping[str, resolver.MappingRow] | None = None,
    caches: Mapping[str, ReferenceCache] | None = None,
    payload: bool = False,
) -> Preview:
    """The sample claims with `claim_id` on screen (the newest when it is not among them).

    Every sample claim is resolved, so the reader learns which ones would not be sent;
    results come from the process's cache while their inputs are unchanged. `rows` and
    `caches`: the stored rows and fetched codes the page read already. `payload`: also the
    exact requests for the claim on screen."""
    claims = sample_claims(integration)
    if not claims:
        return Preview([])
    rows = stored_rows(integration) if rows is None else rows
    versions = _versions(caches) if caches is not None else _stored_versions(integration)
    results = {c.id: _RESULTS.get(_key(integration, rows, versions, c)) for c in claims}
    missing = [c for c in claims if results[c.id] is None]
    if missing:
        if caches is None:
            caches = cached_references(integration)
            versions = _versions(caches)
        for claim, result in zip(
            missing, _resolve(integration, itype, rows, caches, missing), strict=True
        ):
            _RESULTS.put(_key(integration, rows, versions, claim), result)
            results[claim.id] = result
    done = {key: value for key, value in results.items() if value is not None}
    claim = next((c for c in claims if c.id == claim_id), claims[0])
    result = done[claim.id]
    ok = result.voucher is not None and not result.errors
    text = ""
    if payload and ok and result.voucher is not None:
        text = payload_text(_preview_adapter(integration, itype), result.voucher)
    shown = ClaimPreview(
        claim, result.voucher if ok else None, result.errors, text, result.table if ok else None
    )
    return Preview(claims, shown, {c.id: len(done[c.id].errors) for c in claims})


def _resolve(
    integration: Integration,
    itype: IntegrationType,
    rows: Mapping[str, resolver.MappingRow],
    caches: Mapping[str, ReferenceCache],
    claims: list[ExpenseClaim],
) -> list[_Result]:
    """Resolve the claims (their lines in one query) and check their codes."""
    lines: dict[int, list[ExpenseClaimLine]] = defaultdict(list)
    for line in ExpenseClaimLine.select().where(ExpenseClaimLine.claim.in_([c.id for c in claims])):
        lines[line.claim_id].append(line)
    data = [resolver.ClaimData.from_model(c, lines[c.id]) for c in claims]
    vouchers, errors = resolver.resolve_claims(
        itype,
        resolver.plan_for(itype, list(rows.values())),
        data,
        integration_id=integration.id,
        tz=integration.organization.time_zone,
    )
    by_claim = {v.claim_id: v for v in vouchers}
    known = {
        kind: {str(item[0]) for item in cache.items or [] if item} for kind, cache in caches.items()
    }
    accounts: list = (caches["account"].items or []) if "account" in caches else []
    names = {str(item[0]): str(item[1]) for item in accounts if len(item) > 1 and item[1]}
    out = []
    for claim in claims:
        voucher = by_claim.get(claim.id)
        mine = [e for e in errors if e.claim_id == claim.id]
        if voucher is not None:
            mine += unknown_codes(itype, claim, voucher, known)
        table = voucher_table(itype, voucher, names) if voucher is not None and not mine else None
        out.append(_Result(voucher, mine, table))
    return out


def unknown_codes(
    itype: IntegrationType,
    claim: ExpenseClaim,
    voucher: Voucher,
    known: dict[str, set[str]],
) -> list[resolver.ClaimError]:
    """Codes the voucher would send that the system's fetched codes do not have: the
    system would refuse the claim, so the preview says it is not ready, and why."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(voucher.lines, 1):
        for name, value in line.items():
            tf = target_field(itype, name)
            if tf is None or tf.reference not in known or value in (None, ""):
                continue
            code = str(value)
            if code in known[str(tf.reference)] or (name, code) in seen:
                continue
            seen.add((name, code))
            what = CODE_WHAT.get(str(tf.reference), CODE_WHAT["dimension"])

            def render(tf=tf, code=code, what=what, number=number) -> str:
                return _(
                    "Line %(line)d, %(field)s: %(code)s is not %(what)s in %(system)s, so "
                    "%(system)s would refuse this claim. Change the mapping, or fetch the codes "
                    "again if the code was created just now.",
                    line=number,
                    field=_t(tf.label),
                    code=code,
                    what=what(),
                    system=_t(itype.name),
                )

            message = {}
            for locale in ("nb", "en"):
                with force_locale(locale):
                    message[locale] = render()
            problems.append(
                resolver.ClaimError(
                    claim.id, claim.claim_number, name, Text(message["nb"], message["en"]), number
                )
            )
    return problems


def payload_text(adapter, voucher: Voucher) -> str:
    """The exact requests the adapter would send for this voucher, as JSON."""
    return json.dumps(adapter.payload([voucher]), ensure_ascii=False, indent=2, default=_json_value)


def _preview_adapter(integration: Integration, itype: IntegrationType):
    """An adapter holding only the non-secret settings: enough to build payloads."""
    from webapp.vault import VaultError, get_vault

    values: dict[str, str] = {}
    version = integration.active_credential_version or integration.pending_credential_version
    for field_ in itype.credential_fields:
        if field_.secret or version is None:
            continue
        try:
            values[field_.name] = get_vault().open_field(integration, version, field_.name)
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
# Results kept while their inputs are unchanged


# A few sample claims of a few hundred integrations per worker.
_RESULTS: Kept[_Result] = Kept(2048)


def _key(
    integration: Integration,
    rows: Mapping[str, resolver.MappingRow],
    versions: tuple,
    claim: ExpenseClaim,
) -> tuple:
    """Everything a claim's result depends on (see the module's docstring)."""
    return (
        integration.organization_id,
        integration.id,
        integration.type_key,
        integration.organization.time_zone,
        _rows_key(rows),
        versions,
        claim.id,
        claim.updated_at,
    )


def _rows_key(rows: Mapping[str, resolver.MappingRow]) -> str:
    text = "\n".join(sorted(row.key() for row in rows.values()))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _versions(caches: Mapping[str, ReferenceCache]) -> tuple:
    """Which fetch of each kind of code: a fetch moves `refreshed_at` with the codes."""
    return tuple(sorted((kind, c.id, c.refreshed_at) for kind, c in caches.items()))


def _stored_versions(integration: Integration) -> tuple:
    """`_versions` without reading the codes themselves."""
    query = ReferenceCache.select(
        ReferenceCache.id, ReferenceCache.kind, ReferenceCache.refreshed_at
    ).where((ReferenceCache.integration == integration) & ReferenceCache.skipped.is_null())
    return _versions({c.kind: c for c in query})
