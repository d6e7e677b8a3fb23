"""When an integration exports: the schedule form and its live preview of the next runs."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from webapp import htmx
from webapp.access import integration_or_404, org_blueprint_setup
from webapp.db import utcnow
from webapp.i18n import current_locale, format_local, text
from webapp.models import Integration
from webapp.schedule import DAY_KEYS, Schedule, describe, next_runs, parse_form
from webapp.services import scheduler
from webapp.services.scheduler import save_schedule

bp = Blueprint("schedules", __name__, url_prefix="/o/<org_slug>/integrations/<int:integration_id>")
org_blueprint_setup(bp)

PAGE = "schedules/edit.html"
# Form field → the schedule module's field name, per kind (daily and weekly each have a time).
TIME_FIELDS = {"daily": "daily_time", "weekly": "weekly_time"}


@bp.route("/schedule", methods=["GET", "POST"])
def edit(integration_id: int):
    """Show the schedule; on submit, check it and save it (nothing is saved on an error)."""
    integration = integration_or_404(integration_id)
    if request.method == "POST":
        if not g.membership.is_admin:
            abort(403)
        now = utcnow()
        values = _values(request.form)
        schedule, errors = parse_form(
            _parse_input(values), integration.organization.time_zone, anchor=now
        )
        if schedule is not None and not errors:
            save_schedule(integration, schedule, g.user, now)
            flash(
                _(
                    "The schedule for %(name)s is saved: %(schedule)s.",
                    name=integration.name,
                    schedule=describe(schedule, current_locale()),
                ),
                "success",
            )
            return redirect(url_for("dashboard.home"))
        return _render(integration, values, None, _field_errors(values, errors))
    values = _stored_values(integration)
    schedule, errors = _parse(integration, values)
    return _render(integration, values, schedule, _field_errors(values, errors))


@bp.get("/schedule/preview")
def preview(integration_id: int):
    """The next three runs for the values being entered (the whole form outside htmx)."""
    integration = integration_or_404(integration_id)
    values = _values(request.args)
    schedule, errors = _parse(integration, values)
    return _render(integration, values, schedule, _field_errors(values, errors), fragment=True)


def _parse(integration: Integration, values: dict):
    return parse_form(_parse_input(values), integration.organization.time_zone, anchor=utcnow())


def _render(
    integration: Integration,
    values: dict,
    schedule: Schedule | None,
    errors: dict[str, str],
    *,
    fragment: bool = False,
):
    zone = integration.organization.time_zone
    runs = []
    if schedule is not None and not errors:
        locale = current_locale()
        runs = [
            (run, format_local(run, zone, locale, "long")) for run in next_runs(schedule, utcnow())
        ]
    labels = {
        "kind": _("How often"),
        "hours": _("Hours between exports"),
        "daily_time": _("Time of day"),
        "weekly_time": _("Time of day"),
        "days": _("Days of the week"),
        "cron": _("Cron expression"),
        "time_zone": _("Time zone"),
    }
    context = {
        "integration": integration,
        "values": values,
        "errors": errors,
        "labels": labels,
        "schedule": schedule if not errors else None,
        "runs": runs,
        "time_zone": zone,
        "day_keys": DAY_KEYS,
        "day_names": _day_names(),
    }
    if fragment:
        return htmx.render(PAGE, "schedules/_preview.html", **context)
    return htmx.render(PAGE, "schedules/_form.html", **context)


def _values(form) -> dict:
    """What the coordinator entered, as the template shows it again."""
    return {
        "kind": (form.get("kind") or "").strip(),
        "hours": (form.get("hours") or "").strip(),
        "daily_time": (form.get("daily_time") or "").strip(),
        "weekly_time": (form.get("weekly_time") or "").strip(),
        "days": [d for d in form.getlist("days") if d],
        "cron": (form.get("cron") or "").strip(),
    }


def _parse_input(values: dict) -> dict:
    kind = values["kind"]
    return {
        "kind": kind,
        "hours": values["hours"],
        "time": values[TIME_FIELDS[kind]] if kind in TIME_FIELDS else "",
        "days": values["days"],
        "cron": values["cron"],
    }


def _field_errors(values: dict, errors: dict) -> dict[str, str]:
    """Errors keyed by this form's field names, in the page's language."""
    out = {}
    for name, message in errors.items():
        if name == "time":
            name = TIME_FIELDS.get(values["kind"], "daily_time")
        out[name] = text(message)
    return out


def _stored_values(integration: Integration) -> dict:
    row = scheduler.schedule_of(integration)
    values = {
        "kind": "manual",
        "hours": "",
        "daily_time": "",
        "weekly_time": "",
        "days": [],
        "cron": "",
    }
    if row is None:
        return values
    expression: dict = row.expression or {}
    values["kind"] = row.kind
    if row.kind == "interval":
        values["hours"] = str(expression.get("hours", ""))
    elif row.kind in TIME_FIELDS:
        values[TIME_FIELDS[row.kind]] = str(expression.get("time", ""))
        values["days"] = [DAY_KEYS[d] for d in expression.get("days", []) if 0 <= d < 7]
    elif row.kind == "cron":
        values["cron"] = str(expression.get("cron", ""))
    return values


def _day_names() -> dict[str, str]:
    names = [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]
    return dict(zip(DAY_KEYS, names, strict=True))


@bp.app_template_global()
def describe_schedule(schedule: Schedule) -> str:
    """The schedule in words, in the page's language."""
    return describe(schedule, current_locale())
