"""The export job: one sync run, by ids (never objects or secrets)."""

from __future__ import annotations

from webapp.jobs import job


@job
def run_export(integration_id: int, run_id: int) -> str:
    """Export the integration's approved claims for this run and drive it to a final state."""
    from webapp.services.exports import execute

    return execute(integration_id, run_id)
