"""Integration Configuration Service: the only place that changes an integration row.

Every change a coordinator makes goes through `change`, which bumps `integration.version`
under an optimistic lock: a save based on a stale version raises `StaleVersion` naming who
changed it and when, so two coordinators editing at once never overwrite each other silently.
Bookkeeping that is not configuration (the result of a connection test) is recorded without
bumping the version, so a test finishing in the background never invalidates an open form.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from peewee import JOIN, fn
from redis.exceptions import RedisError

from adapters import get_type
from adapters.errors import AdapterError
from webapp.db import db, utcnow
from webapp.models import (
    ConnectionTest,
    FieldMapping,
    Integration,
    IntegrationCredential,
    Organization,
    User,
)
from webapp.services import audit
from webapp.services.webhooks import outbox

log = logging.getLogger("ledgerlink.integrations")

# The setup wizard's steps in order; `integration.wizard_step` is the furthest one reached.
WIZARD_STEPS = ("type", "credentials", "mapping", "schedule", "test", "save")
# A draft nobody has touched for this long is deleted with its credentials.
DRAFT_MAX_AGE = dt.timedelta(hours=24)


class StaleVersion(Exception):
    """Someone else saved the integration since this form was loaded."""

    def __init__(self, integration: Integration) -> None:
        super().__init__(f"integration {integration.id} changed")
        self.integration = integration
        self.changed_by = integration.updated_by.label if integration.updated_by else None
        self.changed_at = integration.updated_at


def create_draft(
    organization: Organization,
    type_key: str,
    actor: User | None,
    *,
    wizard_step: str = "type",
) -> Integration:
    itype = get_type(type_key)
    with db.atomic():
        integration = Integration.create(
            organization=organization,
            type_key=type_key,
            name=default_name(organization, itype.name.nb),
            status="draft",
            wizard_step=wizard_step,
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
    event = None
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
        event = _status_event(integration.status, fresh)
    if event is not None:
        outbox.kick()  # after the commit; the scheduler's tick retries a lost kick
    return fresh


def _status_event(before: str, fresh: Integration) -> str | None:
    """Tell the host app when an integration starts or stops needing a coordinator
    (`integration.needs_attention` / `integration.recovered`), in the change's transaction."""
    after = fresh.status
    if after == before:
        return None
    if after == "needs_reauth":
        kind = "integration.needs_attention"
    elif before in ("needs_reauth", "degraded") and after == "connected":
        kind = "integration.recovered"
    else:
        return None
    if kind not in outbox.subscribed(fresh.organization_id):
        return None  # no endpoint takes it: there is no one to tell
    outbox.emit(
        fresh.organization_id,
        kind,
        {"integration_id": fresh.id, "name": fresh.name, "type": fresh.type_key, "status": after},
    )
    return kind


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


# --- the setup wizard --------------------------------------------------------------------------


def start_draft(organization: Organization, type_key: str, actor: User | None) -> Integration:
    """A new wizard draft at its credentials step; abandoned drafts are purged meanwhile.

    Starting a setup is when drafts pile up, so that is when the purge job is queued: no
    separate timer is needed (`flask integrations purge-drafts` does the same by hand).
    """
    from webapp.queue import enqueue

    integration = create_draft(organization, type_key, actor, wizard_step="credentials")
    try:
        enqueue("checks", "webapp.jobs.checks.purge_drafts")
    except RedisError:
        # Housekeeping only: the setup goes on; the next setup (or the command) purges.
        log.warning("could not queue the purge of old drafts: the job queue is unreachable")
    return integration


def furthest_step(current: str, reached: str) -> str:
    """The later of two wizard steps."""
    return max(current, reached, key=_step_index)


def _step_index(step: str) -> int:
    return WIZARD_STEPS.index(step) if step in WIZARD_STEPS else 0


def advance(integration: Integration, step: str, actor: User | None) -> Integration:
    """Record that the wizard reached `step` (never moves backwards)."""
    reached = furthest_step(integration.wizard_step, step)
    if reached == integration.wizard_step:
        return integration
    return change(
        integration, {"wizard_step": reached}, actor=actor, action="integration.wizard_step"
    )


def change_type(integration: Integration, type_key: str, actor: User | None) -> Integration:
    """Switch a draft to another system: what was entered for the old one no longer applies."""
    from webapp.vault import get_vault

    if type_key == integration.type_key:
        return integration
    itype = get_type(type_key)
    with db.atomic():
        for version in credential_set_versions(integration):
            get_vault().delete_set(integration, version)
        FieldMapping.delete().where(FieldMapping.integration == integration.id).execute()
        return change(
            integration,
            {
                "type_key": type_key,
                "name": _name_after_type_change(integration, itype.name.nb),
                "pending_credential_version": None,
                "wizard_step": "credentials",
            },
            actor=actor,
            action="integration.type_changed",
        )


def default_name(organization: Organization, system: str, exclude: int | None = None) -> str:
    """The system and the organisation ("Xledger – NBF"), numbered when the name is taken."""
    base = f"{system} – {organization.name}"
    taken = {name.casefold() for name in names_in_use(organization.id, exclude)}
    name, number = base, 2
    while name.casefold() in taken:
        name, number = f"{base} ({number})", number + 1
    return name


def names_in_use(organization_id: int, exclude: int | None = None) -> list[str]:
    """The names of the organisation's integrations (but `exclude`'s)."""
    query = Integration.select(Integration.name).where(Integration.organization == organization_id)
    if exclude is not None:
        query = query.where(Integration.id != exclude)
    return [name for (name,) in query.tuples()]


def _name_after_type_change(integration: Integration, system: str) -> str:
    old_default = default_name(
        integration.organization, get_type(integration.type_key).name.nb, exclude=integration.id
    )
    if integration.name != old_default:
        return integration.name  # named by the coordinator: theirs to keep
    return default_name(integration.organization, system, exclude=integration.id)


def apply_default_mapping(
    integration: Integration, actor: User | None, accounts: set[str] | None = None
) -> int:
    """Give the integration its type's default mapping, unless it has one; returns rows added.

    With the live chart of `accounts`, a standard account (NS 4102) the chart does not have
    is left out, never invented: a lookup keeps the entries whose account exists, and a row
    left with no account stays empty, so the editor asks the coordinator to choose one.
    """
    from webapp.mapping import rows_from_defaults

    if FieldMapping.select().where(FieldMapping.integration == integration.id).exists():
        return 0
    itype = get_type(integration.type_key)
    defaults = rows_from_defaults(itype)
    if accounts is not None:
        defaults = [r for r in (_in_chart(itype, row, accounts) for row in defaults) if r]
    rows = [
        {
            **row.model_values(),
            "integration": integration.id,
            "position": position,
            "updated_by": actor.id if actor else None,
        }
        for position, row in enumerate(defaults)
    ]
    with db.atomic():
        if rows:
            FieldMapping.insert_many(rows).execute()
        audit.record(
            "integration.mapping_defaults",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=[row["target"] for row in rows],
            actor=actor,
        )
    return len(rows)


def _in_chart(itype, row, accounts: set[str]):
    """The default row with only accounts the chart has; None when none is left."""
    import dataclasses

    field = next((f for f in itype.target_fields if f.name == row.target), None)
    if field is None or field.reference != "account":
        return row
    if row.kind == "constant":
        return row if row.value in accounts else None
    if row.kind != "lookup":
        return row
    lookup = tuple((key, value) for key, value in row.lookup if value in accounts)
    default = row.lookup_default if row.lookup_default in accounts else None
    if not lookup and default is None:
        return None
    return dataclasses.replace(row, lookup=lookup, lookup_default=default)


def credential_set_versions(integration: Integration | int) -> list[int]:
    """Every credential set version stored for the integration."""
    integration_id = integration if isinstance(integration, int) else integration.id
    query = (
        IntegrationCredential.select(IntegrationCredential.set_version)
        .where(IntegrationCredential.integration == integration_id)
        .distinct()
        .tuples()
    )
    return sorted(version for (version,) in query)


def next_set_version(integration: Integration) -> int:
    """A credential set version never used by this integration (nor by any of its tests)."""
    stored = (
        IntegrationCredential.select(fn.MAX(IntegrationCredential.set_version))
        .where(IntegrationCredential.integration == integration.id)
        .scalar()
    )
    tested = (
        ConnectionTest.select(fn.MAX(ConnectionTest.credential_version))
        .where(ConnectionTest.integration == integration.id)
        .scalar()
    )
    return max(stored or 0, tested or 0, integration.active_credential_version or 0) + 1


def delete_draft(integration: Integration, actor: User | None, *, action: str) -> None:
    """Delete a draft and every credential entered for it."""
    from webapp.vault import get_vault

    with db.atomic():
        for version in credential_set_versions(integration):
            get_vault().delete_set(integration, version)
        audit.record(
            action,
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=["type_key"],
            actor=actor,
        )
        integration.delete_instance(recursive=True)


def purge_drafts(max_age: dt.timedelta = DRAFT_MAX_AGE, now: dt.datetime | None = None) -> int:
    """Delete drafts untouched for `max_age` (default a day); returns how many."""
    cutoff = (now or utcnow()) - max_age
    stale = list(
        Integration.select().where(
            (Integration.status == "draft") & (Integration.updated_at < cutoff)
        )
    )
    for integration in stale:
        delete_draft(integration, None, action="integration.draft_purged")
    return len(stale)


# --- connection tests ----------------------------------------------------------------------------


def record_test(
    integration: Integration,
    test: ConnectionTest,
    *,
    outcome: str,
    checks: list[dict],
    fingerprint: str | None,
) -> Integration:
    """Store a finished connection test on the integration and in the audit log.

    A passed test of the credentials in use brings an integration that needed new
    credentials back to `connected`, so the next export goes ahead. Not a configuration
    change, so the version stays: an open form is not made stale by a test finishing.
    """
    now = utcnow()
    values: dict[str, object] = {
        "last_test_at": now,
        "last_test_outcome": outcome,
        "last_test_checks": checks,
        "last_test_fingerprint": fingerprint,
        "last_test_credential_version": test.credential_version,
        "updated_at": now,
    }
    reconnects = (
        outcome == "passed"
        and test.credential_version == integration.active_credential_version
        and integration.status == "needs_reauth"
    )
    if reconnects:
        values.update(status="connected", reauth_reason=None)
    failed = next((c for c in checks if c.get("status") == "failed"), None)
    with db.atomic():
        Integration.update(**values).where(Integration.id == integration.id).execute()
        audit.record(
            "integration.tested",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            outcome=outcome,
            detail=_check_detail(failed),
            actor=test.requested_by,
        )
        if reconnects:
            audit.record(
                "integration.reconnected",
                organization=integration.organization_id,
                target_type="integration",
                target_id=integration.id,
                fields=["status"],
                actor=test.requested_by,
            )
    return Integration.get_by_id(integration.id)


def record_check_passed(integration: Integration) -> Integration:
    """A daily check signed in: credentials the system had rejected work again (the token was
    restored, say), so exports go on. Only a rejected sign-in heals this way; a missing
    permission or a wrong setting needs a full connection test. The version stays."""
    reason: dict = dict(integration.reauth_reason or {})
    if integration.status != "needs_reauth" or reason.get("kind") != "auth":
        return integration
    with db.atomic():
        Integration.update(status="connected", reauth_reason=None, updated_at=utcnow()).where(
            (Integration.id == integration.id) & (Integration.status == "needs_reauth")
        ).execute()
        fresh = Integration.get_by_id(integration.id)
        audit.record(
            "integration.reconnected",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=["status"],
            detail="daily check",
        )
        event = _status_event(integration.status, fresh)
    if event is not None:
        outbox.kick()
    return fresh


def _check_detail(check: dict | None) -> str:
    # The check's key and the provider's code only: both are fixed strings, never input.
    if check is None:
        return ""
    code = check.get("provider_code")
    return f"{check.get('key')}: {code}" if code else str(check.get("key"))


def pause(integration: Integration, actor=None, expected_version: int | None = None) -> bool:
    """Stop scheduled and manual exports until resumed; False if it cannot be paused."""
    if integration.status not in ("connected", "degraded", "needs_reauth"):
        return False
    change(
        integration,
        {"status": "paused"},
        actor=actor,
        action="integration.paused",
        expected_version=expected_version,
    )
    return True


def resume(integration: Integration, actor=None, expected_version: int | None = None) -> bool:
    """Let exports run again; still asking for new credentials if they had been rejected."""
    if integration.status != "paused":
        return False
    change(
        integration,
        {"status": "needs_reauth" if integration.reauth_reason else "connected"},
        actor=actor,
        action="integration.resumed",
        expected_version=expected_version,
    )
    return True


def record_attempt(integration: Integration) -> None:
    """Note that an export of this integration has started (the dashboard's last attempt)."""
    Integration.update(last_attempt_at=utcnow()).where(Integration.id == integration.id).execute()


def record_success(integration: Integration, exported: int) -> None:
    """Note a run that exported (all or some of) its claims; a run that found nothing to
    export is not a successful sync (it would hide weeks without one): it only counts as
    the last check (`record_attempt`)."""
    if exported <= 0:
        return
    Integration.update(last_success_at=utcnow(), last_success_count=exported).where(
        Integration.id == integration.id
    ).execute()


def of_organization(organization_id: int) -> list[Integration]:
    """The organisation's integrations by name."""
    return list(
        Integration.select()
        .where(Integration.organization == organization_id)
        .order_by(Integration.name)
    )


def drafts_of(organization_id: int) -> list[Integration]:
    """Setups not finished yet, newest first, with who started each (the wizard's first step)."""
    return list(
        Integration.select(Integration, User)
        .join(User, on=(Integration.created_by == User.id), join_type=JOIN.LEFT_OUTER)
        .where((Integration.organization == organization_id) & (Integration.status == "draft"))
        .order_by(Integration.updated_at.desc())
    )


def same_system(integration: Integration) -> list[Integration]:
    """The organisation's saved integrations of the same accounting system, for the wizard to
    say that each claim is booked by one of them only (never by both)."""
    return list(
        Integration.select()
        .where(
            (Integration.organization == integration.organization_id)
            & (Integration.type_key == integration.type_key)
            & (Integration.status != "draft")
            & (Integration.id != integration.id)
        )
        .order_by(Integration.name)
    )
