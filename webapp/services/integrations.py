"""Integration Configuration Service: the only place that changes an integration row.

Every change goes through `change`, which bumps `integration.version` under an optimistic
lock: a save based on a stale version raises `StaleVersion` naming who changed it and when,
so two coordinators editing at once never overwrite each other silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters import get_type
from adapters.errors import AdapterError
from webapp.db import db, utcnow
from webapp.models import Integration, Organization, User
from webapp.services import audit


class StaleVersion(Exception):
    """Someone else saved the integration since this form was loaded."""

    def __init__(self, integration: Integration) -> None:
        super().__init__(f"integration {integration.id} changed")
        self.integration = integration
        self.changed_by = integration.updated_by.label if integration.updated_by else None
        self.changed_at = integration.updated_at


def create_draft(organization: Organization, type_key: str, actor: User | None) -> Integration:
    itype = get_type(type_key)
    with db.atomic():
        integration = Integration.create(
            organization=organization,
            type_key=type_key,
            name=itype.name.nb,
            status="draft",
            created_by=actor,
            updated_by=actor,
        )
        audit.record(
            "integration.draft_created",
            organization=organization,
            target_type="integration",
            target_id=integration.id,
            fields=["type_key"],
            actor=actor,
        )
    return integration


def change(
    integration: Integration,
    values: dict[str, object],
    *,
    actor: User | None,
    action: str,
    expected_version: int | None = None,
    audit_fields: Iterable[str] | None = None,
    outcome: str = "ok",
) -> Integration:
    """Apply `values` and bump the version; StaleVersion if `expected_version` is stale.

    Returns the fresh row. Writes one audit event naming the changed fields.
    """
    expected = integration.version if expected_version is None else expected_version
    with db.atomic():
        updated = (
            Integration.update(
                version=Integration.version + 1,
                updated_at=utcnow(),
                updated_by=actor,
                **values,
            )
            .where((Integration.id == integration.id) & (Integration.version == expected))
            .execute()
        )
        fresh = Integration.get_by_id(integration.id)
        if not updated:
            raise StaleVersion(fresh)
        audit.record(
            action,
            organization=fresh.organization_id,
            target_type="integration",
            target_id=fresh.id,
            fields=list(audit_fields if audit_fields is not None else values.keys()),
            outcome=outcome,
            actor=actor,
        )
    return fresh


def mark_needs_reauth(integration: Integration, error: AdapterError) -> Integration:
    """The system rejected the saved credentials: stop and ask for new ones."""
    reason = {
        "nb": error.message.nb,
        "en": error.message.en,
        "code": error.provider_code,
        "field": error.field,
        "kind": error.kind,
        "at": utcnow().isoformat(),
    }
    return change(
        integration,
        {"status": "needs_reauth", "reauth_reason": reason},
        actor=None,
        action="integration.needs_reauth",
        audit_fields=["status"],
        outcome="failed",
    )
