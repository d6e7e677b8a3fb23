"""Audit events: who did what to which object. Field names only, never values."""

from __future__ import annotations

from collections.abc import Iterable

from flask import g, has_request_context

from webapp.models import AuditEvent, Organization, User


def record(
    action: str,
    *,
    organization: Organization | int | None,
    target_type: str = "",
    target_id: int | None = None,
    fields: Iterable[str] = (),
    outcome: str = "ok",
    detail: str = "",
    actor: User | None = None,
) -> AuditEvent:
    if actor is None and has_request_context():
        actor = g.get("user")
    return AuditEvent.create(
        organization=organization,
        actor=actor,
        actor_label=actor.label if actor else "system",
        action=action,
        target_type=target_type,
        target_id=target_id,
        fields=sorted(fields),
        outcome=outcome,
        detail=detail,
    )
