"""API keys for the host-app API: list, create (shown once), revoke. Admins only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import login_required, org_admin_required, org_blueprint_setup
from webapp.services import api_keys

bp = Blueprint("api_keys", __name__, url_prefix="/o/<org_slug>/api-keys")
org_blueprint_setup(bp)


@bp.get("/")
@login_required
@org_admin_required
def index():
    """List the organisation's keys and offer a new one."""
    return render_template(
        "api_keys/index.html", keys=api_keys.listing(g.org), errors={}, values={"scopes": []}
    )


@bp.post("/")
@login_required
@org_admin_required
def create():
    """Create a key and show its secret this one time."""
    name = request.form.get("name", "")
    scopes = request.form.getlist("scopes")
    errors = {}
    if not name.strip():
        errors["name"] = _("Give the key a name, such as the app that will use it.")
    elif len(name.strip()) > 100:
        errors["name"] = _("At most %(n)d characters.", n=100)
    if not any(s in api_keys.SCOPES for s in scopes):
        errors["scopes"] = _("Choose at least one permission.")
    if errors:
        return render_template(
            "api_keys/index.html",
            keys=api_keys.listing(g.org),
            errors=errors,
            values={"name": name, "scopes": scopes},
        )
    key, secret = api_keys.create(g.org, name, scopes, g.user)
    response = render_template("api_keys/created.html", key=key, secret=secret)
    return response, 201, {"Cache-Control": "no-store"}


@bp.post("/<int:key_id>/revoke")
@login_required
@org_admin_required
def revoke(key_id: int):
    """Stop a key from working at once."""
    key = api_keys.revoke(g.org, key_id, g.user)
    if key is None:
        abort(404)
    flash(_("The key %(name)s no longer works.", name=key.name), "success")
    return redirect(url_for("api_keys.index"))
