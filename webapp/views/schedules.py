"""When an integration exports: the schedule form and its live preview of the next runs."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from webapp import htmx
from webapp.access import integration_or_404, org_blueprint_setup
from webapp.db import utcnow
from webapp.i18n import current_locale
from webapp.models import Integration
from webapp.schedule import Schedule, describe
from webapp.services.scheduler import save_schedule
from webapp.views import schedule_form

bp = Blueprint("schedules", __name__, url_prefix="/o/<org_slug>/integrations/<int:integration_id>")
org_blueprint_setup(bp)

PAGE = "schedules/edit.html"


@bp.route("/schedule", methods=["GET", "POST"])
def edit(integration_id: int):
    """Show the schedule; on submit, check it and save it (nothing is saved on an error)."""
    integration = integration_or_404(integration_id)
    if request.method == "POST":
        if not g.membership.is_admin:
            abort(403)
        values = schedule_form.values_from(request.form)
        schedule, errors = schedule_form.parse(integration, values)
        if schedule is not None and not errors:
            save_schedule(integration, schedule, g.user, utcnow())
            flash(
                _(
                    "The schedule for %(name)s is saved: %(schedule)s.",
                    name=integration.name,
                    schedule=describe(schedule, current_locale()),
                ),
                "success",
            )
            return redirect(url_for("dashboard.home"))
        return _render(integration, values, None, errors)
    values = schedule_form.stored_values(integration, suggest=True)
    schedule, errors = schedule_form.parse(integration, values)
    return _render(integration, values, schedule, errors)


@bp.get("/schedule/preview")
def preview(integration_id: int):
    """The next three runs for the values being entered (the whole form outside htmx)."""
    integration = integration_or_404(integration_id)
    values = schedule_form.values_from(request.args)
    schedule, errors = schedule_form.parse(integration, values)
    return _render(integration, values, schedule, errors, fragment=True)


def _render(
    integration: Integration,
    values: dict,
    schedule: Schedule | None,
    errors: dict[str, str],
    *,
    fragment: bool = False,
):
    context = schedule_form.context(integration, values, schedule, errors)
    template = "schedules/_preview.html" if fragment else "schedules/_form.html"
    return htmx.render(PAGE, template, integration=integration, **context)


@bp.app_template_global()
def describe_schedule(schedule: Schedule) -> str:
    """The schedule in words, in the page's language."""
    return describe(schedule, current_locale())
