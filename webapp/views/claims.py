"""The organisation's claims: what became of each, where it is booked, and moving it."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, render_template, request

from webapp.access import login_required, org_blueprint_setup
from webapp.services import claims
from webapp.services import integrations as integration_service
from webapp.services.claims.schema import STATUSES

bp = Blueprint("claims", __name__, url_prefix="/o/<org_slug>/claims")
org_blueprint_setup(bp)


@bp.get("/")
@login_required
def index():
    """Claims with filters on status, integration and approval date, newest change last."""
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    integration = request.args.get("integration", "")
    integration_id = int(integration) if integration.isdigit() else None
    try:
        since = dt.date.fromisoformat(request.args.get("from", ""))
    except ValueError:
        since = None
    cursor = request.args.get("cursor") or None
    try:
        rows, next_cursor = claims.page(
            g.org.id,
            status=status,
            cursor=cursor,
            integration_id=integration_id,
            approved_from=since,
            limit=50,
        )
    except ValueError:
        rows, next_cursor = claims.page(g.org.id, status=status, limit=50)
    integrations = integration_service.of_organization(g.org.id)
    return render_template(
        "claims/index.html",
        rows=rows,
        next_cursor=next_cursor,
        integrations=integrations,
        statuses=STATUSES,
        chosen={"status": status or "", "integration": integration, "from": since},
    )
