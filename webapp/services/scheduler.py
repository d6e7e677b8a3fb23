"""The scheduler: once a minute, queue the exports that are due.

One tick:

1. Closes runs left `running` by a worker that died (nobody holds their export lock any
   more) and puts a `retry` run in their place.
2. Claims the due schedules in one indexed query (`next_run_at <= now`, with
   `FOR UPDATE SKIP LOCKED` on PostgreSQL so a second scheduler skips rows the first holds),
   creates one run per due slot with a job id unique to (integration, slot), and stores the
   slot and the next run time. A second scheduler that still got the same slot fails on the
   unique job id and creates nothing. Integrations that cannot export (needs new credentials,
   paused, draft) have their slot passed over; one with an export under way keeps its slot
   until that export ends.
3. Queues `retry` runs whose time has come.
4. Enqueues the new runs on `exports` after the transaction committed.

Schedule maths (time zones, daylight saving, which slot is due) lives in `webapp.schedule`.
This service owns the `sync_schedule` table: it is the only place that writes a schedule
(the coordinator's settings and the slot bookkeeping alike).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

from peewee import IntegrityError

from webapp.db import db, is_postgres, utcnow
from webapp.models import Integration, SyncRun, SyncSchedule
from webapp.queue import enqueue
from webapp.schedule import Schedule, due_slot, next_run
from webapp.services import audit, exports
from webapp.services.health import checks as health_checks
from webapp.services.health import notify
from webapp.services.webhooks import delivery, outbox

log = logging.getLogger("ledgerlink.scheduler")

# Schedules claimed per tick; the rest wait for the next tick (they stay due).
BATCH = 5000
# Sends e-mail that is waiting (a failed send, a digest whose hour has come).
NOTIFY_JOB = "webapp.jobs.health.send_notifications"
# A queued run whose job the queue has never heard of is queued again after this long.
LOST_JOB_GRACE = dt.timedelta(minutes=2)
_PROCESS_STARTED = utcnow()


@dataclass
class TickResult:
    """What one tick did, for the CLI and the log."""

    at: dt.datetime
    queued: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    retries: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.retries or self.recovered or self.requeued or self.checks)

    def summary(self) -> str:
        return (
            f"tick {self.at:%Y-%m-%d %H:%M} UTC: {len(self.queued)} export(s) queued, "
            f"{len(self.retries)} retry run(s) queued, {len(self.deferred)} deferred "
            f"(export under way), {len(self.skipped)} skipped (needs credentials, paused or "
            f"draft), {len(self.recovered)} interrupted run(s) recovered, "
            f"{len(self.requeued)} lost job(s) queued again, "
            f"{len(self.checks)} connection check(s) queued"
        )


def tick(now: dt.datetime | None = None) -> TickResult:
    """Queue every export that is due at `now` (default: the current time)."""
    now = (now or utcnow()).astimezone(dt.UTC)
    result = TickResult(now)
    _recover_abandoned(result)
    _requeue_lost(result)
    runs = _claim_due_schedules(now, result)
    runs += _claim_due_retries(now, result)
    _enqueue(runs)
    checks = health_checks.claim_due(now)
    health_checks.enqueue(checks)
    result.checks.extend(integration_id for integration_id, _slot in checks)
    if notify.any_waiting():
        enqueue("checks", NOTIFY_JOB, job_id=f"notify-{now:%Y%m%d%H%M}")
    if delivery.any_due(now):
        outbox.kick()  # webhook retries whose time has come
    return result


# --- due schedules -------------------------------------------------------------------------------


def _claim_due_schedules(now: dt.datetime, result: TickResult) -> list[SyncRun]:
    created: list[SyncRun] = []
    with db.atomic():
        query = (
            SyncSchedule.select()
            .where(SyncSchedule.enabled & (SyncSchedule.next_run_at <= now))
            .order_by(SyncSchedule.next_run_at)
            .limit(BATCH)
        )
        if is_postgres():
            query = query.for_update(skip_locked=True)
        due = list(query)
        if not due:
            return created
        ids = [row.integration_id for row in due]
        statuses = dict(
            Integration.select(Integration.id, Integration.status)
            .where(Integration.id.in_(ids))
            .tuples()
        )
        busy = {
            integration_id
            for (integration_id,) in SyncRun.select(SyncRun.integration)
            .where(SyncRun.integration.in_(ids) & SyncRun.status.in_(exports.ACTIVE))
            .distinct()
            .tuples()
        }
        new_runs, updates = [], []
        for row in due:
            slot, following = _slots(row, now)
            if slot is None:
                updates.append((row.id, following, row.last_slot_at))
                continue
            status = statuses.get(row.integration_id)
            if status not in exports.EXPORTABLE:
                result.skipped.append((row.integration_id, str(status)))
            elif row.integration_id in busy:
                result.deferred.append(row.integration_id)
                continue  # keep the slot: it runs when the export under way has ended
            else:
                new_runs.append(
                    {
                        "integration": row.integration_id,
                        "trigger": "schedule",
                        "status": "queued",
                        "slot_at": slot,
                        "job_id": exports.job_id_for_slot(row.integration_id, slot),
                        "created_at": utcnow(),
                    }
                )
            updates.append((row.id, following, slot))
        created = _insert_runs(new_runs)
        _store_slots(updates)
    result.queued.extend(run.id for run in created)
    return created


def _slots(row: SyncSchedule, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The slot due now (or None) and the next run after now."""
    try:
        schedule = Schedule.from_model(row)
        return due_slot(schedule, now, row.last_slot_at), next_run(schedule, now)
    except (ValueError, KeyError, TypeError):
        # A stored schedule the maths cannot read: stop it rather than fail every tick.
        log.error("schedule %s of integration %s is unreadable", row.id, row.integration_id)
        return None, None


_INSERT_RUNS_PG = (
    "INSERT INTO sync_run (integration_id, trigger, status, slot_at, job_id, created_at, "
    "total_count, exported_count, failed_count, skipped_count) "
    "SELECT t.integration, 'schedule', 'queued', t.slot, t.job, %s, 0, 0, 0, 0 "
    "FROM unnest(%s::int[], %s::timestamp[], %s::text[]) AS t(integration, slot, job) "
    "ON CONFLICT (job_id) DO NOTHING RETURNING id, integration_id, job_id"
)
_STORE_SLOTS_PG = (
    "UPDATE sync_schedule AS s SET next_run_at = t.next, last_slot_at = t.slot "
    "FROM unnest(%s::int[], %s::timestamp[], %s::timestamp[]) AS t(id, next, slot) "
    "WHERE s.id = t.id"
)


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    return SyncSchedule.next_run_at.db_value(value)


def _store_slots(updates: list[tuple]) -> None:
    """Each claimed schedule's next run and last slot, in one statement on PostgreSQL."""
    if not updates:
        return
    if is_postgres():
        ids, following, slots = zip(*updates, strict=True)
        db.execute_sql(
            _STORE_SLOTS_PG,
            (list(ids), [_naive(v) for v in following], [_naive(v) for v in slots]),
        )
        return
    for schedule_id, following, last_slot in updates:
        SyncSchedule.update(next_run_at=following, last_slot_at=last_slot).where(
            SyncSchedule.id == schedule_id
        ).execute()


def _insert_runs(rows: list[dict]) -> list[SyncRun]:
    """Insert runs; a job id another scheduler inserted first is skipped, not duplicated."""
    if not rows:
        return []
    if is_postgres():
        cursor = db.execute_sql(
            _INSERT_RUNS_PG,
            (
                _naive(utcnow()),
                [row["integration"] for row in rows],
                [_naive(row["slot_at"]) for row in rows],
                [row["job_id"] for row in rows],
            ),
        )
        return [
            SyncRun(id=run_id, integration=integration_id, job_id=job_id, status="queued")
            for run_id, integration_id, job_id in cursor.fetchall()
        ]
    created = []
    for row in rows:
        try:
            with db.atomic():
                created.append(SyncRun.create(**row))
        except IntegrityError:
            continue
    return created


# --- retries and recovery ------------------------------------------------------------------------


def _claim_due_retries(now: dt.datetime, result: TickResult) -> list[SyncRun]:
    """Retry runs whose time has come get their job id (and are enqueued after commit)."""
    with db.atomic():
        query = (
            SyncRun.select(SyncRun)
            .join(Integration)
            .where(
                (SyncRun.status == "queued")
                & SyncRun.job_id.is_null()
                & (SyncRun.slot_at <= now)
                & Integration.status.in_(exports.EXPORTABLE)
            )
            .order_by(SyncRun.slot_at)
            .limit(BATCH)
        )
        if is_postgres():
            query = query.for_update(of=SyncRun, skip_locked=True)
        runs = list(query)
        for run in runs:
            run.job_id = exports.job_id_for_run(run)
            SyncRun.update(job_id=run.job_id).where(SyncRun.id == run.id).execute()
    result.retries.extend(run.id for run in runs)
    return runs


def _recover_abandoned(result: TickResult) -> None:
    """Runs marked running that no process is exporting: close them, retry in a new run."""
    running = list(SyncRun.select().where(SyncRun.status == "running"))
    for run in running:
        if not _abandoned(run):
            continue
        with exports.export_lock(run.integration_id) as free:
            if not free:
                continue
            fresh = SyncRun.get_by_id(run.id)
            if fresh.status != "running":
                continue
            with db.atomic():
                exports.close_abandoned(fresh)
                retry = exports.create_retry(run.integration_id, at=result.at)
                audit.record(
                    "export.recovered",
                    organization=Integration.get_by_id(run.integration_id).organization_id,
                    target_type="sync_run",
                    target_id=run.id,
                    detail=f"continued in run {retry.id}",
                )
        log.warning("run %s was abandoned by its worker; continuing in run %s", run.id, retry.id)
        result.recovered.append(run.id)


def _abandoned(run: SyncRun) -> bool:
    """Nobody is exporting the run any more (best evidence available in this setup)."""
    from webapp.queue import get_queue

    job_queue = get_queue()
    if is_postgres() or job_queue.in_process:
        # A running export holds its integration's lock until it has finished the run.
        with exports.export_lock(run.integration_id) as free:
            return free
    status = _job_status(run.job_id)
    return status in (None, "failed", "stopped", "canceled", "finished")


def _job_status(job_id: str | None) -> str | None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from webapp.queue import get_queue

    if job_id is None:
        return None
    try:
        return str(Job.fetch(job_id, connection=get_queue().connection).get_status(refresh=False))
    except NoSuchJobError:
        return None


def _requeue_lost(result: TickResult) -> None:
    """Queued runs whose job the queue lost (restart, crash before enqueue): queue them again."""
    from rq.job import Job

    from webapp.queue import get_queue

    job_queue = get_queue()
    cutoff = _PROCESS_STARTED if job_queue.in_process else utcnow() - LOST_JOB_GRACE
    candidates = list(
        SyncRun.select().where(
            (SyncRun.status == "queued")
            & SyncRun.job_id.is_null(False)
            & (SyncRun.created_at < cutoff)
        )
    )
    for run in candidates:
        if not job_queue.in_process and Job.exists(run.job_id, job_queue.connection):
            continue
        _enqueue([run])
        result.requeued.append(run.id)


def _enqueue(runs: list[SyncRun]) -> None:
    """Enqueue after commit: one pipeline to Redis, or the in-process executor."""
    if not runs:
        return
    from rq import Queue

    from webapp.queue import RESULT_TTL, TIMEOUTS, get_queue

    job_queue = get_queue()
    if job_queue.in_process:
        for run in runs:
            job_queue.enqueue(
                exports.QUEUE, exports.JOB, run.integration_id, run.id, job_id=run.job_id
            )
        return
    data = [
        Queue.prepare_data(
            exports.JOB,
            args=(run.integration_id, run.id),
            job_id=run.job_id,
            timeout=TIMEOUTS[exports.QUEUE],
            result_ttl=RESULT_TTL,
        )
        for run in runs
    ]
    try:
        job_queue.queue(exports.QUEUE).enqueue_many(data)
    except Exception:
        # The runs stay queued; `_requeue_lost` tries again once the queue answers.
        log.exception("could not enqueue %d export(s); they are retried later", len(runs))


# --- saving a schedule ---------------------------------------------------------------------------


def ensure_manual_schedule(integration: Integration, actor=None) -> SyncSchedule:
    """The integration's schedule, created as manual (exports on request only) if missing."""
    schedule = SyncSchedule.get_or_none(SyncSchedule.integration == integration.id)
    if schedule is not None:
        return schedule
    with db.atomic():
        schedule = SyncSchedule.create(
            integration=integration.id,
            kind="manual",
            expression={},
            time_zone=integration.organization.time_zone,
            enabled=True,
            next_run_at=None,
        )
        audit.record(
            "integration.schedule_manual",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=["kind"],
            actor=actor,
        )
    return schedule


def save_schedule(
    integration: Integration, schedule: Schedule, actor=None, now: dt.datetime | None = None
) -> SyncSchedule:
    """Store the integration's schedule and its next run; no slot before `now` runs."""
    now = now or utcnow()
    values = {
        "kind": schedule.kind,
        "expression": schedule.expression,
        "time_zone": schedule.time_zone,
        "enabled": True,
        "next_run_at": next_run(schedule, now),
        # Saving is not a reason to run the slot that has just passed.
        "last_slot_at": now,
        "updated_at": now,
        # A coordinator saving the schedule starts it again, whatever stopped it.
        "paused_reason": None,
    }
    with db.atomic():
        row = SyncSchedule.get_or_none(SyncSchedule.integration == integration.id)
        if row is None:
            row = SyncSchedule.create(integration=integration.id, **values)
        else:
            SyncSchedule.update(**values).where(SyncSchedule.id == row.id).execute()
            row = SyncSchedule.get_by_id(row.id)
        audit.record(
            "schedule.saved",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=["kind", "expression", "time_zone"],
            actor=actor,
        )
    return row


def stop_for_auth(integration: Integration, since: dt.datetime, now: dt.datetime) -> bool:
    """After seven days of rejected sign-ins: scheduled exports (and daily checks) stop until
    the credentials pass a test again. Claims keep waiting; nothing is lost."""
    from flask_babel import gettext as _

    from webapp.i18n import current_locale, format_local
    from webapp.services.exports.settings import bilingual

    zone = integration.organization.time_zone
    reason: dict[str, str] = bilingual(
        lambda: _(
            "Scheduled exports and daily checks stopped on %(stopped)s: the system has rejected "
            "the sign-in since %(since)s. They start again when new credentials pass a "
            "connection test. Claims keep waiting.",
            stopped=format_local(now, zone, current_locale()),
            since=format_local(since, zone, current_locale()),
        )
    ) | {"at": now.isoformat()}
    # A manual schedule stops too: the daily checks go with it.
    ensure_manual_schedule(integration)
    with db.atomic():
        stopped = (
            SyncSchedule.update(enabled=False, paused_reason=reason, updated_at=now)
            .where(
                (SyncSchedule.integration == integration.id) & SyncSchedule.paused_reason.is_null()
            )
            .execute()
        )
        if stopped:
            audit.record(
                "schedule.stopped_auth",
                organization=integration.organization_id,
                target_type="integration",
                target_id=integration.id,
                fields=["enabled"],
                outcome="failed",
            )
    return bool(stopped)


def restart_after_fix(integration: Integration, now: dt.datetime) -> bool:
    """The credentials work again: a schedule stopped for rejected sign-ins runs again from
    its next slot (the slots it missed are not made up)."""
    row = SyncSchedule.get_or_none(
        (SyncSchedule.integration == integration.id) & SyncSchedule.paused_reason.is_null(False)
    )
    if row is None:
        return False
    try:
        following = next_run(Schedule.from_model(row), now)
    except (ValueError, KeyError, TypeError):
        following = None
    with db.atomic():
        SyncSchedule.update(
            enabled=True,
            paused_reason=None,
            next_run_at=following,
            last_slot_at=now,
            updated_at=now,
        ).where(SyncSchedule.id == row.id).execute()
        audit.record(
            "schedule.restarted",
            organization=integration.organization_id,
            target_type="integration",
            target_id=integration.id,
            fields=["enabled"],
        )
    return True


# --- the loop ------------------------------------------------------------------------------------


def run_forever(app, stop: threading.Event | None = None, *, interval: float = 60.0) -> None:
    """Tick at every whole minute until `stop` is set (`flask scheduler`, `make run`)."""
    from webapp.db import db as database

    stop = stop or threading.Event()
    log.info("scheduler started: one tick a minute")
    while not stop.is_set():
        with app.app_context():
            try:
                with database.connection_context():
                    result = tick()
                if result.busy:
                    log.info(result.summary())
            except Exception:
                log.exception("scheduler tick failed; trying again at the next tick")
        stop.wait(interval - (time.time() % interval) + 0.05)
    log.info("scheduler stopped")


def schedule_of(integration: Integration) -> SyncSchedule | None:
    """The integration's stored schedule, if it has one."""
    return SyncSchedule.get_or_none(SyncSchedule.integration == integration.id)


def disable_schedule(integration: Integration, actor=None) -> bool:
    """Stop the integration's schedule (it is archived); True if one was running."""
    with db.atomic():
        stopped = (
            SyncSchedule.update(enabled=False, next_run_at=None, updated_at=utcnow())
            .where((SyncSchedule.integration == integration.id) & SyncSchedule.enabled)
            .execute()
        )
        if stopped:
            audit.record(
                "schedule.disabled",
                organization=integration.organization_id,
                target_type="integration",
                target_id=integration.id,
                fields=["enabled"],
                actor=actor,
            )
    return bool(stopped)
