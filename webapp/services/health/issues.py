"""Connection issues: one open row per cause, refreshed while it lasts, closed by a success.

A failure anywhere (the daily check, a connection test of the credentials in use, an export)
is recorded against its cause: `auth` (the system rejected who we are), `permission` (a role
or scope is missing), `config` (a setting points at nothing), `unreachable`, `rate_limited`
and `data` (claims refused). The first failure of a cause opens an issue; later ones raise its
count and last-seen time. A success closes the issues it proves fixed: a light check proves
sign-in and reachability, a connection test everything but the data, an export that sent its
claims without refusals everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import JOIN

from adapters.errors import AdapterError
from webapp.db import db, is_postgres, utcnow
from webapp.models import ISSUE_KINDS, ConnectionIssue, Integration, User

# What each kind of success proves fixed.
PROVES = {
    "check": ("auth", "unreachable", "rate_limited"),
    "test": ("auth", "permission", "config", "unreachable", "rate_limited"),
    "export": ISSUE_KINDS,
    "partial": ("auth", "permission", "config", "unreachable", "rate_limited"),
}
# Causes a coordinator-admin must act on at once; the others (a provider down or busy) are
# usually over within the hour, so they are told only when an issue outlasts GRACE.
URGENT = ("auth", "permission", "config", "data")
GRACE = dt.timedelta(hours=1)


@dataclass
class Recorded:
    issue: ConnectionIssue
    opened: bool  # this failure opened it


def kind_of(error: AdapterError) -> str:
    """The issue kind of an adapter error."""
    if error.kind == "transient":
        limited = error.provider_code == "429" or bool(error.retry_after)
        return "rate_limited" if limited else "unreachable"
    return error.kind if error.kind in ISSUE_KINDS else "unreachable"


def message_of(error: AdapterError) -> dict[str, str | None]:
    """What is stored and mailed: our sentence in both languages and the provider's code."""
    return {"nb": error.message.nb, "en": error.message.en, "code": error.provider_code}


def record_failure(
    integration: Integration,
    kind: str,
    message: dict | None,
    source: str,
    now: dt.datetime | None = None,
) -> Recorded:
    """Open the issue of this cause, or count one more failure on the open one."""
    now = now or utcnow()
    with db.atomic():
        if is_postgres():
            # Two workers failing at once for one integration open one issue, not two.
            Integration.select(Integration.id).where(
                Integration.id == integration.id
            ).for_update().execute()
        issue = ConnectionIssue.get_or_none(
            (ConnectionIssue.integration == integration.id)
            & (ConnectionIssue.kind == kind)
            & ConnectionIssue.resolved_at.is_null()
        )
        if issue is not None:
            ConnectionIssue.update(
                count=ConnectionIssue.count + 1, last_seen_at=now, message=message, source=source
            ).where(ConnectionIssue.id == issue.id).execute()
            return Recorded(ConnectionIssue.get_by_id(issue.id), opened=False)
        issue = ConnectionIssue.create(
            integration=integration.id,
            kind=kind,
            source=source,
            message=message,
            opened_at=now,
            last_seen_at=now,
        )
    return Recorded(issue, opened=True)


def resolve(
    integration: Integration,
    proof: str,
    actor: User | None = None,
    now: dt.datetime | None = None,
) -> list[ConnectionIssue]:
    """Close the open issues this success (`check`, `test`, `export`, `partial`) proves fixed."""
    now = now or utcnow()
    kinds = PROVES[proof]
    open_issues = list(
        ConnectionIssue.select().where(
            (ConnectionIssue.integration == integration.id)
            & ConnectionIssue.resolved_at.is_null()
            & ConnectionIssue.kind.in_(kinds)
        )
    )
    if not open_issues:
        return []
    ConnectionIssue.update(
        resolved_at=now,
        resolved_by=actor,
        resolved_source="export" if proof == "partial" else proof,
    ).where(
        ConnectionIssue.id.in_([i.id for i in open_issues]) & ConnectionIssue.resolved_at.is_null()
    ).execute()
    return [ConnectionIssue.get_by_id(i.id) for i in open_issues]


def mark_announced(issue: ConnectionIssue) -> None:
    ConnectionIssue.update(announced=True).where(ConnectionIssue.id == issue.id).execute()


def due_announcement(recorded: Recorded, now: dt.datetime | None = None) -> bool:
    """Whether this failure is the moment to tell the coordinator-admins about the issue."""
    issue = recorded.issue
    if issue.announced:
        return False
    if issue.kind in URGENT:
        return True
    return (now or utcnow()) - issue.opened_at >= GRACE


def open_for(integration_ids: Iterable[int]) -> dict[int, list[ConnectionIssue]]:
    """Open issues per integration, oldest first, in one query."""
    ids = list(integration_ids)
    out: dict[int, list[ConnectionIssue]] = {}
    if not ids:
        return out
    for issue in (
        ConnectionIssue.select()
        .where(ConnectionIssue.integration.in_(ids) & ConnectionIssue.resolved_at.is_null())
        .order_by(ConnectionIssue.opened_at, ConnectionIssue.id)
    ):
        out.setdefault(issue.integration_id, []).append(issue)
    return out


def history(integration: Integration, limit: int = 50) -> list[ConnectionIssue]:
    """The integration's issues, newest first, with who fixed each."""
    return list(
        ConnectionIssue.select(ConnectionIssue, User)
        .join(User, JOIN.LEFT_OUTER, on=(ConnectionIssue.resolved_by == User.id))
        .where(ConnectionIssue.integration == integration.id)
        .order_by(ConnectionIssue.opened_at.desc(), ConnectionIssue.id.desc())
        .limit(limit)
    )
