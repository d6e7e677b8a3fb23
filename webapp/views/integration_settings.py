"""An integration's name and its end: rename, archive, restore, delete (issue 16)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from webapp import htmx
from webapp.access import integration_or_404, org_admin_required, org_blueprint_setup
from webapp.i18n import text
from webapp.models import Integration
from webapp.services import lifecycle, organizations
from webapp.services.integrations import StaleVersion

bp = Blueprint("settings", __name__, url_prefix="/o/<org_slug>/integrations/<int:integration_id>")
org_blueprint_setup(bp)

PAGE = "integration_settings/page.html"


@bp.get("/settings")
def show(integration_id: int):
    """The integration's name, and archiving or deleting it (read-only for coordinators)."""
    return _render(integration_or_404(integration_id))


@bp.post("/settings/name")
@org_admin_required
def rename(integration_id: int):
    """Give the integration another name."""
    integration = integration_or_404(integration_id)
    name = request.form.get("name", "")
    problem = lifecycle.name_problem(g.org.id, name, exclude=integration.id)
    if problem is not None:
        return _render(integration, errors={"name": text(problem)}, entered=name)
    try:
        lifecycle.rename(integration, name, g.user, request.form.get("version", type=int))
    except StaleVersion:
        return _stale(integration)
    flash(_("The integration is now called %(name)s.", name=name.strip()), "success")
    return redirect(url_for("settings.show", integration_id=integration.id), code=303)


@bp.post("/settings/archive")
@org_admin_required
def archive(integration_id: int):
    """Archive: exports and checks stop; runs and exported claims are kept."""
    integration = integration_or_404(integration_id)
    try:
        done = lifecycle.archive(integration, g.user, request.form.get("version", type=int))
    except StaleVersion:
        return _stale(integration)
    if done:
        flash(
            _(
                "%(name)s is archived. Its export history is kept; nothing more is exported.",
                name=integration.name,
            ),
            "success",
        )
    return redirect(url_for("dashboard.home"), code=303)


@bp.post("/settings/restore")
@org_admin_required
def restore(integration_id: int):
    """Bring an archived integration back, with exports paused."""
    integration = integration_or_404(integration_id)
    try:
        done = lifecycle.restore(integration, g.user, request.form.get("version", type=int))
    except StaleVersion:
        return _stale(integration)
    if done:
        flash(
            _(
                "%(name)s is back, with exports paused. Test the connection, then resume "
                "exports on the dashboard.",
                name=integration.name,
            ),
            "success",
        )
    return redirect(url_for("dashboard.home"), code=303)


@bp.post("/settings/delete")
@org_admin_required
def delete(integration_id: int):
    """Delete an integration that never exported a claim."""
    integration = integration_or_404(integration_id)
    name = integration.name
    if lifecycle.delete(integration, g.user):
        flash(_("%(name)s is deleted.", name=name), "success")
        return redirect(url_for("dashboard.home"), code=303)
    flash(
        _("%(name)s has exported claims and cannot be deleted. Archive it instead.", name=name),
        "warning",
    )
    return redirect(url_for("settings.show", integration_id=integration.id), code=303)


def _stale(integration: Integration):
    flash(
        _("Someone else changed this integration just now. Look at it again and retry."),
        "warning",
    )
    return redirect(url_for("settings.show", integration_id=integration.id), code=303)


def _render(integration: Integration, errors: dict | None = None, entered: str | None = None):
    return htmx.render(
        PAGE,
        "integration_settings/_name.html",
        integration=integration,
        options=lifecycle.options(integration),
        errors=errors or {},
        entered=integration.name if entered is None else entered,
    )


@bp.app_template_global()
def who_can_change() -> str:
    """ "Only X and Y can change this": for read-only coordinators, naming the admins."""
    names = organizations.admin_names(g.org.id)
    if not names:
        return _(
            "Only a coordinator administrator can change this, and %(org)s has none yet.",
            org=g.org.name,
        )
    return _(
        "You can see this but not change it. Coordinator administrators can: %(names)s.",
        names=", ".join(names),
    )
