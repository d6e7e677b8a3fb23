"""The organisation's dashboard: one card per integration."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, session, url_for

from webapp.access import login_required, memberships, org_blueprint_setup
from webapp.models import Integration

bp = Blueprint("dashboard", __name__, url_prefix="/o/<org_slug>")
org_blueprint_setup(bp)
home_bp = Blueprint("home", __name__)


@home_bp.get("/")
@login_required
def index():
    """Send a signed-in user to their organisation's dashboard."""
    mine = memberships(g.user)
    if not mine:
        if g.user.is_platform_admin:
            return redirect(url_for("admin.organizations"))
        return redirect(url_for("auth.no_access"))
    slugs = [m.organization.slug for m in mine]
    slug = session.get("org_slug") if session.get("org_slug") in slugs else slugs[0]
    return redirect(url_for("dashboard.home", org_slug=slug))


@bp.get("/")
def home():
    """Show the organisation's integrations and what needs attention."""
    integrations = list(
        Integration.select()
        .where(Integration.organization == g.org)
        .order_by(Integration.created_at)
    )
    return render_template("dashboard/home.html", integrations=integrations)
