"""An integration's connection health: open issues, their history, the daily check."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.access import integration_or_404, org_blueprint_setup
from webapp.db import utcnow
from webapp.services import dashboard
from webapp.services.health import checks, expiry, issues

bp = Blueprint("connection", __name__, url_prefix="/o/<org_slug>/integrations")
org_blueprint_setup(bp)


@bp.get("/<int:integration_id>/health")
def history(integration_id: int):
    """When the connection broke and healed, and who fixed it."""
    integration = integration_or_404(integration_id)
    now = utcnow()
    return render_template(
        "connection/history.html",
        integration=integration,
        card=dashboard.card(integration),
        issues=issues.history(integration),
        check=checks.last_checks([integration.id]).get(integration.id),
        expiry=expiry.current([integration], integration.organization.time_zone, now).get(
            integration.id
        ),
        now=now,
    )
