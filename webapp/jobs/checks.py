"""Jobs on the `checks` queue: connection tests, and purging abandoned wizard drafts.

`test_connection` receives two ids and nothing else. It decrypts the credentials inside the
worker, runs the adapter's named checks, writes each step's state to the `connection_test`
row (which the page polls), stores the outcome on the integration and in the audit log, and
always leaves the row final: passed, failed, or error ("did not finish, try again"). New
credentials of a saved integration that pass become the active set in the same commit; a
failed test leaves the active set as it was.
Nothing it logs or stores contains a credential value.
"""

from __future__ import annotations

import logging

from adapters import get_type
from adapters import modules as _every_adapter  # noqa: F401 - loaded before a worker forks
from adapters.errors import AuthError
from adapters.types import IntegrationType, Text
from webapp.db import db, utcnow
from webapp.jobs import job
from webapp.models import ConnectionTest, Integration
from webapp.services import checks as check_service
from webapp.services import credentials as creds
from webapp.services import integrations
from webapp.services.health import outcomes
from webapp.services.providers import adapter_for
from webapp.vault import VaultError, get_vault

log = logging.getLogger("ledgerlink.jobs.checks")

UNREADABLE = Text(
    "Ledgerlink kan ikke lese de lagrede opplysningene lenger (krypteringsnøkkelen passer "
    "ikke). Skriv dem inn på nytt.",
    "Ledgerlink can no longer read the saved credentials (the encryption key does not "
    "match). Enter them again.",
)
UNREADABLE_HINT = Text(
    "Lim inn verdiene på nytt i skjemaet og test igjen.",
    "Paste the values into the form again and test again.",
)


@job
def test_connection(integration_id: int, test_id: int) -> str:
    """Run one connection test; returns its final status."""
    test = ConnectionTest.get_or_none(
        (ConnectionTest.id == test_id) & (ConnectionTest.integration == integration_id)
    )
    if test is None or test.status != "queued":
        # Gone (draft deleted) or already handled: a duplicate delivery changes nothing.
        return test.status if test is not None else "missing"
    status = "error"
    try:
        status = _run(test, Integration.get_by_id(integration_id))
    finally:
        if status == "error":
            # The job is dying (timeout, crash): leave the row final so the page says so.
            _finish(test, "error", _unfinished(test.checks or []))
            log.error(
                "connection test %s of integration %s did not finish", test_id, integration_id
            )
    return status


def _run(test: ConnectionTest, integration: Integration) -> str:
    itype = get_type(integration.type_key)
    checks = check_service.waiting_checks(itype)
    if checks:
        checks[0]["status"] = "running"
    ConnectionTest.update(status="running", checks=checks).where(
        ConnectionTest.id == test.id
    ).execute()
    vault = get_vault()
    try:
        values = vault.open_set(integration, test.credential_version)
    except VaultError as exc:
        log.warning(
            "connection test %s: credentials of integration %s do not decrypt (%s)",
            test.id,
            integration.id,
            exc.reason,
        )
        results, fingerprint = _unreadable(itype, exc), test.fingerprint
        if test.credential_version == integration.active_credential_version:
            integrations.mark_needs_reauth(
                integration,
                AuthError(UNREADABLE, provider_code="vault_unreadable", field=exc.field_name),
            )
    else:
        fingerprint = vault.values_fingerprint(integration, values)
        results = [r.as_dict() for r in adapter_for(integration, values).test_connection()]
    outcome = "passed" if results and all(r["status"] == "passed" for r in results) else "failed"
    with db.atomic():
        # One commit: whoever sees the test final also sees its consequences.
        _finish(test, outcome, results, fingerprint)
        integration = integrations.record_test(
            Integration.get_by_id(integration.id),
            test,
            outcome=outcome,
            checks=results,
            fingerprint=fingerprint,
        )
        if outcome == "passed":
            _use_rotated_set(integration, test)
    # A test of the credentials in use is health evidence: it opens or closes issues (and
    # with new credentials that passed, the fix is theirs who tested).
    outcomes.after_test(integration, ConnectionTest.get_by_id(test.id))
    log.info("connection test %s of integration %s: %s", test.id, integration.id, outcome)
    return outcome


def _use_rotated_set(integration: Integration, test: ConnectionTest) -> None:
    """New credentials of a saved integration that passed become the ones in use at once.

    (A wizard draft waits for its Save step instead.) `activate` checks again that the
    stored set is exactly what passed; if anything changed meanwhile it stays pending.
    """
    if integration.status == "draft":
        return
    if test.credential_version != integration.pending_credential_version:
        return
    try:
        with db.atomic():
            creds.activate(integration, test.requested_by)
    except (creds.NotTested, integrations.StaleVersion):
        log.info("connection test %s: new credentials changed meanwhile, left pending", test.id)


def _finish(
    test: ConnectionTest, status: str, checks: list[dict], fingerprint: str | None = None
) -> None:
    values = {"status": status, "checks": checks, "finished_at": utcnow()}
    if fingerprint is not None:
        # What was actually tested; Save compares it with what is stored then.
        values["fingerprint"] = fingerprint
    ConnectionTest.update(**values).where(
        (ConnectionTest.id == test.id) & (ConnectionTest.status.in_(("queued", "running")))
    ).execute()


def _unfinished(checks: list[dict]) -> list[dict]:
    return [
        {**c, "status": "skipped"} if c.get("status") in ("waiting", "running") else c
        for c in checks
    ]


def _unreadable(itype: IntegrationType, exc: VaultError) -> list[dict]:
    field = exc.field_name or (itype.secret_fields[0] if itype.secret_fields else None)
    results = check_service.waiting_checks(itype)
    for result in results:
        result["status"] = "skipped"
    if results:
        # Reported on the sign-in step: that is what cannot happen without the values.
        target = next((r for r in results if r["key"] == "authenticated"), results[0])
        target.update(
            status="failed",
            message={"nb": UNREADABLE.nb, "en": UNREADABLE.en},
            hint={"nb": UNREADABLE_HINT.nb, "en": UNREADABLE_HINT.en},
            field=field,
            provider_code="vault_unreadable",
        )
    return results


@job
def purge_drafts() -> int:
    """Delete wizard drafts untouched for a day, with their credentials."""
    count = integrations.purge_drafts()
    if count:
        log.info("purged %s abandoned draft integration(s)", count)
    return count
