"""What the export records about a claim, for the host app: call inside its transaction.

`recorded_outcomes` moves the claims' `updated_at` (so `updated_since` finds them) and writes
`claim.exported` / `claim.failed` to the webhook outbox in the caller's transaction, so the
event exists exactly when the export item does.
"""

from __future__ import annotations

from collections.abc import Iterable

from peewee import SQL, fn

from webapp.db import is_postgres, utcnow
from webapp.models import ExpenseClaim
from webapp.services.webhooks.outbox import emit, subscribed


def recorded_outcomes(
    organization_id: int, integration_id: int, outcomes: Iterable[tuple[int, str, str | None]]
) -> int:
    """(claim id, "exported" | "failed", ledger reference or error code) per claim; returns
    how many events were written. Pending outcomes are not events (nothing is known yet)."""
    rows = [(c, s, r) for c, s, r in outcomes if s in ("exported", "failed")]
    if not rows:
        return 0
    # The claims are found by primary key and the organisation is only checked on them: as
    # an index condition it made PostgreSQL read every claim of the organisation for each
    # batch whenever its row estimate was stale (a host app's first 10,000 claims).
    ExpenseClaim.update(updated_at=utcnow()).where(
        _any_id([c for c, _s, _r in rows]) & ((ExpenseClaim.organization + 0) == organization_id)
    ).execute()
    # An event no endpoint takes would be delivered to no one: write only the wanted ones
    # (the export's hot path stays free of them for organisations without webhooks).
    wanted = subscribed(organization_id)
    rows = [(c, s, r) for c, s, r in rows if f"claim.{s}" in wanted]
    if not rows:
        return 0
    external = dict(
        ExpenseClaim.select(ExpenseClaim.id, ExpenseClaim.external_id)
        .where(ExpenseClaim.id.in_([c for c, _s, _r in rows]))
        .tuples()
    )
    for claim_id, status, reference in rows:
        data = {
            "claim_id": claim_id,
            "external_id": external.get(claim_id),
            "integration_id": integration_id,
        }
        if status == "exported":
            data["ledger_reference"] = reference
        else:
            data["error_code"] = reference
        emit(organization_id, f"claim.{status}", data)
    return len(rows)


def _any_id(ids: list[int]):
    """`id IN (…)`; on PostgreSQL one `int[]` parameter, so that every batch runs the same
    statement (one plan, no SQL of a few hundred placeholders to build and parse)."""
    if is_postgres():
        return ExpenseClaim.id == fn.ANY(SQL("%s::int[]", [ids]))
    return ExpenseClaim.id.in_(ids)
