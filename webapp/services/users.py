"""Who signs in: users created from the sign-in provider's claims, invitations linked."""

from __future__ import annotations

from webapp.db import db, utcnow
from webapp.models import Membership, User
from webapp.services import audit


def sign_in(
    issuer: str, subject: str, email: str, name: str, *, admin_emails: list[str]
) -> User | None:
    """The user for this sign-in, created on first sign-in and linked to the memberships
    invited for the e-mail address; None when the address belongs to another account."""
    admins = admin_emails
    with db.atomic():
        user = User.get_or_none((User.issuer == issuer) & (User.subject == subject))
        if user is None:
            if User.select().where(User.email == email).exists():
                return None
            user = User.create(issuer=issuer, subject=subject, email=email, display_name=name)
        user.email = email
        user.display_name = name or user.display_name
        user.is_platform_admin = email in admins
        user.last_login_at = utcnow()
        user.save()
        linked = (
            Membership.update(user=user)
            .where((Membership.email == email) & (Membership.user.is_null()))
            .execute()
        )
        if linked:
            for membership in user.memberships:
                audit.record(
                    "membership.linked",
                    organization=membership.organization_id,
                    target_type="membership",
                    target_id=membership.id,
                    actor=user,
                )
    return user


def end_sessions(user: User) -> None:
    """End every session of `user` (all browsers, copied cookies too): bump the epoch."""
    with db.atomic():
        User.update(session_epoch=User.session_epoch + 1).where(User.id == user.id).execute()
        audit.record(
            "user.signed_out", organization=None, target_type="user", target_id=user.id, actor=user
        )


def set_notifications(user: User, notify: str, locale: str | None) -> User:
    """How often `user` gets e-mail (immediate, digest, off) and in which language (None: the
    organisation's)."""
    with db.atomic():
        User.update(notify=notify, locale=locale).where(User.id == user.id).execute()
        audit.record(
            "user.notifications",
            organization=None,
            target_type="user",
            target_id=user.id,
            fields=["notify", "locale"],
            actor=user,
        )
    return User.get_by_id(user.id)


def unsubscribe(user: User) -> None:
    """No more e-mail for `user` (the one-click link in every message)."""
    with db.atomic():
        User.update(notify="off").where(User.id == user.id).execute()
        audit.record("user.unsubscribed", organization=None, target_type="user", target_id=user.id)
