"""The export job: one sync run, by ids (never objects or secrets)."""

from __future__ import annotations

from webapp.jobs import job


@job
def run_export(integration_id: int, run_id: int) -> str:
    """Export the integration's approved claims for this run and drive it to a final state.

    A scheduled run first checks the connection if the last check is over an hour old; what
    the run ends with is then recorded as the connection's health (issues, e-mail)."""
    from webapp.services.exports import execute
    from webapp.services.health import outcomes, probe

    probe.before_export(integration_id, run_id)
    status = execute(integration_id, run_id)
    outcomes.after_export(integration_id, run_id)
    return status
