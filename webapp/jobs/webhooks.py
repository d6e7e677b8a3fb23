"""Jobs on the `webhooks` queue: send the webhook attempts that are due."""

from __future__ import annotations

from webapp.jobs import job
from webapp.services import webhooks


@job
def deliver_due_job() -> int:
    """Send every due attempt (each records its own outcome and schedules the next)."""
    return webhooks.deliver_due()
