"""Jobs for connection health: one daily check, and sending waiting e-mail."""

from __future__ import annotations

from adapters import modules as _every_adapter  # noqa: F401 - loaded before a worker forks
from webapp.jobs import job
from webapp.services.health import notify, probe


@job
def check_connection(integration_id: int) -> str:
    """Check one integration's connection (the light authenticated call); passed/failed."""
    return probe.run_check(integration_id)


@job
def send_notifications() -> int:
    """Send e-mail that waits: retries of failed sends and digests whose hour has come."""
    return notify.deliver_pending() + notify.deliver_digests()
