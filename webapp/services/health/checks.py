"""Daily connection checks: which are due, queueing them, and running one.

Every saved integration that exports (or should) gets a light authenticated call once a day
(`adapter.check_access`), at a time of day fixed by its id so that checks spread over the
day instead of arriving at the provider together, and again before a scheduled export when
the last check is older than an hour. The scheduler's tick claims the due checks in one
statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two schedulers never claim one check),
moves each to the same time tomorrow, and queues the jobs in one pipeline to Redis.
"""

from __future__ import annotations

import datetime as dt
import logging

from peewee import JOIN

from webapp.db import db, is_postgres
from webapp.models import HealthCheck, Integration, SyncSchedule

log = logging.getLogger("ledgerlink.health")

QUEUE = "checks"
JOB = "webapp.jobs.health.check_connections"
# Checks per job: a tick with many due (a scheduler back after a pause) queues a job per 20,
# each checking its integrations one after another, so queueing stays cheap.
PER_JOB = 20
DAY = dt.timedelta(days=1)
# Statuses whose connection is checked: connected, or broken and waiting to be fixed.
CHECKED = ("connected", "degraded", "needs_reauth")
BATCH = 20000


def time_of_day(integration_id: int) -> dt.timedelta:
    """The integration's own moment in the day (UTC), the same every day."""
    return dt.timedelta(seconds=(integration_id * 2654435761) % 86400)


def first_slot(integration_id: int, now: dt.datetime) -> dt.datetime:
    """The integration's next check time after `now`."""
    midnight = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    slot = midnight + time_of_day(integration_id)
    return slot if slot > now else slot + DAY


# --- the tick ------------------------------------------------------------------------------------


def claim_due(now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """Claim the checks due at `now`: (integration id, slot) of each to queue."""
    _add_missing(now)
    with db.atomic():
        query = (
            HealthCheck.select(
                HealthCheck.id,
                HealthCheck.integration,
                HealthCheck.next_at,
                Integration.status,
                SyncSchedule.paused_reason.is_null(False),
            )
            .join(Integration, on=(HealthCheck.integration == Integration.id))
            .join(
                SyncSchedule,
                JOIN.LEFT_OUTER,
                on=(SyncSchedule.integration == HealthCheck.integration),
            )
            .where(HealthCheck.next_at <= now)
            .order_by(HealthCheck.next_at)
            .limit(BATCH)
        )
        if is_postgres():
            query = query.for_update(of=HealthCheck, skip_locked=True)
        due = list(query.tuples())
        if not due:
            return []
        claimed, moves = [], []
        for row_id, integration_id, slot, status, stopped in due:
            following = slot + DAY
            if following <= now:  # the scheduler was away for a day or more
                following = first_slot(integration_id, now)
            moves.append((row_id, following))
            # Drafts, paused integrations and those stopped for rejected sign-ins only move on.
            if status in CHECKED and not stopped:
                claimed.append((integration_id, slot))
        _move(moves)
    return claimed


def stopped(integration_id: int) -> bool:
    """Whether the integration's schedule, and its daily checks with it, stopped after days
    of rejected sign-ins (`scheduler.stop_for_auth`)."""
    return (
        SyncSchedule.select(SyncSchedule.id)
        .where(
            (SyncSchedule.integration == integration_id) & SyncSchedule.paused_reason.is_null(False)
        )
        .exists()
    )


def _add_missing(now: dt.datetime) -> None:
    """A check time for every saved integration that has none yet."""
    missing = [
        integration_id
        for (integration_id,) in Integration.select(Integration.id)
        .left_outer_join(HealthCheck, on=(HealthCheck.integration == Integration.id))
        .where(HealthCheck.id.is_null() & Integration.status.in_(CHECKED))
        .tuples()
    ]
    for start in range(0, len(missing), 1000):
        rows = [
            {"integration": i, "next_at": first_slot(i, now)} for i in missing[start : start + 1000]
        ]
        HealthCheck.insert_many(rows).on_conflict_ignore().execute()


_MOVE_PG = (
    "UPDATE health_check AS h SET next_at = t.next "
    "FROM unnest(%s::int[], %s::timestamp[]) AS t(id, next) WHERE h.id = t.id"
)


def _move(moves: list[tuple[int, dt.datetime]]) -> None:
    if is_postgres():
        ids, times = zip(*moves, strict=True)
        db.execute_sql(_MOVE_PG, (list(ids), [HealthCheck.next_at.db_value(t) for t in times]))
        return
    for row_id, following in moves:
        HealthCheck.update(next_at=following).where(HealthCheck.id == row_id).execute()


def job_id(integration_id: int, slot: dt.datetime) -> str:
    """Unique to (first integration of the job, slot): a second scheduler queues nothing new."""
    return f"health-{integration_id}-{slot.astimezone(dt.UTC):%Y%m%d%H%M}"


def enqueue(claimed: list[tuple[int, dt.datetime]]) -> None:
    """Queue the claimed checks, PER_JOB to a job: one pipeline to Redis, or in-process."""
    if not claimed:
        return
    from rq import Queue

    from webapp.queue import RESULT_TTL, TIMEOUTS, get_queue

    batches = [claimed[n : n + PER_JOB] for n in range(0, len(claimed), PER_JOB)]
    job_queue = get_queue()
    if job_queue.in_process:
        for batch in batches:
            ids = [integration_id for integration_id, _slot in batch]
            job_queue.enqueue(QUEUE, JOB, *ids, job_id=job_id(*batch[0]))
        return
    data = [
        Queue.prepare_data(
            JOB,
            args=tuple(integration_id for integration_id, _slot in batch),
            job_id=job_id(*batch[0]),
            # One check's budget per integration in the job.
            timeout=TIMEOUTS[QUEUE] * len(batch),
            result_ttl=RESULT_TTL,
        )
        for batch in batches
    ]
    try:
        job_queue.queue(QUEUE).enqueue_many(data)
    except Exception:
        # Missed today; each is due again tomorrow and before its next scheduled export.
        log.exception("could not queue %d connection check(s)", len(claimed))


def last_checks(integration_ids: list[int]) -> dict[int, HealthCheck]:
    if not integration_ids:
        return {}
    return {
        row.integration_id: row
        for row in HealthCheck.select().where(HealthCheck.integration.in_(integration_ids))
    }
