"""What a check, a test or an export means for the integration's health.

A failure opens (or counts on) the issue of its cause, sets the status as an export failure
would (new credentials needed for `auth`, `permission` and `config`), tells the
coordinator-admins when the issue is worth their attention, and after seven days of rejected
sign-ins stops the schedule until the credentials are fixed. A success closes what it proves
fixed, brings a rejected-then-restored sign-in back, and says so to whoever was told.
"""

from __future__ import annotations

import datetime as dt
import logging

from adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
    TransientError,
)
from adapters.types import Text
from webapp.db import utcnow
from webapp.models import ConnectionTest, Integration, SyncRun, User
from webapp.services import integrations, scheduler
from webapp.services.health import expiry, issues, notify

log = logging.getLogger("ledgerlink.health")

# Scheduled exports stop after this long of rejected sign-ins (and checks with them).
AUTH_GIVE_UP = dt.timedelta(days=7)
_ERRORS: dict[str, type[AdapterError]] = {
    error.kind: error
    for error in (AuthError, PermissionError, ConfigError, TransientError, DataError)
}


def failed(
    integration: Integration, error: AdapterError, source: str, now: dt.datetime | None = None
) -> None:
    """Record a failure of the connection found by a check, a test or an export."""
    now = now or utcnow()
    kind = issues.kind_of(error)
    recorded = issues.record_failure(integration, kind, issues.message_of(error), source, now)
    fresh = Integration.get_by_id(integration.id)
    if source == "check" and error.kind in ("auth", "permission", "config"):
        # As an export refused for the same reason would: stop and ask for new credentials.
        if fresh.status != "needs_reauth":
            try:
                fresh = integrations.mark_needs_reauth(fresh, error)
            except integrations.StaleVersion:
                log.info("integration %s changed during its check; status left", fresh.id)
    if issues.due_announcement(recorded, now):
        notify.issue_opened(fresh, recorded.issue, now)
        issues.mark_announced(recorded.issue)
    if kind == "auth" and now - recorded.issue.opened_at >= AUTH_GIVE_UP:
        scheduler.stop_for_auth(fresh, recorded.issue.opened_at, now)
    notify.deliver_pending()


def succeeded(
    integration: Integration, proof: str, actor: User | None, now: dt.datetime | None = None
) -> None:
    """Record a success: a check, a test of the credentials in use, or an export."""
    now = now or utcnow()
    fresh = Integration.get_by_id(integration.id)
    if proof == "check":
        fresh = integrations.record_check_passed(fresh)
    if proof in ("check", "test"):
        scheduler.restart_after_fix(fresh, now)
    resolved = issues.resolve(fresh, proof, actor, now)
    announced = [issue for issue in resolved if issue.announced]
    if announced:
        notify.recovered(fresh, announced, actor, now)
        notify.deliver_pending()


def after_test(integration: Integration, test: ConnectionTest) -> None:
    """A connection test of the credentials in use is evidence too (not of a draft)."""
    fresh = Integration.get_by_id(integration.id)
    if fresh.status == "draft" or test.credential_version != fresh.active_credential_version:
        return
    if test.status == "passed":
        succeeded(fresh, "test", test.requested_by)
        return
    check = next((c for c in (test.checks or []) if c.get("status") == "failed"), None)
    if check is None:
        return
    error_class = _ERRORS.get(str(check.get("kind") or ""), TransientError)
    message = check.get("message") or {}
    error = error_class(
        Text(message.get("nb") or "", message.get("en") or ""),
        provider_code=check.get("provider_code"),
    )
    failed(fresh, error, "test")


def after_export(integration_id: int, run_id: int) -> None:
    """What a finished export run says about the connection."""
    run = SyncRun.get_or_none((SyncRun.id == run_id) & (SyncRun.integration == integration_id))
    if run is None or not run.is_final:
        return
    integration = Integration.get_by_id(integration_id)
    message = dict(run.message or {})
    text = Text(message.get("nb") or "", message.get("en") or "")
    if run.status == "succeeded":
        succeeded(integration, "export", run.created_by)
    elif run.status == "partial":
        succeeded(integration, "partial", run.created_by)
        failed(integration, DataError(text, provider_code="claims_refused"), "export")
    elif "code" in message and run.error_kind in _ERRORS:
        # A run the system stopped (`code` is only on runs that called it and were refused).
        error = _ERRORS[run.error_kind](
            text,
            provider_code=message.get("code"),
            retry_after=1.0 if message.get("waiting_until") else None,
        )
        failed(integration, error, "export")
    elif run.error_kind == "data":
        failed(integration, DataError(text, provider_code="claims_refused"), "export")


def warn_expiry(integration: Integration, now: dt.datetime | None = None) -> None:
    """Tell the coordinator-admins when the secret's end date is 30 or 7 days away, or today."""
    now = now or utcnow()
    fresh = Integration.get_by_id(integration.id)
    found = expiry.current([fresh], fresh.organization.time_zone, now).get(fresh.id)
    if found is None or found.threshold is None:
        return
    notify.expiry_due(fresh, found, now)
    notify.deliver_pending()
