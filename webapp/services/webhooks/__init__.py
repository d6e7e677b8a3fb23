"""Webhooks (DESIGN §11): events written in the caller's transaction, delivered with retries."""

from __future__ import annotations

from webapp.services.webhooks.delivery import (
    deliver,
    deliver_due,
    delivery_of,
    recent_attempts,
    resend,
)
from webapp.services.webhooks.endpoints import (
    EVENTS,
    EndpointProblem,
    create_endpoint,
    endpoints_of,
)
from webapp.services.webhooks.outbox import emit

__all__ = [
    "EVENTS",
    "EndpointProblem",
    "create_endpoint",
    "deliver",
    "deliver_due",
    "delivery_of",
    "endpoints_of",
    "emit",
    "recent_attempts",
    "resend",
]
