"""The organisation's dashboard: one card per integration, and pausing or resuming exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from webapp import htmx, i18n
from webapp.access import (
    integration_or_404,
    login_required,
    memberships,
    org_admin_required,
    org_blueprint_setup,
)
from webapp.i18n import word
from webapp.models import Integration
from webapp.services import dashboard, integrations
from webapp.services.integrations import StaleVersion

bp = Blueprint("dashboard", __name__, url_prefix="/o/<org_slug>")
org_blueprint_setup(bp)
home_bp = Blueprint("home", __name__)


# --- template helpers used by the dashboard, run and schedule pages ------------------------------


@bp.app_template_global()
def endpoint_url(name: str, **values) -> str | None:
    """`url_for` for an endpoint that may not exist yet; None when it does not."""
    if name not in current_app.view_functions:
        return None
    try:
        return url_for(name, **values)
    except BuildError:
        return None


CARD_STATE_WORDS = {
    "connected": lambda: _("Connected"),
    "needs_attention": lambda: _("Needs attention"),
    "failing": lambda: _("Failing"),
    "paused": lambda: _("Paused"),
    "draft": lambda: _("Draft"),
    "archived": lambda: _("Archived"),
}


@bp.app_template_global()
def card_state_word(state: str) -> str:
    """How a card's state reads (the dashboard's card and its compact entry)."""
    return word(CARD_STATE_WORDS, state)


@bp.app_template_filter("local_time")
def local_time(value: dt.datetime | str | None, style: str = "short") -> str:
    """An instant in the organisation's time zone, in the page's language."""
    return i18n.local_time(value, style)


@bp.app_template_filter("iso_utc")
def iso_utc(value: dt.datetime | None) -> str:
    """Machine-readable instant for <time datetime="…">."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- views ---------------------------------------------------------------------------------------


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
    cards = dashboard.cards(g.org)
    archived = [c.integration for c in cards if c.integration.status == "archived"]
    active = [c for c in cards if c.integration.status != "archived"]
    return render_template(
        "dashboard/home.html",
        cards=active,
        archived=archived,
        # Many integrations: one short entry each (state, problems, times) leading to the
        # integration's own page, so the list stays quick to read, to hear and to load.
        compact=dashboard.is_compact(len(active)),
    )


@bp.get("/integrations/<int:integration_id>")
def integration(integration_id: int):
    """One integration's card on a page of its own (the compact dashboard links here)."""
    found = integration_or_404(integration_id)
    return render_template("dashboard/integration.html", card=dashboard.card(found))


@bp.get("/integrations/<int:integration_id>/summary")
def summary(integration_id: int):
    """One card's summary (status, times, chart); the whole dashboard outside htmx."""
    integration = integration_or_404(integration_id)
    context: dict[str, Any] = {"card": dashboard.card(integration)}
    if not htmx.is_fragment_request():
        context["cards"] = dashboard.cards(g.org)  # the whole dashboard, only when shown
    return htmx.render("dashboard/home.html", "dashboard/_summary.html", **context)


@bp.post("/integrations/<int:integration_id>/pause")
@org_admin_required
def pause(integration_id: int):
    """Stop scheduled and manual exports until resumed."""
    integration = integration_or_404(integration_id)
    if _attempt(integrations.pause, integration):
        flash(_("Exports for %(name)s are paused.", name=integration.name), "success")
    return redirect(url_for("dashboard.home"))


@bp.post("/integrations/<int:integration_id>/resume")
@org_admin_required
def resume(integration_id: int):
    """Let exports run again (still asking for credentials if they were rejected)."""
    integration = integration_or_404(integration_id)
    if _attempt(integrations.resume, integration):
        flash(_("Exports for %(name)s run again.", name=integration.name), "success")
    return redirect(url_for("dashboard.home"))


def _attempt(action, integration: Integration) -> bool:
    try:
        return action(integration, g.user, request.form.get("version", type=int))
    except StaleVersion:
        flash(
            _("Someone else changed this integration just now. Look at it again and retry."),
            "warning",
        )
        return False
