"""`emit`: an event row and its deliveries, in the same transaction as the change (outbox).

Call it inside the caller's `db.atomic()` so the event exists exactly when the change does;
after the commit, `kick()` asks a worker to deliver (the scheduler's tick also picks up
anything due, so a lost kick only delays).
"""

from __future__ import annotations

import uuid

from webapp.db import utcnow
from webapp.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from webapp.services.webhooks.endpoints import EVENTS

JOB = "webapp.jobs.webhooks.deliver_due_job"


def emit(organization_id: int, event_type: str, data: dict) -> OutboxEvent:
    """Record `event_type` with `data` (ids and public facts only, never a secret)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event type {event_type!r}")
    now = utcnow()
    event = OutboxEvent.create(
        organization=organization_id,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=event_type,
        payload={"type": event_type, "timestamp": now.isoformat(), "data": data},
        created_at=now,
    )
    endpoints = WebhookEndpoint.select().where(
        (WebhookEndpoint.organization == organization_id) & WebhookEndpoint.enabled
    )
    rows = [
        {"event": event.id, "endpoint": e.id, "attempt": 1, "next_attempt_at": now}
        for e in endpoints
        if event_type in (e.events or [])
    ]
    if rows:
        WebhookDelivery.insert_many(rows).execute()
    return event


def subscribed(organization_id: int) -> set[str]:
    """The event types some enabled endpoint of the organisation takes."""
    wanted: set[str] = set()
    for (events,) in (
        WebhookEndpoint.select(WebhookEndpoint.events)
        .where((WebhookEndpoint.organization == organization_id) & WebhookEndpoint.enabled)
        .tuples()
    ):
        wanted.update(events or [])
    return wanted


def kick() -> None:
    """Ask a worker to deliver what is due (call after the emitting transaction commits);
    nothing is queued when no endpoint waits for anything."""
    from webapp.queue import enqueue

    due = (
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            (WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= utcnow())
        )
        .exists()
    )
    if due:
        enqueue("webhooks", JOB)
