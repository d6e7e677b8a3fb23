"""The preview: the latest approved claims resolved with the stored mapping, as the exact
requests the adapter would send.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from peewee import prefetch

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
    payload: str
    # The voucher as an accountant reads it (issue 16); None when it cannot be built.
    table: VoucherTable | None = None


def sample_claims(integration: Integration, limit: int = PREVIEW_CHOICES) -> list[ExpenseClaim]:
    """The organisation's latest approved claims, newest first, with their lines (two
    queries whatever their number)."""
    claims = (
        ExpenseClaim.select()
        .where(
            (ExpenseClaim.organization == integration.organization_id)
            & (ExpenseClaim.status == "approved")
        )
        .order_by(ExpenseClaim.approved_at.desc(nulls="LAST"), ExpenseClaim.id.desc())
        .limit(limit)
    )
    return list(prefetch(claims, ExpenseClaimLine.select()))


def preview(
    integration: Integration,
    itype: IntegrationType,
    claims: Iterable[ExpenseClaim],
    rows: Mapping[str, resolver.MappingRow] | None = None,
    caches: Mapping[str, ReferenceCache] | None = None,
) -> list[ClaimPreview]:
    """Resolve the claims with the stored mapping: each claim's payload or its errors.

    `rows` and `caches`: the stored rows and fetched codes the page read already."""
    claims = list(claims)
    rows = stored_rows(integration) if rows is None else rows
    caches = cached_references(integration) if caches is None else caches
    data = [resolver.ClaimData.from_model(claim) for claim in claims]
    vouchers, errors = resolver.resolve_claims(
        itype,
        list(rows.values()),
        data,
        integration_id=integration.id,
        tz=integration.organization.time_zone,
    )
    by_claim = {v.claim_id: v for v in vouchers}
    adapter = _preview_adapter(integration, itype)
    caches = cached_references(integration)
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
        payload = payload_text(adapter, voucher) if voucher is not None and not mine else ""
        table = voucher_table(itype, voucher, names) if voucher is not None and not mine else None
        out.append(ClaimPreview(claim, voucher if not mine else None, mine, payload, table))
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
