"""The schedule form's fields, shared by the schedule page and the wizard's schedule step.

Form field names differ from the schedule module's (daily and weekly each have their own
time field, so switching kind keeps what was typed); these helpers translate both ways.
"""

from __future__ import annotations

from flask_babel import gettext as _

from webapp.db import utcnow
from webapp.i18n import current_locale, format_local, text
from webapp.models import Integration
from webapp.schedule import DAY_KEYS, Schedule, next_runs, parse_form
from webapp.services import scheduler

# Form field → the schedule module's field name, per kind (daily and weekly each have a time).
TIME_FIELDS = {"daily": "daily_time", "weekly": "weekly_time"}
# What a kind's fields hold before anything is typed: choosing "Every day" is then enough.
SUGGESTED = {"hours": "6", "daily_time": "02:00", "weekly_time": "06:00"}


def values_from(form) -> dict:
    """What the coordinator entered, as the template shows it again."""
    return {
        "kind": (form.get("kind") or "").strip(),
        "hours": (form.get("hours") or "").strip(),
        "daily_time": (form.get("daily_time") or "").strip(),
        "weekly_time": (form.get("weekly_time") or "").strip(),
        "days": [d for d in form.getlist("days") if d],
        "cron": (form.get("cron") or "").strip(),
    }


def parse(integration: Integration, values: dict):
    """The schedule entered (or None) and its errors keyed by this form's field names."""
    schedule, errors = parse_form(
        _parse_input(values), integration.organization.time_zone, anchor=utcnow()
    )
    return schedule, field_errors(values, errors)


def _parse_input(values: dict) -> dict:
    kind = values["kind"]
    return {
        "kind": kind,
        "hours": values["hours"],
        "time": values[TIME_FIELDS[kind]] if kind in TIME_FIELDS else "",
        "days": values["days"],
        "cron": values["cron"],
    }


def field_errors(values: dict, errors: dict) -> dict[str, str]:
    """Errors keyed by this form's field names, in the page's language."""
    out = {}
    for name, message in errors.items():
        if name == "time":
            name = TIME_FIELDS.get(values["kind"], "daily_time")
        out[name] = text(message)
    return out


def stored_values(integration: Integration, *, suggest: bool = False) -> dict:
    """The saved schedule as form values (manual when none is saved); with `suggest`, the
    fields of the kinds not chosen hold a usual value instead of nothing."""
    row = scheduler.schedule_of(integration)
    blank = dict(SUGGESTED) if suggest else dict.fromkeys(SUGGESTED, "")
    values = {"kind": "manual", **blank, "days": [], "cron": ""}
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


def labels() -> dict[str, str]:
    return {
        "kind": _("How often"),
        "hours": _("Hours between exports"),
        "daily_time": _("Time of day"),
        "weekly_time": _("Time of day"),
        "days": _("Days of the week"),
        "cron": _("Cron expression"),
        "time_zone": _("Time zone"),
    }


def day_names() -> dict[str, str]:
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


def context(
    integration: Integration, values: dict, schedule: Schedule | None, errors: dict[str, str]
) -> dict:
    """What `schedules/_fields.html` and `schedules/_preview.html` need."""
    zone = integration.organization.time_zone
    runs = []
    if schedule is not None and not errors:
        locale = current_locale()
        runs = [
            (run, format_local(run, zone, locale, "long")) for run in next_runs(schedule, utcnow())
        ]
    return {
        "values": values,
        "errors": errors,
        "labels": labels(),
        "schedule": schedule if not errors else None,
        "runs": runs,
        "time_zone": zone,
        "day_keys": DAY_KEYS,
        "day_names": day_names(),
    }
