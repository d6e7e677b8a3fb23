"""Webhook endpoints: register an HTTPS address, see every delivery attempt, re-send."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import login_required, org_admin_required, org_blueprint_setup
from webapp.services import webhooks
from webapp.services.webhooks import outbox

bp = Blueprint("webhooks", __name__, url_prefix="/o/<org_slug>/webhooks")
org_blueprint_setup(bp)


def _page(errors: dict, values: dict, status: int = 200):
    endpoints = webhooks.endpoints_of(g.org.id)
    attempts = webhooks.recent_attempts(g.org.id)
    return (
        render_template(
            "webhooks/index.html",
            endpoints=endpoints,
            attempts=attempts,
            events=webhooks.EVENTS,
            errors=errors,
            values=values,
        ),
        status,
    )


@bp.get("/")
@login_required
@org_admin_required
def index():
    """The organisation's endpoints and the latest delivery attempts."""
    return _page({}, {"events": list(webhooks.EVENTS)})


@bp.post("/")
@login_required
@org_admin_required
def create():
    """Register an endpoint and show its signing secret once."""
    values = {"url": request.form.get("url", ""), "events": request.form.getlist("events")}
    try:
        endpoint, secret = webhooks.create_endpoint(
            g.org, values["url"], values["events"], request.form.get("description", ""), g.user
        )
    except webhooks.EndpointProblem as exc:
        message = (
            _("Choose at least one event.")
            if exc.field == "events"
            else _(
                "Enter an https:// address with a host name, such as https://app.example.org/hooks."
            )
        )
        return _page({exc.field: message}, values)
    body = render_template("webhooks/created.html", endpoint=endpoint, secret=secret)
    return body, 201, {"Cache-Control": "no-store"}


@bp.post("/attempts/<int:delivery_id>/resend")
@login_required
@org_admin_required
def resend(delivery_id: int):
    """Send the attempt's event to its endpoint again, now."""
    delivery = webhooks.delivery_of(g.org.id, delivery_id)
    if delivery is None:
        abort(404)
    again = webhooks.resend(delivery.event_id, delivery.endpoint_id, g.org.id)
    if again is None:
        abort(404)
    outbox.kick()
    flash(_("The event is being sent again."), "success")
    return redirect(url_for("webhooks.index"))
