"""What became of a claim, as the host app sees it (DESIGN §11).

received: routed to an integration whose set-up is not finished; queued: waiting for (or in)
the next export; exported / failed: the export item's outcome; needs_attention: no ledger is
chosen, or the integration cannot export until a coordinator acts.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal

from flask_babel import gettext as _
from peewee import JOIN, Case, fn

from webapp.i18n import text
from webapp.models import ExpenseClaim, ExpenseClaimLine, ExportItem, Integration

BLOCKED = ("needs_reauth", "paused", "degraded")
PAGE_SIZE = 100


def describe(
    claims: list[ExpenseClaim], totals: dict[int, tuple[Decimal, int]] | None = None
) -> list[dict]:
    """The API view of claims (ClaimOut), with three queries whatever their number.

    `totals` ({claim id: (total, line count)}) is given for claims just stored, which have
    no export item yet: then only their integrations are read.
    """
    ids = [c.id for c in claims]
    if not ids:
        return []
    fresh = totals is not None and all(i in totals for i in ids)
    items = (
        {}
        if fresh
        else {i.claim_id: i for i in ExportItem.select().where(ExportItem.claim.in_(ids))}
    )
    integration_ids = {c.integration_id for c in claims if c.integration_id}
    integrations = {
        i.id: i for i in Integration.select().where(Integration.id.in_(list(integration_ids)))
    }
    if totals is not None and fresh:
        return [_one(c, None, integrations.get(c.integration_id), totals[c.id]) for c in claims]
    totals = {
        claim: (total, count)
        for claim, total, count in ExpenseClaimLine.select(
            ExpenseClaimLine.claim, fn.SUM(ExpenseClaimLine.amount), fn.COUNT(ExpenseClaimLine.id)
        )
        .where(ExpenseClaimLine.claim.in_(ids))
        .group_by(ExpenseClaimLine.claim)
        .tuples()
    }
    return [
        _one(c, items.get(c.id), integrations.get(c.integration_id), totals.get(c.id, (0, 0)))
        for c in claims
    ]


def _one(claim, item, integration, total_count) -> dict:
    status, message, next_step = state(item, integration)
    total, count = total_count
    return {
        "id": claim.id,
        "external_id": claim.external_id,
        "claim_number": claim.claim_number,
        "status": status,
        "integration": (
            {"id": integration.id, "name": integration.name, "type": integration.type_key}
            if integration
            else None
        ),
        "ledger_reference": item.external_id if item and item.status == "exported" else None,
        "export_reference": item.reference if item else None,
        "message": message,
        "next_step": next_step,
        "total": f"{Decimal(str(total or 0)).quantize(Decimal('0.01')):.2f}",
        "line_count": count,
        "created_at": _iso(claim.created_at),
        "updated_at": _iso(max(claim.updated_at, item.updated_at) if item else claim.updated_at),
        "exported_at": _iso(item.updated_at) if item and item.status == "exported" else None,
    }


def state(item: ExportItem | None, integration: Integration | None):
    """(status, message, next step) for a claim's export item and routed integration."""
    if item is not None and item.status == "exported":
        return (
            "exported",
            _("Booked in %(name)s.", name=integration.name if integration else ""),
            None,
        )
    if item is not None and item.status == "failed":
        return (
            "failed",
            text(item.error) or _("The accounting system refused the claim."),
            _("A coordinator corrects the mapping or the claim; the next export tries again."),
        )
    if integration is None:
        return (
            "needs_attention",
            _("No accounting system is chosen for this claim."),
            _("A coordinator sets a default integration or moves the claim to one."),
        )
    if integration.status in BLOCKED:
        return (
            "needs_attention",
            _("%(name)s cannot export right now.", name=integration.name),
            _("A coordinator reconnects or resumes the integration on the dashboard."),
        )
    if item is not None or integration.status == "connected":
        return "queued", _("Waiting for the next export to %(name)s.", name=integration.name), None
    return (
        "received",
        _("Received; %(name)s is not set up yet.", name=integration.name),
        _("A coordinator finishes setting up the integration."),
    )


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def encode_cursor(updated_at: dt.datetime, claim_id: int) -> str:
    raw = json.dumps([_iso(updated_at), claim_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """(updated_at, id) of the last claim of the previous page; ValueError when malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, claim_id = json.loads(raw)
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if not isinstance(claim_id, int) or when.tzinfo is None:
            raise ValueError("cursor")
        return when, claim_id
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError("cursor") from exc


def page(
    organization_id: int,
    *,
    status: str | None = None,
    updated_since: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
    integration_id: int | None = None,
    approved_from: dt.date | None = None,
) -> tuple[list[dict], str | None]:
    """One page of the organisation's claims, oldest change first: (ClaimOut dicts, cursor).

    Ordered by (updated_at, id), so a claim changed while a client pages through reappears
    later instead of being skipped. The status filter is `state` written in SQL (it is
    derived from three tables), so a page costs the same few queries whatever it skips.
    """
    query = ExpenseClaim.select().where(ExpenseClaim.organization == organization_id)
    if updated_since is not None:
        query = query.where(ExpenseClaim.updated_at >= updated_since)
    if integration_id is not None:
        query = query.where(ExpenseClaim.integration == integration_id)
    if approved_from is not None:
        start = dt.datetime.combine(approved_from, dt.time(), tzinfo=dt.UTC)
        query = query.where(ExpenseClaim.approved_at >= start)
    if cursor:
        after, after_id = decode_cursor(cursor)
        query = query.where(
            (ExpenseClaim.updated_at > after)
            | ((ExpenseClaim.updated_at == after) & (ExpenseClaim.id > after_id))
        )
    if status is not None:
        query = (
            query.join(ExportItem, JOIN.LEFT_OUTER, on=(ExportItem.claim == ExpenseClaim.id))
            .switch(ExpenseClaim)
            .join(Integration, JOIN.LEFT_OUTER, on=(ExpenseClaim.integration == Integration.id))
            .where(_status_sql() == status)
        )
    # One more than a page tells whether another page follows.
    rows = list(query.order_by(ExpenseClaim.updated_at, ExpenseClaim.id).limit(limit + 1))
    claims = rows[:limit]
    if len(rows) <= limit or not claims:
        return describe(claims), None
    last = claims[-1]
    return describe(claims), encode_cursor(last.updated_at, last.id)


def _status_sql():
    """`state` as an SQL expression over a claim, its export item and its integration."""
    return Case(
        None,
        [
            (ExportItem.status == "exported", "exported"),
            (ExportItem.status == "failed", "failed"),
            (ExpenseClaim.integration.is_null(), "needs_attention"),
            (Integration.status.in_(BLOCKED), "needs_attention"),
            (ExportItem.id.is_null(False) | (Integration.status == "connected"), "queued"),
        ],
        "received",
    )
