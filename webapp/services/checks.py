"""Connection tests: rate limit, record, enqueue, and notice tests that never finished.

Pressing "Test connection" creates a `connection_test` row and enqueues
`webapp.jobs.checks.test_connection(integration_id, test_id)` on the `checks` queue: ids
only, the worker decrypts the credentials itself. The row carries the job's progress (each
named check waiting, running, passed, failed or skipped), so the page polls the row, never
the job, and a request never waits for the worker.
"""

from __future__ import annotations

import datetime as dt
import math

from flask import current_app
from redis.exceptions import RedisError

from adapters import get_type
from adapters.types import IntegrationType
from webapp.db import db, is_postgres, utcnow
from webapp.models import ConnectionTest, Integration, User
from webapp.queue import TIMEOUTS, enqueue
from webapp.vault import get_vault

# By import path, as RQ wants it: services never import job modules (jobs call services).
JOB = "webapp.jobs.checks.test_connection"
RATE_WINDOW = dt.timedelta(minutes=1)
# A test still queued or running this long after it was asked for will not finish: the job
# timeout has passed (plus time to be picked up), so its worker died or never came.
STALE_AFTER = dt.timedelta(seconds=TIMEOUTS["checks"] + 30)
FINAL = ("passed", "failed", "error")
RUNNING = ("queued", "running")


class RateLimited(Exception):
    """Too many tests in the last minute, for this integration or this person."""

    def __init__(self, retry_at: dt.datetime, limit: int) -> None:
        super().__init__("connection tests are rate limited")
        self.retry_at = retry_at
        self.limit = limit

    @property
    def seconds(self) -> int:
        return max(1, math.ceil((self.retry_at - utcnow()).total_seconds()))


class NothingToTest(Exception):
    """The credential set is empty: nothing was entered yet."""


def waiting_checks(itype: IntegrationType) -> list[dict]:
    """The type's named checks, none started yet, as stored on a test row."""
    return [
        {
            "key": spec.key,
            "label": {"nb": spec.label.nb, "en": spec.label.en},
            "status": "waiting",
            "message": None,
            "hint": None,
            "field": None,
            "provider_code": None,
        }
        for spec in itype.checks
    ]


def start_test(integration: Integration, version: int | None, actor: User | None) -> ConnectionTest:
    """Record a test of credential set `version` and enqueue it; returns the row at once.

    Raises `RateLimited` (with when to try again) or `NothingToTest`.
    """
    fingerprint = get_vault().set_fingerprint(integration, version) if version else None
    if fingerprint is None:
        raise NothingToTest(integration.id)
    with db.atomic():
        if is_postgres():
            # Serialise concurrent presses for one integration, and one person's presses
            # across integrations, so both limits hold exactly (row locks, in id order).
            Integration.select(Integration.id).where(
                Integration.id == integration.id
            ).for_update().execute()
            if actor is not None:
                User.select(User.id).where(User.id == actor.id).for_update().execute()
        _check_rate(integration, actor)
        test = ConnectionTest.create(
            integration=integration.id,
            credential_version=version,
            fingerprint=fingerprint,
            status="queued",
            checks=waiting_checks(get_type(integration.type_key)),
            requested_by=actor,
        )
    # Enqueued after the commit: the worker must find the row.
    try:
        job_id = enqueue("checks", JOB, integration.id, test.id)
    except RedisError:
        # No queue, no test: the row must not sit there "queued" until it goes stale. The
        # page answers "temporarily unavailable"; pressing Test again works once Redis is back.
        ConnectionTest.delete().where(ConnectionTest.id == test.id).execute()
        raise
    ConnectionTest.update(job_id=job_id).where(ConnectionTest.id == test.id).execute()
    test.job_id = job_id
    return test


def _check_rate(integration: Integration, actor: User | None) -> None:
    limit = int(current_app.config.get("TEST_RATE_LIMIT", 5))
    since = utcnow() - RATE_WINDOW
    scopes = [ConnectionTest.integration == integration.id]
    if actor is not None:
        scopes.append(ConnectionTest.requested_by == actor.id)
    retry_at = None
    for scope in scopes:
        recent = list(
            ConnectionTest.select(ConnectionTest.created_at)
            .where(scope & (ConnectionTest.created_at > since))
            .order_by(ConnectionTest.created_at.desc())
            .limit(limit)
        )
        if len(recent) >= limit:
            # A slot frees up when the oldest of the last `limit` tests leaves the window.
            free_at = recent[-1].created_at + RATE_WINDOW
            retry_at = max(retry_at or free_at, free_at)
    if retry_at is not None:
        raise RateLimited(retry_at, limit)


def get_test(integration: Integration, test_id: int) -> ConnectionTest | None:
    """One of the integration's tests, with an abandoned one marked as not finished."""
    test = ConnectionTest.get_or_none(
        (ConnectionTest.id == test_id) & (ConnectionTest.integration == integration.id)
    )
    return expire_if_stale(test) if test is not None else None


def expire_if_stale(test: ConnectionTest, now: dt.datetime | None = None) -> ConnectionTest:
    """Mark a test that can no longer finish as `error` ("did not finish, try again")."""
    now = now or utcnow()
    if test.status not in RUNNING or test.created_at > now - STALE_AFTER:
        return test
    checks = [
        {**check, "status": "skipped"} if check.get("status") in ("waiting", "running") else check
        for check in (test.checks or [])
    ]
    ConnectionTest.update(status="error", checks=checks, finished_at=now).where(
        (ConnectionTest.id == test.id) & (ConnectionTest.status.in_(RUNNING))
    ).execute()
    return ConnectionTest.get_by_id(test.id)


def is_final(test: ConnectionTest | None) -> bool:
    return test is not None and test.status in FINAL
