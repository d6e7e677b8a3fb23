"""Where claims are booked: the organisation's default integration and moving a claim."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from webapp.access import (
    integration_or_404,
    login_required,
    org_admin_required,
    org_blueprint_setup,
)
from webapp.models import ExpenseClaim
from webapp.services import claims

bp = Blueprint("routing", __name__, url_prefix="/o/<org_slug>/routing")
org_blueprint_setup(bp)


@bp.post("/default")
@login_required
@org_admin_required
def set_default():
    """Choose the integration that books claims nothing else routes."""
    chosen = request.form.get("integration", "")
    if chosen == "":
        claims.set_default(g.org, None, g.user)
        flash(_("Claims without a rule now wait until a coordinator routes them."), "success")
    elif chosen.isdigit():
        integration = integration_or_404(int(chosen))
        claims.set_default(g.org, integration, g.user)
        flash(
            _("New claims go to %(name)s unless a rule says otherwise.", name=integration.name),
            "success",
        )
    else:
        abort(400)
    return redirect(url_for("dashboard.home"))


@bp.post("/claims/<int:claim_id>")
@login_required
@org_admin_required
def move_claim(claim_id: int):
    """Book a claim that is not yet exported in another integration."""
    claim = ExpenseClaim.get_or_none(
        (ExpenseClaim.id == claim_id) & (ExpenseClaim.organization == g.org.id)
    )
    if claim is None or not request.form.get("integration", "").isdigit():
        abort(404)
    integration = integration_or_404(int(request.form["integration"]))
    try:
        claims.move(claim, integration, g.user)
        flash(
            _(
                "Claim %(number)s will be booked in %(name)s.",
                number=claim.claim_number,
                name=integration.name,
            ),
            "success",
        )
    except claims.RoutingError:
        flash(
            _(
                "Claim %(number)s has already been sent to a ledger and cannot be moved.",
                number=claim.claim_number,
            ),
            "warning",
        )
    return redirect(url_for("claims.index"))
