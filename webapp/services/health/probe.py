"""One connection check: the light authenticated call, and what its answer means.

Run by the `check_connections` job (the daily checks the scheduler queues) and, before a
scheduled export, by the export job when the last check is older than an hour, so broken
credentials stop the run before it starts rather than halfway.
"""

from __future__ import annotations

import datetime as dt
import logging

from adapters.errors import AdapterError, AuthError, TransientError
from adapters.types import Text
from webapp.db import utcnow
from webapp.models import HealthCheck, Integration, SyncRun
from webapp.services.exports.outbox import NO_CREDENTIALS, UNREADABLE_CREDENTIALS
from webapp.services.health import outcomes
from webapp.services.health.checks import CHECKED, first_slot, stopped

log = logging.getLogger("ledgerlink.health")

# A scheduled export first checks the connection when the last check is older than this.
FRESH = dt.timedelta(hours=1)

UNEXPECTED = Text(
    "Systemet svarte noe Ledgerlink ikke forstår, så tilkoblingen kunne ikke kontrolleres.",
    "The system answered something Ledgerlink does not understand, so the connection could "
    "not be checked.",
)


def run_check(integration_id: int, now: dt.datetime | None = None) -> str:
    """Check one integration's connection now; returns passed, failed or skipped."""
    from webapp.services.providers import adapter_for
    from webapp.vault import VaultError, get_vault

    now = now or utcnow()
    integration = Integration.get_or_none(Integration.id == integration_id)
    if integration is None or integration.status not in CHECKED or stopped(integration.id):
        return "skipped"
    error: AdapterError | None = None
    if integration.active_credential_version is None:
        error = AuthError(NO_CREDENTIALS, provider_code="no_credentials")
    else:
        try:
            values = get_vault().open_set(integration, integration.active_credential_version)
            adapter_for(integration, values).check_access()
        except VaultError:
            error = AuthError(UNREADABLE_CREDENTIALS, provider_code="vault")
        except AdapterError as exc:
            error = exc
        except Exception:
            log.exception("connection check of integration %s: unexpected answer", integration_id)
            error = TransientError(UNEXPECTED, provider_code="unexpected_answer")
    outcome = "passed" if error is None else "failed"
    _record(integration.id, outcome, now)
    if error is None:
        outcomes.succeeded(integration, "check", None, now)
    else:
        outcomes.failed(integration, error, "check", now)
    outcomes.warn_expiry(integration, now)
    log.info("connection check of integration %s: %s", integration.id, outcome)
    return outcome


def _record(integration_id: int, outcome: str, now: dt.datetime) -> None:
    updated = (
        HealthCheck.update(last_at=now, last_outcome=outcome)
        .where(HealthCheck.integration == integration_id)
        .execute()
    )
    if not updated:
        HealthCheck.insert(
            integration=integration_id,
            next_at=first_slot(integration_id, now),
            last_at=now,
            last_outcome=outcome,
        ).on_conflict_ignore().execute()


def before_export(integration_id: int, run_id: int, now: dt.datetime | None = None) -> None:
    """A scheduled export checks the connection first when the last check is over an hour old,
    so broken credentials stop the run before it starts rather than halfway."""
    now = now or utcnow()
    run = SyncRun.get_or_none(SyncRun.id == run_id)
    if run is None or run.trigger != "schedule" or run.status != "queued":
        return
    last = HealthCheck.get_or_none(HealthCheck.integration == integration_id)
    if last is not None and last.last_at is not None and now - last.last_at < FRESH:
        return
    run_check(integration_id, now)
