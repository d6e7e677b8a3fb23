"""Jobs for connection health: one daily check, and sending waiting e-mail."""

from __future__ import annotations

import logging

from adapters import modules as _every_adapter  # noqa: F401 - loaded before a worker forks
from webapp.jobs import job
from webapp.services.health import notify, probe

log = logging.getLogger("ledgerlink.jobs.health")


@job
def check_connections(*integration_ids: int) -> dict[str, int]:
    """Check each integration's connection (the light authenticated call), one after another;
    one that cannot be checked does not stop the others. Returns how many passed, failed…"""
    outcomes: dict[str, int] = {}
    for integration_id in integration_ids:
        try:
            outcome = probe.run_check(integration_id)
        except Exception:
            log.exception("connection check of integration %s did not finish", integration_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


@job
def send_notifications() -> int:
    """Send e-mail that waits: retries of failed sends and digests whose hour has come."""
    return notify.deliver_pending() + notify.deliver_digests()
