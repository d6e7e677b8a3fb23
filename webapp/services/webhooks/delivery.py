"""Sending webhook deliveries: signed (Standard Webhooks), through the egress guard, retried.

Each attempt is its own `webhook_delivery` row. A failed attempt schedules the next one on
the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day),
then gives up; a coordinator can re-send any event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from standardwebhooks.webhooks import Webhook

from adapters.errors import AdapterError
from adapters.http import AddressGuard, _GuardedAdapter, system_resolver
from webapp.db import db, utcnow
from webapp.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from webapp.services.webhooks.endpoints import secret_of

log = logging.getLogger("ledgerlink.webhooks")
SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
TIMEOUT = (5.0, 10.0)
USER_AGENT = "Ledgerlink-Webhooks/1"


def schedule() -> tuple[float, ...]:
    return tuple(current_app.config.get("WEBHOOK_RETRY_SCHEDULE", SCHEDULE))


def _session(url: str) -> requests.Session:
    """A session that connects only to public addresses (loopback in testing only)."""
    host = (urlsplit(url).hostname or "").lower()
    testing = current_app.config.get("ENV_NAME") == "testing"
    guard = AddressGuard(system_resolver, [host] if testing else [])
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    session.mount("https://", _GuardedAdapter(guard))
    session.mount("http://", _GuardedAdapter(guard))
    return session


def any_due(now: dt.datetime | None = None) -> bool:
    """Whether an attempt waits for its time (the scheduler asks once a tick)."""
    return (
        WebhookDelivery.select(WebhookDelivery.id)
        .where(
            (WebhookDelivery.status == "pending")
            & (WebhookDelivery.next_attempt_at <= (now or utcnow()))
        )
        .exists()
    )


def deliver_due(limit: int = 100) -> int:
    """Send every attempt whose time has come; returns how many were tried."""
    due = [
        d.id
        for d in WebhookDelivery.select(WebhookDelivery.id)
        .where(
            (WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= utcnow())
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    ]
    return sum(1 for delivery_id in due if deliver(delivery_id))


def deliver(delivery_id: int) -> bool:
    """One attempt; False when another worker took it first."""
    claimed = (
        WebhookDelivery.update(status="sending")
        .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == "pending"))
        .execute()
    )
    if not claimed:
        return False
    delivery = WebhookDelivery.get_by_id(delivery_id)
    endpoint = WebhookEndpoint.get_by_id(delivery.endpoint_id)
    event = OutboxEvent.get_by_id(delivery.event_id)
    body = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
    started = time.monotonic()
    code, error = None, ""
    try:
        now = utcnow()
        signature = Webhook(secret_of(endpoint)).sign(event.message_id, now, body)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": event.message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        with _session(endpoint.url) as session:
            response = session.post(
                endpoint.url,
                data=body.encode(),
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
            code = response.status_code
    except Exception as exc:  # every failure is recorded on the attempt, never raised
        error = _describe(exc)
    ok = code is not None and 200 <= code < 300
    if code is not None and not ok:
        error = f"HTTP {code}"
    _record(delivery, ok, code, error, int((time.monotonic() - started) * 1000))
    return True


def _describe(exc: BaseException) -> str:
    """The egress guard's own words when it refused, else the kind of failure (no URL)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, AdapterError):
            return seen.message.en[:500]
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _record(delivery: WebhookDelivery, ok: bool, code: int | None, error: str, ms: int) -> None:
    steps = schedule()
    with db.atomic():
        retry = not ok and delivery.attempt <= len(steps)
        status = "succeeded" if ok else ("failed" if retry else "gave_up")
        WebhookDelivery.update(status=status, status_code=code, error=error, duration_ms=ms).where(
            WebhookDelivery.id == delivery.id
        ).execute()
        if retry:
            WebhookDelivery.create(
                event=delivery.event_id,
                endpoint=delivery.endpoint_id,
                attempt=delivery.attempt + 1,
                next_attempt_at=utcnow() + dt.timedelta(seconds=steps[delivery.attempt - 1]),
            )
    if not ok:
        log.info("webhook delivery %s attempt %s: %s", delivery.id, delivery.attempt, error)


def resend(event_id: int, endpoint_id: int, organization_id: int) -> WebhookDelivery | None:
    """A new attempt of an event now (a coordinator's re-send)."""
    endpoint = WebhookEndpoint.get_or_none(
        (WebhookEndpoint.id == endpoint_id) & (WebhookEndpoint.organization == organization_id)
    )
    event = OutboxEvent.get_or_none(
        (OutboxEvent.id == event_id) & (OutboxEvent.organization == organization_id)
    )
    if endpoint is None or event is None:
        return None
    return WebhookDelivery.create(
        event=event.id, endpoint=endpoint.id, attempt=1, next_attempt_at=utcnow()
    )


def recent_attempts(organization_id: int, limit: int = 50) -> list[WebhookDelivery]:
    """The organisation's latest delivery attempts with their events, newest first."""
    return list(
        WebhookDelivery.select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent)
        .where(OutboxEvent.organization == organization_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )


def delivery_of(organization_id: int, delivery_id: int) -> WebhookDelivery | None:
    """One of the organisation's delivery attempts (another organisation's answers None)."""
    return (
        WebhookDelivery.select()
        .join(OutboxEvent)
        .where((WebhookDelivery.id == delivery_id) & (OutboxEvent.organization == organization_id))
        .first()
    )
