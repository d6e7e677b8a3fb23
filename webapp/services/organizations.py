"""Organisations and memberships: the only place that changes them."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo

from flask_babel import lazy_gettext as _l
from peewee import JOIN

from webapp.db import db
from webapp.models import ROLES, Membership, Organization, User
from webapp.services import audit

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCALES = ("nb", "en")


def all_organizations() -> list[Organization]:
    """Every organisation by name (the platform admin's list)."""
    return list(Organization.select().order_by(Organization.name))


def organization(org_id: int) -> Organization | None:
    return Organization.get_or_none(Organization.id == org_id)


def membership(org: Organization, membership_id: int) -> Membership | None:
    """One of the organisation's memberships (another organisation's answers None)."""
    return Membership.get_or_none(
        (Membership.id == membership_id) & (Membership.organization == org)
    )


def slugify(name: str) -> str:
    ascii_name = (
        unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O").replace("æ", "ae"))
        .encode("ascii", "ignore")
        .decode()
    )
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "org"


def validate_org(form) -> tuple[dict, dict]:
    """Clean organisation form values; returns (values, errors by field)."""
    values = {
        "name": (form.get("name") or "").strip(),
        "time_zone": (form.get("time_zone") or "Europe/Oslo").strip(),
        "default_locale": (form.get("default_locale") or "nb").strip(),
    }
    errors = {}
    if not values["name"]:
        errors["name"] = _l("Enter the organisation's name.")
    elif len(values["name"]) > 200:
        errors["name"] = _l("The name can be at most 200 characters.")
    if values["time_zone"] not in zoneinfo.available_timezones():
        errors["time_zone"] = _l("Choose a time zone from the list, for example Europe/Oslo.")
    if values["default_locale"] not in LOCALES:
        errors["default_locale"] = _l("Choose Norwegian (Bokmål) or English.")
    return values, errors


def create_org(values: dict, actor: User) -> Organization:
    base = slugify(values["name"])
    slug, n = base, 1
    while Organization.select().where(Organization.slug == slug).exists():
        n += 1
        slug = f"{base}-{n}"
    with db.atomic():
        org = Organization.create(slug=slug, **values)
        audit.record(
            "organization.created",
            organization=org,
            target_type="organization",
            target_id=org.id,
            fields=values.keys(),
            actor=actor,
        )
    return org


def update_org(org: Organization, values: dict, actor: User) -> None:
    changed = [k for k, v in values.items() if getattr(org, k) != v]
    with db.atomic():
        for key in changed:
            setattr(org, key, values[key])
        org.save()
        audit.record(
            "organization.updated",
            organization=org,
            target_type="organization",
            target_id=org.id,
            fields=changed,
            actor=actor,
        )


def validate_invite(org: Organization, form) -> tuple[dict, dict]:
    values = {
        "email": (form.get("email") or "").strip().lower(),
        "role": form.get("role") or "coordinator",
    }
    errors = {}
    if not EMAIL.match(values["email"]):
        errors["email"] = _l("Enter an email address like name@example.org.")
    elif (
        Membership.select()
        .where((Membership.organization == org) & (Membership.email == values["email"]))
        .exists()
    ):
        errors["email"] = _l(
            "This person is already a member. Change their role in the list below."
        )
    if values["role"] not in ROLES:
        errors["role"] = _l("Choose Coordinator or Coordinator administrator.")
    return values, errors


def invite(org: Organization, values: dict, actor: User) -> Membership:
    with db.atomic():
        user = User.get_or_none(User.email == values["email"])
        membership = Membership.create(
            organization=org,
            email=values["email"],
            role=values["role"],
            user=user,
            invited_by=actor,
        )
        audit.record(
            "membership.invited",
            organization=org,
            target_type="membership",
            target_id=membership.id,
            fields=["email", "role"],
            actor=actor,
        )
    return membership


def change_role(membership: Membership, role: str, actor: User) -> bool:
    if role not in ROLES:
        return False
    with db.atomic():
        membership.role = role
        membership.save()
        audit.record(
            "membership.role_changed",
            organization=membership.organization_id,
            target_type="membership",
            target_id=membership.id,
            fields=["role"],
            actor=actor,
        )
    return True


def remove(membership: Membership, actor: User) -> None:
    with db.atomic():
        audit.record(
            "membership.removed",
            organization=membership.organization_id,
            target_type="membership",
            target_id=membership.id,
            actor=actor,
        )
        membership.delete_instance()


def admin_names(organization_id: int) -> list[str]:
    """Who can change the organisation's integrations: its coordinator-admins, by name."""
    query = (
        Membership.select(Membership, User)
        .join(User, JOIN.LEFT_OUTER, on=(Membership.user == User.id))
        .where(
            (Membership.organization == organization_id) & (Membership.role == "coordinator_admin")
        )
    )
    return sorted((m.user.label if m.user_id else m.email for m in query), key=str.casefold)
