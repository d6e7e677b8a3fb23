"""Platform administration: organisations and their members."""

from __future__ import annotations

import zoneinfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import platform_admin_required
from webapp.models import ROLES, Membership, Organization
from webapp.services import organizations as orgs

bp = Blueprint("admin", __name__, url_prefix="/admin")
TIME_ZONES = sorted(z for z in zoneinfo.available_timezones() if "/" in z)


def _org(org_id: int) -> Organization:
    org = orgs.organization(org_id)
    if org is None:
        abort(404)
    return org


def _membership(org: Organization, membership_id: int) -> Membership:
    membership = orgs.membership(org, membership_id)
    if membership is None:
        abort(404)
    return membership


@bp.route("/organizations", methods=["GET", "POST"])
@platform_admin_required
def organizations():
    """List organisations and create a new one."""
    values, errors = {}, {}
    if request.method == "POST":
        values, errors = orgs.validate_org(request.form)
        if not errors:
            org = orgs.create_org(values, g.user)
            flash(_("Organisation %(name)s created.", name=org.name), "success")
            return redirect(url_for("admin.organization", org_id=org.id))
    listing = orgs.all_organizations()
    return render_template(
        "admin/organizations.html",
        organizations=listing,
        values=values,
        errors=errors,
        time_zones=TIME_ZONES,
    )


@bp.route("/organizations/<int:org_id>", methods=["GET", "POST"])
@platform_admin_required
def organization(org_id: int):
    """Edit an organisation and invite members."""
    org = _org(org_id)
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    invite_values: dict[str, str] = {}
    invite_errors: dict[str, str] = {}
    if request.method == "POST" and request.form.get("action") == "update":
        values, errors = orgs.validate_org(request.form)
        if not errors:
            orgs.update_org(org, values, g.user)
            flash(_("Changes saved."), "success")
            return redirect(url_for("admin.organization", org_id=org.id))
    elif request.method == "POST" and request.form.get("action") == "invite":
        invite_values, invite_errors = orgs.validate_invite(org, request.form)
        if not invite_errors:
            orgs.invite(org, invite_values, g.user)
            flash(
                _(
                    "%(email)s can now sign in to %(org)s.",
                    email=invite_values["email"],
                    org=org.name,
                ),
                "success",
            )
            return redirect(url_for("admin.organization", org_id=org.id))
    members = org.memberships.order_by(Membership.email)
    return render_template(
        "admin/organization.html",
        org=org,
        members=members,
        roles=ROLES,
        values=values
        or {"name": org.name, "time_zone": org.time_zone, "default_locale": org.default_locale},
        errors=errors,
        invite_values=invite_values,
        invite_errors=invite_errors,
        time_zones=TIME_ZONES,
    )


@bp.post("/organizations/<int:org_id>/members/<int:membership_id>/role")
@platform_admin_required
def member_role(org_id: int, membership_id: int):
    """Change a member's role."""
    org = _org(org_id)
    membership = _membership(org, membership_id)
    if orgs.change_role(membership, request.form.get("role", ""), g.user):
        flash(_("Role changed for %(email)s.", email=membership.email), "success")
    else:
        flash(_("Choose Coordinator or Coordinator administrator."), "error")
    return redirect(url_for("admin.organization", org_id=org.id))


@bp.post("/organizations/<int:org_id>/members/<int:membership_id>/remove")
@platform_admin_required
def member_remove(org_id: int, membership_id: int):
    """Remove a member from the organisation."""
    org = _org(org_id)
    membership = _membership(org, membership_id)
    orgs.remove(membership, g.user)
    flash(
        _("%(email)s no longer has access to %(org)s.", email=membership.email, org=org.name),
        "success",
    )
    return redirect(url_for("admin.organization", org_id=org.id))
