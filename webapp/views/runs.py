"""Export runs: Export now, a run's status (polled while it runs), and the run history."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from webapp import htmx, i18n
from webapp.access import integration_or_404, org_admin_required, org_blueprint_setup
from webapp.i18n import text, word
from webapp.models import Integration, SyncRun
from webapp.services import dashboard, exports
from webapp.services.exports import claims as run_claims

bp = Blueprint("runs", __name__, url_prefix="/o/<org_slug>")
org_blueprint_setup(bp)

# Runs per page of the history (a page of a phone's worth; older ones a link away).
HISTORY_LENGTH = 50


@bp.post("/integrations/<int:integration_id>/export")
@org_admin_required
def create(integration_id: int):
    """Export now: start a run and answer with its status, which polls itself."""
    integration = integration_or_404(integration_id)
    started = exports.start_manual(integration, g.user)
    if started.refused == "needs_reauth":
        target = _credentials_url(integration)
        if target is not None:
            return _go(target)
    if started.run is None:
        return _status(integration, None, refused=started.refused)
    if not htmx.is_fragment_request():
        return redirect(url_for("runs.show", run_id=started.run.id))
    return _status(
        integration,
        started.run,
        follow=True,
        already=started.already_running,
        announce=_("The export has started."),
    )


@bp.get("/runs/<int:run_id>")
def show(run_id: int):
    """A run's counts, message and failed claims; its live status fragment for htmx."""
    run = exports.run_for_org(g.org.id, run_id)
    if run is None:
        abort(404)
    integration = run.integration
    follow = request.args.get("follow") == "1"
    detail = request.args.get("detail") == "1"
    if htmx.is_fragment_request() and run.is_final and follow and _must_reauth(run):
        target = _credentials_url(integration)
        if target is not None and g.membership.is_admin:
            # The coordinator who pressed Export now goes straight to the credential form.
            return htmx.redirect(_status(integration, run), target)
    announce = None
    if htmx.is_fragment_request() and run.is_final:
        announce = f"{run_status_word(run.status)}: {text(run.message)}"
    return _status(integration, run, follow=follow, detail=detail, announce=announce)


@bp.post("/runs/<int:run_id>/claims/<int:claim_id>/send-again")
@org_admin_required
def send_again(run_id: int, claim_id: int):
    """Send a failed claim again, through the integration it is routed to now."""
    if exports.run_for_org(g.org.id, run_id) is None:
        abort(404)
    again = run_claims.send_again(g.org.id, claim_id, g.user)
    if again.claim is None:
        abort(404)
    number = again.claim.claim_number
    if again.run is not None and again.integration is not None:
        flash(
            _(
                "Claim %(claim)s is being sent again to %(name)s, with any other claims "
                "waiting for it.",
                claim=number,
                name=again.integration.name,
            ),
            "success",
        )
        return redirect(url_for("runs.show", run_id=again.run.id), code=303)
    flash(_send_again_refused(again, number), "warning")
    return redirect(url_for("runs.show", run_id=run_id), code=303)


def _send_again_refused(again: run_claims.Again, number: str) -> str:
    if again.refused == "exported":
        return _(
            "Claim %(claim)s is already booked (voucher %(voucher)s). A claim is booked once.",
            claim=number,
            voucher=again.external_id or "–",
        )
    if again.refused == "pending":
        return _(
            "Claim %(claim)s was sent and its outcome is not confirmed yet. The next export "
            "asks the accounting system before sending anything again.",
            claim=number,
        )
    if again.refused == "unrouted":
        return _(
            "Claim %(claim)s is not waiting for any integration. Check its routing.",
            claim=number,
        )
    return _(
        "Claim %(claim)s cannot be sent now: its integration is not exporting (%(state)s). "
        "Fix that first on the dashboard.",
        claim=number,
        state=integration_state_word(again.refused or ""),
    )


@bp.get("/integrations/<int:integration_id>/runs")
def index(integration_id: int):
    """The integration's run history, newest first."""
    integration = integration_or_404(integration_id)
    before = request.args.get("before", type=int)
    # One more than a page tells whether older runs follow.
    runs = exports.recent_runs(integration.id, HISTORY_LENGTH + 1, before)
    older = runs[HISTORY_LENGTH - 1].id if len(runs) > HISTORY_LENGTH else None
    runs = runs[:HISTORY_LENGTH]
    return htmx.render(
        "runs/index.html",
        "runs/_table.html",
        integration=integration,
        runs=runs,
        chart=dashboard.chart(runs),
        older_than=before,
        older_url=url_for("runs.index", integration_id=integration.id, before=older)
        if older
        else None,
    )


def _status(integration: Integration, run: SyncRun | None, **context):
    """The status fragment (or, outside htmx, the run page); 286 stops polling when final."""
    final = run is None or run.is_final
    status = htmx.STOP_POLLING if final and htmx.is_fragment_request() else 200
    response = htmx.render(
        "runs/show.html",
        "runs/_status.html",
        status=status,
        integration=integration,
        run=run,
        claims=(
            run_claims.outcomes(run)
            if run is not None
            and final
            and (context.get("detail") or not htmx.is_fragment_request())
            else []
        ),
        **context,
    )
    if run is not None and final and htmx.is_fragment_request():
        # The dashboard card refreshes its summary (last sync, chart) when a run ends.
        htmx.trigger(response, f"run-finished-{integration.id}")
    return response


def _must_reauth(run: SyncRun) -> bool:
    return run.error_kind in ("auth", "permission") or run.integration.status == "needs_reauth"


def _credentials_url(integration: Integration) -> str | None:
    try:
        return url_for("credentials.edit", integration_id=integration.id, reason="auth")
    except Exception:  # the credential form has not arrived in this build
        return None


def _go(target: str):
    if htmx.is_fragment_request():
        response = Response(status=200)
        response.headers.add("Vary", "HX-Request")
        return htmx.redirect(response, target)
    return redirect(target)


# Keep the translation of the word for each run status in one place for the templates.
RUN_STATUS_WORDS = {
    "queued": lambda: _("Waiting"),
    "running": lambda: _("Running"),
    "succeeded": lambda: _("Succeeded"),
    "partial": lambda: _("Partly succeeded"),
    "failed": lambda: _("Failed"),
}
TRIGGER_WORDS = {
    "manual": lambda: _("Export now"),
    "schedule": lambda: _("Schedule"),
    "retry": lambda: _("Retry"),
}


@bp.app_template_global()
def run_status_word(status: str) -> str:
    return word(RUN_STATUS_WORDS, status)


@bp.app_template_global()
def run_trigger_word(trigger: str) -> str:
    return word(TRIGGER_WORDS, trigger)


# Provider ids support asks for, in words (others show under their own technical name).
DETAIL_WORDS = {
    "request_id": lambda: _("Request id"),
    "correlation_id": lambda: _("Correlation id"),
    "client_request_id": lambda: _("Client request id"),
    "activity_id": lambda: _("Activity id"),
    "trace_id": lambda: _("Trace id"),
    "provider_message": lambda: _("The accounting system's own words"),
    "reset_at": lambda: _("Calls allowed again from (UTC)"),
}


@bp.app_template_global()
def technical_details(run: SyncRun) -> list[tuple[str, str]]:
    """(label, value) pairs for the run's "Technical details": the provider's code and ids,
    for the run and for each enrichment it skipped. Never shown in the message itself."""

    def label(key: str) -> str:
        return word(DETAIL_WORDS, key)

    message: dict = run.message or {}
    pairs: list[tuple[str, str]] = []
    if message.get("code"):
        pairs.append((_("Code from the accounting system"), str(message["code"])))
    pairs += [(label(k), str(v)) for k, v in (message.get("details") or {}).items()]
    for note in run.notes or ():
        what = note.get("key", "")
        if note.get("code"):
            pairs.append((_("Code for what was skipped (%(what)s)", what=what), str(note["code"])))
        pairs += [(f"{label(k)} ({what})", str(v)) for k, v in (note.get("details") or {}).items()]
    return pairs


INTEGRATION_STATE_WORDS = {
    "connected": lambda: _("Connected"),
    "needs_reauth": lambda: _("Needs new credentials"),
    "degraded": lambda: _("Failing"),
    "paused": lambda: _("Paused"),
    "draft": lambda: _("Draft"),
    "archived": lambda: _("Archived"),
}


@bp.app_template_global()
def integration_state_word(status: str) -> str:
    """An integration's status in words (never the internal value)."""
    return word(INTEGRATION_STATE_WORDS, status)


@bp.app_template_global()
def integration_type_name(integration: Integration):
    """The integration's accounting system's name (a Text)."""
    from adapters import get_type

    return get_type(integration.type_key).name


@bp.app_template_filter("money")
def money(value) -> str:
    """An amount with two decimals in the page's language (the voucher tables)."""
    return i18n.money(value)
