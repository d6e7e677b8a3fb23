"""Who is signed in, which organisation a page belongs to, and what they may do there.

Organisation pages live under `/o/<org_slug>/`; `load_org` resolves the slug against the
user's own memberships, so another organisation's pages answer 404 exactly like pages that
do not exist. Views then query through `g.org` and never by bare id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, current_app, g, redirect, request, session, url_for
from peewee import JOIN

from webapp import sessions
from webapp.models import DoesNotExist, Integration, Membership, Organization, User


def load_user(with_memberships: bool = False) -> None:
    """Put the signed-in user (or None) on `g`, once per request; `with_memberships` reads
    their memberships in the same query (`g.memberships`, organisation pages)."""
    if request.environ.get("ledgerlink.user_loaded"):
        return
    request.environ["ledgerlink.user_loaded"] = True
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    if with_memberships:
        user, g.memberships = _user_and_memberships(user_id)
    else:
        user = User.get_or_none(User.id == user_id)
    if user is None or not sessions.is_current(session, user, current_app.config):
        session.clear()
        g.memberships = []
        return
    sessions.touch(session)
    g.user = user


def _user_and_memberships(user_id: int) -> tuple[User | None, list[Membership]]:
    """The user and their memberships with organisations, by name, in one query."""
    rows = list(
        User.select(User, Membership, Organization)
        .join(Membership, JOIN.LEFT_OUTER, on=(Membership.user == User.id), attr="joined")
        .join(Organization, JOIN.LEFT_OUTER, on=(Membership.organization == Organization.id))
        .where(User.id == user_id)
        .order_by(Organization.name)
    )
    if not rows:
        return None, []
    user = rows[0]
    # A user without memberships comes back as one row whose membership is None.
    mine = [row.joined for row in rows if getattr(row, "joined", None) is not None]
    for membership in mine:
        membership.user = user
    return user, mine


def memberships(user: User) -> list[Membership]:
    query = (
        Membership.select(Membership, Organization)
        .join(Organization)
        .where(Membership.user == user)
        .order_by(Organization.name)
    )
    return list(query)


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def platform_admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not g.user.is_platform_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def org_admin_required(view: Callable) -> Callable:
    """Only a `coordinator_admin` of the page's organisation (others get 403)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not g.membership.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def load_org(endpoint: str | None, values: dict | None) -> None:
    """`url_value_preprocessor` for organisation blueprints: slug → g.org, g.membership."""
    if values is None or "org_slug" not in values:
        return
    slug = values.pop("org_slug")
    g.org = None
    g.membership = None
    # URL preprocessors run before the app's before_request functions. All of the user's
    # memberships come with the user: the page's, and the others for the organisation
    # switch in the header.
    load_user(with_memberships=True)
    if g.user is None:
        return  # login_required on the view redirects to sign-in
    mine = g.memberships
    membership = next((m for m in mine if m.organization.slug == slug), None)
    if membership is None:
        abort(404)
    g.memberships = mine
    g.membership = membership
    g.org = membership.organization
    session["org_slug"] = slug


def integration_or_404(integration_id: int) -> Integration:
    """The page organisation's integration, or 404 (also for other organisations' ids)."""
    try:
        integration = Integration.for_org(g.org.id, integration_id)
    except DoesNotExist:
        abort(404)
    integration.organization = g.org  # the same row: no second query for it
    return integration


def add_org_slug(endpoint: str, values: dict) -> None:
    """`url_defaults` for organisation blueprints: links stay inside the current org."""
    if "org_slug" not in values and g.get("org") is not None:
        values["org_slug"] = g.org.slug


def org_blueprint_setup(bp) -> None:
    bp.url_value_preprocessor(load_org)
    bp.url_defaults(add_org_slug)

    @bp.before_request
    def _require_login():
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None
