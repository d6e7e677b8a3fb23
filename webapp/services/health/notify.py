"""Who is told what, and when: notifications for issues, recoveries and expiring secrets.

Each message goes to the integration's coordinator-admins who have not turned e-mail off, at
most once per cause and day (`notification.key`, unique per person), or once per warning for
an expiring secret. People who chose a daily digest get the day's messages together in one.
What a message says is stored as data and written in the recipient's language when sent;
it never holds a secret or a provider's raw text, only Ledgerlink's own sentences.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from peewee import JOIN, IntegrityError

from webapp.db import db, utcnow
from webapp.models import ConnectionIssue, Integration, Membership, Notification, User
from webapp.services.exports.settings import type_name
from webapp.services.health import expiry as expiry_service

log = logging.getLogger("ledgerlink.notify")

# Where a coordinator fixes each cause.
FIX_AT = {
    "auth": ("credentials.edit", {"reason": 1}),
    "permission": ("credentials.edit", {"reason": 1}),
    "config": ("credentials.edit", {"reason": 1}),
    "unreachable": ("connection.history", {}),
    "rate_limited": ("connection.history", {}),
    "data": ("runs.index", {}),
}


def recipients(organization_id: int) -> list[User]:
    """The organisation's coordinator-admins who receive e-mail (immediately or as a digest)."""
    return list(
        User.select()
        .join(Membership, on=(Membership.user == User.id))
        .where(
            (Membership.organization == organization_id)
            & (Membership.role == "coordinator_admin")
            & (User.notify != "off")
        )
        .order_by(User.id)
    )


def _base(integration: Integration) -> dict:
    system = type_name(integration)
    return {
        "integration_id": integration.id,
        "integration_name": integration.name,
        "system": {"nb": system.nb, "en": system.en},
        "org_slug": integration.organization.slug,
        "time_zone": integration.organization.time_zone,
        "locale": integration.organization.default_locale,
    }


def _day(integration: Integration, now: dt.datetime) -> str:
    return expiry_service.local_today(integration.organization.time_zone, now).isoformat()


def issue_opened(integration: Integration, issue: ConnectionIssue, now: dt.datetime) -> int:
    endpoint, args = FIX_AT[issue.kind]
    payload = _base(integration) | {
        "issue_kind": issue.kind,
        "message": {k: dict(issue.message or {}).get(k) for k in ("nb", "en")},
        "since": issue.opened_at.isoformat(),
        "link": [endpoint, args],
    }
    key = f"opened:{integration.id}:{issue.kind}:{_day(integration, now)}"
    return _create(integration, "issue_opened", key, payload)


def recovered(
    integration: Integration, fixed: list[ConnectionIssue], actor: User | None, now: dt.datetime
) -> int:
    payload = _base(integration) | {
        "kinds": sorted({issue.kind for issue in fixed}),
        "since": min(issue.opened_at for issue in fixed).isoformat(),
        "fixed_at": now.isoformat(),
        "fixed_by": actor.label if actor is not None else None,
        "link": ["connection.history", {}],
    }
    key = f"recovered:{integration.id}:{_day(integration, now)}"
    return _create(integration, "recovered", key, payload)


def expiry_due(integration: Integration, found: expiry_service.Expiry, now: dt.datetime) -> int:
    payload = _base(integration) | {
        "valid_until": found.valid_until.isoformat(),
        "days_left": found.days_left,
        "link": ["credentials.edit", {}],
    }
    version = integration.active_credential_version
    key = f"expiry:{integration.id}:{version}:{found.valid_until.isoformat()}:{found.threshold}"
    return _create(integration, "expiry", key, payload)


def _create(integration: Integration, kind: str, key: str, payload: dict) -> int:
    """One notification per recipient; a key a person already has is not created again."""
    people = recipients(integration.organization_id)
    if not people:
        return 0
    rows = [
        {
            "user": person.id,
            "integration": integration.id,
            "kind": kind,
            "key": key,
            "status": "digest" if person.notify == "digest" else "queued",
            "payload": payload | {"recipient_locale": person.locale},
            "created_at": utcnow(),
        }
        for person in people
    ]
    with db.atomic():
        cursor = Notification.insert_many(rows).on_conflict_ignore().execute()
    return cursor if isinstance(cursor, int) else len(rows)


# --- sending -------------------------------------------------------------------------------------

MAX_ATTEMPTS = 5
RETRY_AFTER = dt.timedelta(minutes=1)
STUCK = dt.timedelta(minutes=15)


def deliver_pending(now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send the queued messages (a failed send is tried again later, five times at most)."""
    from webapp.services.health import mail

    if not mail.configured():
        return 0
    now = now or utcnow()
    queued = list(
        Notification.select(Notification, User)
        .join(User, JOIN.INNER, on=(Notification.user == User.id))
        .where(
            (
                (Notification.status == "queued")
                # A sender that died mid-send left it "sending": better twice than never.
                | ((Notification.status == "sending") & (Notification.created_at <= now - STUCK))
            )
            & (Notification.attempts < MAX_ATTEMPTS)
            & ((Notification.attempts == 0) | (Notification.created_at <= now - RETRY_AFTER))
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    sent = 0
    for note in queued:
        # Taken by one sender only: a second one updates nothing and moves on.
        taken = (
            Notification.update(attempts=Notification.attempts + 1, status="sending")
            .where(
                (Notification.id == note.id)
                & (Notification.status == note.status)
                & (Notification.attempts == note.attempts)
            )
            .execute()
        )
        if not taken:
            continue
        if note.user.notify == "off":  # turned off since it was queued
            Notification.update(status="dropped").where(Notification.id == note.id).execute()
            continue
        try:
            mail.send_notification(note.user, [note])
        except Exception as failure:  # noqa: BLE001 - one message never stops the others
            if isinstance(failure, mail.SendFailed):
                log.warning(
                    "notification %s to user %s not sent: %s", note.id, note.user_id, failure
                )
            else:
                log.exception(
                    "notification %s to user %s could not be written", note.id, note.user_id
                )
            status = "failed" if note.attempts + 1 >= MAX_ATTEMPTS else "queued"
            Notification.update(status=status).where(Notification.id == note.id).execute()
            continue
        Notification.update(status="sent", sent_at=utcnow()).where(
            Notification.id == note.id
        ).execute()
        sent += 1
    return sent


DIGEST_HOUR = 7


def deliver_digests(now: dt.datetime | None = None) -> int:
    """Each digest reader's waiting messages in one e-mail, once a day from 07:00 their time."""
    from webapp.services.health import mail

    if not mail.configured():
        return 0
    now = now or utcnow()
    waiting = list(
        Notification.select(Notification, User)
        .join(User, on=(Notification.user == User.id))
        .where(Notification.status == "digest")
        .order_by(Notification.user, Notification.id)
    )
    by_user: dict[int, list[Notification]] = {}
    for note in waiting:
        by_user.setdefault(note.user_id, []).append(note)
    sent = 0
    for user_id, notes in by_user.items():
        zone = notes[0].payload.get("time_zone") or "Europe/Oslo"
        local = now.astimezone(ZoneInfo(zone))
        if local.hour < DIGEST_HOUR:
            continue
        ids = [n.id for n in notes]
        if notes[0].user.notify == "off":
            Notification.update(status="dropped").where(Notification.id.in_(ids)).execute()
            continue
        key = f"digest:{local.date().isoformat()}"
        try:
            with db.atomic():
                # Today's digest marker: a second sender (or a second tick) cannot add it.
                marker = Notification.create(
                    user=user_id, kind="digest", key=key, status="sending", payload={}
                )
        except IntegrityError:
            continue
        try:
            mail.send_notification(notes[0].user, notes)
        except mail.SendFailed as failure:
            log.warning("digest to user %s not sent: %s", user_id, failure)
            Notification.delete().where(Notification.id == marker.id).execute()
            continue
        Notification.update(status="sent", sent_at=utcnow()).where(
            Notification.id.in_([*ids, marker.id])
        ).execute()
        sent += 1
    return sent


def any_waiting(now: dt.datetime | None = None) -> bool:
    """Whether the tick should run the sender: a send to retry, or digests waiting."""
    now = now or utcnow()
    return (
        Notification.select(Notification.id)
        .where(
            ((Notification.status == "queued") & (Notification.created_at <= now - RETRY_AFTER))
            | (Notification.status == "digest")
        )
        .limit(1)
        .exists()
    )
