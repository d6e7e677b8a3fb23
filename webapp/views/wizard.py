"""Setup wizard: type → credentials → field mapping → schedule → test → save.

Each step is a page that works as a plain form post, and for htmx a fragment that swaps
`#wizard` in place and pushes the step's URL (so Back in the browser works). A draft
integration holds everything entered so far; credentials go into the vault the moment their
step is submitted, so Back and Next keep them and nothing secret travels in a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from adapters import all_types, get_type
from webapp.access import integration_or_404, org_admin_required, org_blueprint_setup
from webapp.htmx import STOP_POLLING, is_fragment_request, push_url, render
from webapp.htmx import redirect as htmx_redirect
from webapp.i18n import current_locale, text
from webapp.mapping import CATALOGUE, rows_from_defaults
from webapp.models import Integration
from webapp.schedule import describe
from webapp.services import checks, integrations, lifecycle, mappings, scheduler
from webapp.services import credentials as creds
from webapp.services.health import expiry
from webapp.services.integrations import WIZARD_STEPS, StaleVersion
from webapp.views import schedule_form
from webapp.views.credentials import expiry_label, not_tested_message, test_panel, when_local

bp = Blueprint("wizard", __name__, url_prefix="/o/<org_slug>/integrations")
org_blueprint_setup(bp)

PAGE = "wizard/page.html"


def step_titles() -> dict[str, str]:
    return {
        "type": _("Accounting system"),
        "credentials": _("Credentials"),
        "mapping": _("Field mapping"),
        "schedule": _("Schedule"),
        "test": _("Test connection"),
        "save": _("Save"),
    }


# --- step 1: type --------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@org_admin_required
def start():
    """Begin setting up an integration: choose the accounting system."""
    if request.method == "POST":
        type_key = request.form.get("type_key", "")
        if type_key not in _type_keys():
            return _show(None, "type", errors={"type_key": _choose_type_message()})
        integration = integrations.start_draft(g.org, type_key, g.user)
        return _go(integration, "credentials")
    return _show(None, "type")


@bp.route("/<int:integration_id>/setup/type", methods=["GET", "POST"], endpoint="type")
@org_admin_required
def choose_type(integration_id: int):
    """Change which accounting system a draft connects to."""
    integration, early = _draft(integration_id, "type")
    if early:
        return early
    if request.method == "POST":
        type_key = request.form.get("type_key", "")
        if type_key not in _type_keys():
            return _show(integration, "type", errors={"type_key": _choose_type_message()})
        integration = integrations.change_type(integration, type_key, g.user)
        return _go(integration, "credentials")
    return _show(integration, "type")


# --- step 2: credentials -------------------------------------------------------------------------


@bp.route("/<int:integration_id>/setup/credentials", methods=["GET", "POST"])
@org_admin_required
def credentials(integration_id: int):
    """Enter the system's credentials; they are sealed into the vault on submit."""
    integration, early = _draft(integration_id, "credentials")
    if early:
        return early
    if request.method == "POST":
        result = creds.stage(integration, request.form, g.user, advance_to="mapping")
        if not result.ok:
            return _show(
                result.integration, "credentials", errors=result.errors, entered=result.entered
            )
        return _go(result.integration, "mapping")
    return _show(integration, "credentials")


# --- steps 3 and 4: field mapping and schedule ---------------------------------------------------


@bp.route("/<int:integration_id>/setup/mapping", methods=["GET", "POST"])
@org_admin_required
def mapping(integration_id: int):
    """Show the type's default field mapping and accept it."""
    integration, early = _draft(integration_id, "mapping")
    if early:
        return early
    if request.method == "POST":
        mappings.install_defaults(integration, g.user)
        return _go(integrations.advance(integration, "schedule", g.user), "schedule")
    return _show(integration, "mapping")


@bp.route("/<int:integration_id>/setup/schedule", methods=["GET", "POST"])
@org_admin_required
def schedule(integration_id: int):
    """Choose when exports run; the schedule is saved with the integration."""
    integration, early = _draft(integration_id, "schedule")
    if early:
        return early
    if request.method == "POST":
        values = schedule_form.values_from(request.form)
        # A form sent without a choice (an older page) keeps exports on request.
        values["kind"] = values["kind"] or "manual"
        chosen, errors = schedule_form.parse(integration, values)
        if chosen is None or errors:
            context = schedule_form.context(integration, values, None, errors)
            return _show(integration, "schedule", **context)
        scheduler.save_schedule(integration, chosen, g.user)
        return _go(integrations.advance(integration, "test", g.user), "test")
    return _show(integration, "schedule")


# --- step 5: test --------------------------------------------------------------------------------


@bp.get("/<int:integration_id>/setup/test", endpoint="test")
@org_admin_required
def test_step(integration_id: int):
    """Explain the connection test and show the latest result."""
    integration, early = _draft(integration_id, "test")
    if early:
        return early
    return _show(integration, "test")


@bp.post("/<int:integration_id>/setup/test")
@org_admin_required
def run_test(integration_id: int):
    """Enqueue a connection test and answer at once with a status that polls itself."""
    integration, early = _draft(integration_id, "test")
    if early:
        return early
    version = integration.pending_credential_version
    try:
        test = checks.start_test(integration, version, g.user)
    except checks.RateLimited as limited:
        return _test_status(integration, creds.latest_test(integration, version), limited=limited)
    except checks.NothingToTest:
        return _go(integration, "credentials")
    if not is_fragment_request():
        url = url_for("wizard.test_status", integration_id=integration.id, test_id=test.id)
        return redirect(url, code=303)
    return _test_status(integration, test, just_started=True)


@bp.get("/<int:integration_id>/setup/test/<int:test_id>")
@org_admin_required
def test_status(integration_id: int, test_id: int):
    """The test's progress: polled every second by htmx, or refreshed by hand without it."""
    integration, early = _draft(integration_id, "test")
    if early:
        return early
    test = checks.get_test(integration, test_id)
    if test is None:
        abort(404)
    return _test_status(integration, test)


def _test_status(integration: Integration, test, **options):
    context = _panel(integration, test, oob=True, **options)
    if not is_fragment_request():
        return _show(integration, "test", **context)
    status = STOP_POLLING if checks.is_final(test) else 200
    return render(
        PAGE, "wizard/_test_status.html", status=status, integration=integration, **context
    )


# --- step 6: save --------------------------------------------------------------------------------


@bp.route("/<int:integration_id>/setup/save", methods=["GET", "POST"])
@org_admin_required
def save(integration_id: int):
    """Save the tested integration: its credentials become the active set."""
    integration, early = _draft(integration_id, "save")
    if early:
        return early
    if request.method == "GET":
        return _show(integration, "save")
    name = request.form.get("name")
    if name is not None:
        problem = lifecycle.name_problem(g.org.id, name, exclude=integration.id)
        if problem is not None:
            return _show(integration, "save", errors={"name": text(problem)}, entered_name=name)
    try:
        integration = lifecycle.finish_setup(
            integration, g.user, expected_version=request.form.get("version", type=int)
        )
    except creds.NotTested:
        return _show(integration, "save", problem=not_tested_message())
    except StaleVersion as stale:
        return _show(stale.integration, "save", problem=_stale_message(stale))
    if name is not None:
        integration = lifecycle.rename(integration, name, g.user)
    row = scheduler.schedule_of(integration)
    if row is None or row.kind == "manual":
        message = _(
            "%(name)s is connected. Exports run when you choose Export now, until you set "
            "a schedule.",
            name=integration.name,
        )
    else:
        message = _(
            "%(name)s is connected and scheduled: %(schedule)s.",
            name=integration.name,
            schedule=_schedule_words(integration),
        )
    flash(message, "success")
    url = url_for("dashboard.home")
    if is_fragment_request():
        return htmx_redirect(render(PAGE, "wizard/_done.html", url=url), url)
    return redirect(url, code=303)


@bp.post("/<int:integration_id>/setup/discard")
@org_admin_required
def discard(integration_id: int):
    """Delete a draft and everything entered for it."""
    integration, early = _draft(integration_id, "type")
    if early:
        return early
    integrations.delete_draft(integration, g.user, action="integration.draft_deleted")
    flash(_("The unfinished setup was deleted."), "success")
    return redirect(url_for("wizard.start"), code=303)


# --- helpers -------------------------------------------------------------------------------------


# The two systems the customers use first; any other registered type after them.
TYPE_ORDER = ("xledger", "dynamics_dataverse", "dynamics_bc")


def _types():
    def rank(t):
        return TYPE_ORDER.index(t.key) if t.key in TYPE_ORDER else len(TYPE_ORDER)

    return sorted(all_types(), key=lambda t: (rank(t), t.key))


def _type_keys() -> set[str]:
    return {t.key for t in all_types()}


def _choose_type_message() -> str:
    return _("Choose the accounting system your organisation uses.")


def _stale_message(stale: StaleVersion) -> str:
    return _(
        "%(name)s changed this setup at %(time)s while you were working on it. Check the "
        "steps and save again.",
        name=stale.changed_by or _("Someone"),
        time=when_local(stale.changed_at),
    )


def _draft(integration_id: int, step: str):
    """The organisation's draft, and a response to send instead when the step is not open."""
    integration = integration_or_404(integration_id)
    if integration.status != "draft":
        flash(_("This integration is already set up. Change its credentials here."), "info")
        url = url_for("credentials.edit", integration_id=integration.id)
        return integration, redirect(url, code=303)
    if not _reachable(integration, step):
        url = url_for(f"wizard.{integration.wizard_step}", integration_id=integration.id)
        return integration, redirect(url, code=303)
    return integration, None


def _reachable(integration: Integration, step: str) -> bool:
    reached = WIZARD_STEPS.index(integration.wizard_step)
    wanted = WIZARD_STEPS.index(step)
    # Save is always one step away from the test: it explains what is missing.
    return wanted <= reached or (step == "save" and reached >= WIZARD_STEPS.index("test"))


def _go(integration: Integration, step: str):
    """After a valid submit: the next step, swapped in place (htmx) or as a new page."""
    url = url_for(f"wizard.{step}", integration_id=integration.id)
    if not is_fragment_request():
        return redirect(url, code=303)
    return push_url(_show(integration, step), url)


def _show(integration: Integration | None, step: str, **extra):
    """Render one step, as a page or as the `#wizard` fragment."""
    titles = step_titles()
    number = WIZARD_STEPS.index(step) + 1
    itype = get_type(integration.type_key) if integration is not None else None
    context = dict(
        integration=integration,
        itype=itype,
        step=step,
        step_number=number,
        step_count=len(WIZARD_STEPS),
        step_title=titles[step],
        steps=_step_links(integration, step, titles),
        is_fragment=is_fragment_request(),
        errors={},
    )
    context.update(_STEP_CONTEXT[step](integration))
    context.update(extra)
    return render(PAGE, f"wizard/_{step}.html", **context)


def _step_links(integration: Integration | None, current: str, titles: dict[str, str]):
    reached = WIZARD_STEPS.index(integration.wizard_step) if integration else 0
    links = []
    for index, step in enumerate(WIZARD_STEPS):
        url = None
        if integration is not None and step != current and _reachable(integration, step):
            url = url_for(f"wizard.{step}", integration_id=integration.id)
        elif integration is None and step == "type" and step != current:
            url = url_for("wizard.start")
        links.append(
            {
                "step": step,
                "title": titles[step],
                "url": url,
                "current": step == current,
                "done": index < reached and step != current,
            }
        )
    return links


def _type_context(integration: Integration | None) -> dict:
    drafts = []
    if integration is None:
        drafts = integrations.drafts_of(g.org.id)
    return {
        "types": _types(),
        "chosen": request.form.get("type_key") or (integration.type_key if integration else ""),
        "drafts": drafts,
        "form_url": (
            url_for("wizard.type", integration_id=integration.id)
            if integration
            else url_for("wizard.start")
        ),
    }


def _credentials_context(integration: Integration) -> dict:
    version = integration.pending_credential_version
    fields, unreadable = creds.field_views(integration, version)
    fix = request.args.get("fix")
    errors = {}
    if fix and (check := creds.failed_check(creds.latest_test(integration, version), fix)):
        errors[fix] = text(check.get("message"))
    return {
        "fields": fields,
        "field_labels": {v.field.name: text(v.field.label) for v in fields}
        | {expiry.FIELD: expiry_label()},
        "unreadable": unreadable,
        "entered": {},
        "errors": errors,
        "open_fields": {fix} - {None},
    }


def _mapping_context(integration: Integration) -> dict:
    itype = get_type(integration.type_key)
    rows = list(mappings.stored_rows(integration).values()) or rows_from_defaults(itype)
    labels = {t.name: text(t.label) for t in itype.target_fields}
    return {
        "mapping_rows": [
            {"target": labels.get(row.target, row.target), "source": _describe_source(row)}
            for row in rows
        ]
    }


def _describe_source(row) -> str:
    def field_label(name: str) -> str:
        entry = CATALOGUE.get(name)
        return text(entry[1]) if entry else name

    if row.kind == "field":
        return field_label(row.value)
    if row.kind == "constant":
        return _("Always %(value)s", value=row.value)
    if row.kind == "lookup":
        pairs = ", ".join(
            f"{lookup_key_word(row.value, key)} → {value}" for key, value in row.lookup
        )
        described = _("%(field)s, looked up: %(pairs)s", field=field_label(row.value), pairs=pairs)
        if row.lookup_default:
            described += " " + _("(otherwise %(value)s)", value=row.lookup_default)
        return described
    return _("Text made from: %(template)s", template=row.value)


def _schedule_context(integration: Integration) -> dict:
    values = schedule_form.stored_values(integration, suggest=True)
    chosen, errors = schedule_form.parse(integration, values)
    return schedule_form.context(integration, values, chosen, errors)


def _schedule_words(integration: Integration) -> str:
    """The saved schedule in words, for the save summary and the message after saving."""
    values = schedule_form.stored_values(integration)
    chosen, errors = schedule_form.parse(integration, values)
    if chosen is None or errors:
        return _("Export only when you choose Export now")
    return describe(chosen, current_locale())


def _test_context(integration: Integration) -> dict:
    test = creds.latest_test(integration, integration.pending_credential_version)
    if test is not None:
        test = checks.expire_if_stale(test)
    return _panel(integration, test)


def _panel(integration: Integration, test, *, limited=None, just_started=False, oob=False):
    return test_panel(
        integration,
        test,
        mode="wizard",
        fix_url=lambda name: url_for(
            "wizard.credentials", integration_id=integration.id, fix=name, _anchor=f"field-{name}"
        ),
        status_url=lambda t: url_for(
            "wizard.test_status", integration_id=integration.id, test_id=t.id
        ),
        next_url=url_for("wizard.save", integration_id=integration.id),
        save_url=url_for("wizard.save", integration_id=integration.id),
        rate_limited=limited,
        just_started=just_started,
        oob=oob,
    ) | {"test_schedule_words": _schedule_words(integration)}


def _save_context(integration: Integration) -> dict:
    version = integration.pending_credential_version
    fields, unreadable = creds.field_views(integration, version)
    return {
        "fields": fields,
        "unreadable": unreadable,
        "passed": creds.passed_test(integration, version),
        "mapping_count": mappings.mapping_count(integration),
        "problem": None,
        "same_system": integrations.same_system(integration),
        "schedule_words": _schedule_words(integration),
    }


# Each step's own context; the type step's takes None (no draft yet) too.
_STEP_CONTEXT: dict[str, Callable[[Any], dict]] = {
    "type": _type_context,
    "credentials": _credentials_context,
    "mapping": _mapping_context,
    "schedule": _schedule_context,
    "test": _test_context,
    "save": _save_context,
}


# The host app's usual expense types, as a coordinator calls them (the keys stay as sent).
EXPENSE_TYPE_WORDS = {
    "mileage": lambda: _("Mileage allowance"),
    "travel": lambda: _("Travel"),
    "meals": lambda: _("Meals"),
    "course": lambda: _("Course or meeting"),
    "office": lambda: _("Office supplies"),
    "other": lambda: _("Other"),
}


@bp.app_template_global()
def lookup_key_word(source: str, key: str) -> str:
    """A lookup table's key in words: "Mileage allowance (mileage)" for an expense type."""
    word = EXPENSE_TYPE_WORDS.get(key) if source.endswith("expense_type") else None
    return f"{word()} ({key})" if word else key
