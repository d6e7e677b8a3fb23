"""Credential management form: see, test and rotate the credentials of a saved integration.

New values go into a pending credential set and are tested; the test job makes them the
active set only if the test passes, so exports keep using the old set until then and after
a failure. Submitting without changes tests the set in use (and a pass ends `needs_reauth`).
Opened with `?reason=auth` (an export was refused), the form starts with what the system
rejected and links to the field to fix. The test status fragment is shared with the wizard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from adapters import get_type
from webapp.access import integration_or_404, org_admin_required, org_blueprint_setup
from webapp.htmx import STOP_POLLING, is_fragment_request, render, trigger
from webapp.i18n import local_time, text
from webapp.models import ConnectionTest, Integration
from webapp.services import checks
from webapp.services import credentials as creds
from webapp.services.health import expiry
from webapp.services.integrations import StaleVersion

bp = Blueprint("credentials", __name__, url_prefix="/o/<org_slug>/integrations")
org_blueprint_setup(bp)

PAGE = "credentials/page.html"
FRAGMENT = "credentials/_form.html"
STATUS = "wizard/_test_status.html"


@bp.app_template_global()
def shown_valid_until(integration: Integration) -> dt.date | None:
    """The end date entered with the credential set the form shows."""
    return expiry.of_set(integration, creds.shown_version(integration))


@bp.app_template_global()
def expiry_label() -> str:
    return _("Secret valid until")


@bp.app_template_global()
def when_local(value: dt.datetime | str | None, seconds: bool = False) -> str:
    """A moment as the organisation reads it: its time zone, the page's language."""
    return local_time(value, "seconds" if seconds else "numeric")


@bp.route("/<int:integration_id>/credentials", methods=["GET", "POST"])
@org_admin_required
def edit(integration_id: int):
    """Show the credentials; on submit, seal the new values and test them."""
    integration = integration_or_404(integration_id)
    if integration.status == "draft":
        return redirect(url_for("wizard.credentials", integration_id=integration.id))
    if request.method == "GET":
        test_id = request.args.get("test", type=int)
        test = checks.get_test(integration, test_id) if test_id else None
        # Reloaded after a test finished (htmx): focus goes back to the result.
        return _page(integration, test=test, just_started=request.args.get("focus") == "test")
    try:
        result = creds.stage(integration, request.form, g.user, expected_version=_form_version())
    except StaleVersion as stale:
        return _page(stale.integration, stale=stale)
    if not result.ok:
        return _page(result.integration, errors=result.errors, entered=result.entered)
    return _start_test(result.integration)


@bp.get("/<int:integration_id>/credentials/tests/<int:test_id>")
@org_admin_required
def test_status(integration_id: int, test_id: int):
    """The test's progress: a fragment that polls itself until the result is final."""
    integration = integration_or_404(integration_id)
    test = checks.get_test(integration, test_id)
    if test is None:
        abort(404)
    if not is_fragment_request():
        return _page(integration, test=test)
    # Polled every second: only what the status fragment needs.
    final = checks.is_final(test)
    context = _panel(integration, test, oob=True)
    response = render(
        PAGE, STATUS, status=STOP_POLLING if final else 200, integration=integration, **context
    )
    if final:
        # A passed test may have put new credentials in use: the form above reloads.
        trigger(response, "credentials-changed")
    return response


@bp.post("/<int:integration_id>/credentials/test")
@org_admin_required
def retest(integration_id: int):
    """Run a fresh connection test of the saved credentials (the dashboard's Test connection)
    and show it progressing, instead of the last result."""
    integration = integration_or_404(integration_id)
    if integration.status == "draft":
        return redirect(url_for("wizard.credentials", integration_id=integration.id))
    return _start_test(integration)


@bp.post("/<int:integration_id>/credentials/save")
@org_admin_required
def save(integration_id: int):
    """Start using the new credentials (only after they passed a test)."""
    integration = integration_or_404(integration_id)
    try:
        integration = creds.activate(integration, g.user, expected_version=_form_version())
    except creds.NotTested:
        return _page(integration, notice=("error", not_tested_message()))
    except StaleVersion as stale:
        return _page(stale.integration, stale=stale)
    return _done(integration, _("The new credentials are saved and in use from now on."))


@bp.post("/<int:integration_id>/credentials/discard")
@org_admin_required
def discard(integration_id: int):
    """Forget new credentials that were entered but not saved."""
    integration = integration_or_404(integration_id)
    integration = creds.discard_pending(integration, g.user)
    return _done(integration, _("The new credentials were discarded. Nothing changed."))


def not_tested_message() -> str:
    return _(
        "Save is possible only after a connection test passed with exactly these "
        "credentials. Test the connection, then save."
    )


def _done(integration: Integration, message: str):
    if not is_fragment_request():
        flash(message, "success")
        return redirect(url_for("credentials.edit", integration_id=integration.id), code=303)
    return _page(integration, notice=("success", message))


def _start_test(integration: Integration):
    try:
        test = checks.start_test(integration, creds.shown_version(integration), g.user)
    except checks.RateLimited as limited:
        return _page(integration, rate_limited=limited)
    except checks.NothingToTest:
        return _page(integration, notice=("error", _("Enter the credentials first.")))
    if not is_fragment_request():
        url = url_for("credentials.edit", integration_id=integration.id, test=test.id)
        return redirect(url, code=303)
    return _page(integration, test=test, just_started=True)


def _form_version() -> int | None:
    return request.form.get("version", type=int)


def _page(
    integration: Integration,
    *,
    test: ConnectionTest | None = None,
    errors: dict[str, str] | None = None,
    entered: dict[str, str] | None = None,
    stale: StaleVersion | None = None,
    notice: tuple[str, str] | None = None,
    rate_limited: checks.RateLimited | None = None,
    just_started: bool = False,
):
    itype = get_type(integration.type_key)
    version = creds.shown_version(integration)
    fields, unreadable = creds.field_views(integration, version)
    if test is None:
        test = creds.latest_test(integration, version)
        test = checks.expire_if_stale(test) if test is not None else None
    errors = dict(errors or {})
    fix = request.args.get("fix")
    reauth: dict | None = (
        integration.reauth_reason if integration.status == "needs_reauth" else None
    )
    if reauth is None and request.args.get("reason") and integration.reauth_reason:
        reauth = integration.reauth_reason
    if reauth and test is not None and _older_than(test, reauth):
        # A pass from before the system rejected these credentials would only mislead.
        test = None
    if fix and not errors and (check := creds.failed_check(test, fix)):
        errors[fix] = text(check.get("message"))
    context = dict(
        integration=integration,
        itype=itype,
        fields=fields,
        field_labels={v.field.name: text(v.field.label) for v in fields}
        | {expiry.FIELD: expiry_label()},
        unreadable=unreadable,
        errors=errors,
        entered=entered or {},
        open_fields={fix, (reauth or {}).get("field")} - {None},
        reauth=reauth,
        stale=stale,
        notice=notice,
        active_saved=_active_saved(integration),
        form_url=url_for("credentials.edit", integration_id=integration.id),
        refresh_url=url_for("credentials.edit", integration_id=integration.id, focus="test"),
        **_panel(integration, test, rate_limited=rate_limited, just_started=just_started),
    )
    return render(PAGE, FRAGMENT, **context)


def _older_than(test: ConnectionTest, reauth: dict) -> bool:
    try:
        rejected_at = dt.datetime.fromisoformat(reauth.get("at") or "")
    except ValueError:
        return False
    return test.created_at < rejected_at


def _panel(integration: Integration, test: ConnectionTest | None, **options) -> dict:
    mode = "pending" if integration.pending_credential_version is not None else "active"
    return test_panel(
        integration,
        test,
        mode=mode,
        fix_url=lambda name: url_for(
            "credentials.edit", integration_id=integration.id, fix=name, _anchor=f"field-{name}"
        ),
        status_url=lambda t: url_for(
            "credentials.test_status", integration_id=integration.id, test_id=t.id
        ),
        save_url=url_for("credentials.save", integration_id=integration.id),
        **options,
    )


def _active_saved(integration: Integration):
    """When the credentials in use were saved, for the "not in use yet" notice."""
    if integration.pending_credential_version is None:
        return None
    if integration.active_credential_version is None:
        return None
    views, _unreadable = creds.field_views(integration, integration.active_credential_version)
    times = [v.saved for v in views if v.saved is not None]
    return max(times, key=lambda s: s.at) if times else None


def test_panel(
    integration: Integration,
    test: ConnectionTest | None,
    *,
    mode: str,
    fix_url: Callable[[str], str],
    status_url: Callable[[ConnectionTest], str],
    save_url: str | None = None,
    next_url: str | None = None,
    rate_limited: checks.RateLimited | None = None,
    just_started: bool = False,
    oob: bool = False,
) -> dict:
    """What `wizard/_test_status.html` needs, for the wizard and for this form.

    `mode` says what a passed test leads to: "wizard" (continue to Save), "pending" (save
    the new credentials here) or "active" (the credentials in use work). `oob` adds the
    out-of-band announcement of a final result, for responses that are the fragment alone.
    """
    itype = get_type(integration.type_key)
    final = checks.is_final(test)
    can_save = (
        test is not None
        and final
        and test.status == "passed"
        and mode in ("wizard", "pending")
        and test.credential_version == integration.pending_credential_version
        and creds.passed_test(integration, test.credential_version) is not None
    )
    return {
        "test": test,
        "test_final": final,
        "test_mode": mode,
        "test_can_save": can_save,
        "test_poll_url": status_url(test) if test is not None and not final else None,
        "test_fix_url": fix_url,
        "test_save_url": save_url,
        "test_next_url": next_url,
        "test_rate_limited": rate_limited,
        "test_just_started": just_started,
        "test_field_labels": {f.name: text(f.label) for f in itype.credential_fields},
        "test_oob": oob and is_fragment_request(),
    }
