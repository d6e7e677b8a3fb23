"""Where claims are booked: the organisation's default integration and moving a claim."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import (
    integration_or_404,
    login_required,
    org_admin_required,
    org_blueprint_setup,
)
from webapp.services import claims
from webapp.services import integrations as integration_service

bp = Blueprint("routing", __name__, url_prefix="/o/<org_slug>/routing")
org_blueprint_setup(bp)


@bp.get("/")
@login_required
@org_admin_required
def rules():
    """Rules that send claims of a department or project to one integration."""
    return _rules_page(None)


def _rules_page(error: str | None, values: dict | None = None):
    rules = claims.rules_with_integrations(g.org.id)
    integrations = integration_service.of_organization(g.org.id)
    return render_template(
        "routing/rules.html",
        rules=rules,
        integrations=integrations,
        error=error,
        values=values or {},
    )


@bp.post("/rules")
@login_required
@org_admin_required
def add_rule():
    """Send claims with this department and/or project to an integration."""
    values = request.form.to_dict()
    chosen = values.get("integration", "")
    if not chosen.isdigit():
        return _rules_page(_("Choose the integration that books these claims."), values)
    integration = integration_or_404(int(chosen))
    try:
        claims.add_rule(
            g.org, integration, values.get("department", ""), values.get("project", ""), g.user
        )
    except claims.RoutingError:
        return _rules_page(_("Enter a department, a project or both."), values)
    flash(_("Claims that match now go to %(name)s.", name=integration.name), "success")
    return redirect(url_for("routing.rules"))


@bp.post("/rules/<int:rule_id>/remove")
@login_required
@org_admin_required
def remove_rule(rule_id: int):
    """Stop using a rule (claims already routed stay where they are)."""
    if not claims.remove_rule(g.org, rule_id, g.user):
        abort(404)
    flash(_("The rule is removed."), "success")
    return redirect(url_for("routing.rules"))


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
    claim = claims.claim_of(g.org.id, claim_id)
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
