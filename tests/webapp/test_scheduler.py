"""The scheduler: due slots in the organisation's time zone, one run per (integration, slot)
even with two schedulers at once, skipped and deferred integrations, recovery of runs left by a
dead worker (a real `rq worker` killed with SIGKILL mid-export), the loop and the CLI."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests import services
from tests.webapp.exporting import (
    bulk_claims,
    connected_xledger,
    final_run,
    kill_tree,
    ledger_references,
    schedule,
    start_worker,
    wait_for,
    worker_env,
)
from webapp.db import db, utcnow
from webapp.models import ExportItem, Integration, SyncRun, SyncSchedule
from webapp.services import exports, scheduler

ROOT = Path(__file__).resolve().parents[2]
OSLO = ZoneInfo("Europe/Oslo")
UTC = dt.UTC


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EXPORT_SETTLE_SECONDS": 0.5, "EXPORT_SEND_BACKOFF": 0.05}


@pytest.fixture
def redis_queue(app, redis_url):
    """Jobs go to this run's own Redis database (and stay there: no worker unless started)."""
    from webapp import queue

    app.config["REDIS_URL"] = redis_url
    queue.init_app(app)
    job_queue = app.extensions["queue"]
    services.empty_redis(job_queue.connection)
    yield job_queue
    services.empty_redis(job_queue.connection)


def local(year, month, day, hour=0, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def simulate(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> list[SyncRun]:
    """Tick from start to end; each queued run is finished at once, as a worker would."""
    now = start
    while now <= end:
        scheduler.tick(now)
        SyncRun.update(status="succeeded", finished_at=now).where(
            SyncRun.status == "queued"
        ).execute()
        now += step
    return list(SyncRun.select().order_by(SyncRun.slot_at))


def slots_of(integration, runs) -> list[dt.datetime]:
    return [r.slot_at for r in runs if r.integration_id == integration.id]


# --- slots -------------------------------------------------------------------------------------


def test_a_due_schedule_gets_one_run_per_slot_and_its_next_run(make, redis_queue):
    org = make.org()
    integration = make.integration(org, status="connected")
    saved = schedule(integration, "daily", {"time": "02:30"}, now=local(2026, 11, 23, 12))
    assert saved.next_run_at == local(2026, 11, 24, 2, 30)
    assert scheduler.tick(local(2026, 11, 24, 2, 29)).queued == []

    result = scheduler.tick(local(2026, 11, 24, 2, 30))

    run = SyncRun.get_by_id(result.queued[0])
    assert (run.trigger, run.status, run.slot_at) == (
        "schedule",
        "queued",
        local(2026, 11, 24, 2, 30),
    )
    assert run.job_id == f"export-{integration.id}-20261124T0130"
    assert redis_queue.queue("exports").job_ids == [run.job_id]
    row = SyncSchedule.get_by_id(saved.id)
    assert row.next_run_at == local(2026, 11, 25, 2, 30)
    assert row.last_slot_at == local(2026, 11, 24, 2, 30)
    assert scheduler.tick(local(2026, 11, 24, 2, 31)).queued == []


def test_daily_runs_once_a_day_across_both_daylight_saving_changes(make, redis_queue):
    org = make.org()
    at_0230 = make.integration(org, status="connected", name="02:30")
    at_0300 = make.integration(org, status="connected", name="03:00")
    for integration, time in ((at_0230, "02:30"), (at_0300, "03:00")):
        schedule(integration, "daily", {"time": time}, now=local(2026, 3, 27, 23))

    runs = simulate(local(2026, 3, 27, 23), local(2026, 3, 30, 4), dt.timedelta(minutes=30))
    # 29 March: 02:00 → 03:00. 02:30 does not exist and runs at 03:30 CEST (01:30 UTC).
    assert slots_of(at_0230, runs) == [
        dt.datetime(2026, 3, 28, 1, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
    ]
    assert slots_of(at_0300, runs) == [
        dt.datetime(2026, 3, 28, 2, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 30, 1, 0, tzinfo=UTC),
    ]

    SyncRun.delete().execute()
    for integration, time in ((at_0230, "02:30"), (at_0300, "03:00")):
        schedule(integration, "daily", {"time": time}, now=local(2026, 10, 23, 23))
    runs = simulate(local(2026, 10, 23, 23), local(2026, 10, 26, 4), dt.timedelta(minutes=30))
    # 25 October: 03:00 → 02:00. 02:30 happens twice and runs at the first (CEST).
    assert slots_of(at_0230, runs) == [
        dt.datetime(2026, 10, 24, 0, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]
    assert slots_of(at_0300, runs) == [
        dt.datetime(2026, 10, 24, 1, 0, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
        dt.datetime(2026, 10, 26, 2, 0, tzinfo=UTC),
    ]
    assert all(slot.astimezone(OSLO).hour in (2, 3) for slot in slots_of(at_0230, runs))


def test_weekly_and_cron_schedules(make, redis_queue):
    org = make.org()
    weekly = make.integration(org, status="connected", name="weekly")
    cron = make.integration(org, status="connected", name="cron")
    start = local(2026, 11, 22, 23)  # Sunday evening
    schedule(weekly, "weekly", {"time": "06:00", "days": [0, 3]}, now=start)
    schedule(cron, "cron", {"cron": "*/30 9-10 * * 1-5"}, now=start)

    runs = simulate(start, local(2026, 11, 28, 23), dt.timedelta(minutes=30))

    assert [s.astimezone(OSLO).strftime("%a %H:%M") for s in slots_of(weekly, runs)] == [
        "Mon 06:00",
        "Thu 06:00",
    ]
    cron_slots = [s.astimezone(OSLO) for s in slots_of(cron, runs)]
    assert len(cron_slots) == 5 * 4
    assert {s.strftime("%H:%M") for s in cron_slots} == {"09:00", "09:30", "10:00", "10:30"}
    assert {s.strftime("%a") for s in cron_slots} == {"Mon", "Tue", "Wed", "Thu", "Fri"}


def test_integrations_that_cannot_export_are_skipped_and_busy_ones_deferred(make, redis_queue):
    org = make.org()
    now = local(2026, 11, 24, 6)
    by_status = {
        status: make.integration(org, status=status, name=status)
        for status in ("needs_reauth", "paused", "draft", "connected")
    }
    for integration in by_status.values():
        schedule(integration, "interval", {"hours": 1}, now=now - dt.timedelta(hours=2))
    busy = by_status["connected"]
    SyncRun.create(integration=busy, trigger="manual", status="running", job_id="x")

    result = scheduler.tick(now)

    assert sorted(status for _id, status in result.skipped) == ["draft", "needs_reauth", "paused"]
    assert result.deferred == [busy.id] and result.queued == []
    skipped_row = SyncSchedule.get(SyncSchedule.integration == by_status["paused"])
    assert skipped_row.next_run_at == now + dt.timedelta(hours=1)  # the slot is passed over
    # The busy one keeps its slot and gets it once its export has ended.
    SyncRun.update(status="succeeded").execute()
    later = scheduler.tick(now + dt.timedelta(minutes=5))
    assert len(later.queued) == 1
    assert SyncRun.get_by_id(later.queued[0]).slot_at == now


def test_a_slot_already_taken_by_another_scheduler_is_not_run_again(make, redis_queue):
    org = make.org()
    integration = make.integration(org, status="connected")
    saved = schedule(integration, "daily", {"time": "02:30"}, now=local(2026, 11, 23, 12))
    scheduler.tick(local(2026, 11, 24, 2, 30))
    SyncRun.update(status="succeeded").execute()
    # A second scheduler that read the schedule before the first one committed:
    SyncSchedule.update(next_run_at=saved.next_run_at, last_slot_at=saved.last_slot_at).execute()

    result = scheduler.tick(local(2026, 11, 24, 2, 30))

    assert result.queued == []
    assert SyncRun.select().count() == 1


# --- the real thing: exports behind the ticks --------------------------------------------------


def test_two_schedulers_for_ten_minutes_never_export_twice(app, make, sandbox):
    """Two threads, each with its own PostgreSQL connection, tick the same minutes together."""
    start = dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    integrations = []
    for n in range(4):
        org = make.org(f"Forening {n}")
        integration = connected_xledger(org, sandbox.new_xledger_token())
        schedule(integration, "cron", {"cron": "* * * * *"}, now=start)
        integrations.append(integration)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler_thread(minute: int) -> None:
        try:
            with app.app_context(), db.connection_context():
                barrier.wait(timeout=10)
                scheduler.tick(start + dt.timedelta(minutes=minute, seconds=1))
        except BaseException as error:  # reported below
            errors.append(error)

    for minute in range(1, 11):
        for integration in integrations:
            bulk_claims(integration.organization, 2, prefix=f"M{minute}")
        threads = [threading.Thread(target=scheduler_thread, args=(minute,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert not errors, errors
        wait_for(lambda: not SyncRun.select().where(SyncRun.status.in_(exports.ACTIVE)).exists())

    runs = list(SyncRun.select())
    assert all(run.status == "succeeded" for run in runs), [r.message for r in runs]
    per_slot = Counter((run.integration_id, run.slot_at) for run in runs)
    assert set(per_slot.values()) == {1}
    assert len(runs) == 10 * len(integrations)
    for integration in integrations:
        refs = ledger_references(sandbox, integration.id)
        assert len(refs) == 20 and set(refs.values()) == {1}
    assert set(ExportItem.select(ExportItem.status).tuples()) == {("exported",)}


def test_a_run_left_running_by_a_dead_worker_is_recovered_by_the_next_tick(make, sandbox):
    org = make.org()
    integration = connected_xledger(org, sandbox.new_xledger_token())
    claims = bulk_claims(org, 3)
    orphan = SyncRun.create(
        integration=integration, trigger="schedule", status="running", job_id="gone"
    )

    result = scheduler.tick()

    assert result.recovered == [orphan.id]
    orphan = SyncRun.get_by_id(orphan.id)
    assert (orphan.status, orphan.error_kind) == ("failed", "transient")
    assert "worker running it ended" in orphan.message["en"]
    retry = SyncRun.get(SyncRun.trigger == "retry")
    assert result.retries == [retry.id]
    assert final_run(retry.id).status == "succeeded"
    assert len(ledger_references(sandbox, integration.id)) == len(claims)


def test_kill_9_of_the_worker_mid_export_loses_and_duplicates_nothing(
    app, make, sandbox, sandbox_server, redis_queue, tmp_path
):
    """2,000 claims; SIGKILL the `rq worker` (and its work horse) while Xledger holds a batch
    we have not recorded; `flask sync retry`; a new worker finishes: every claim exactly once."""
    org = make.org()
    token = sandbox.new_xledger_token()
    integration = connected_xledger(org, token)
    claim_ids = bulk_claims(org, 2000)
    sandbox.set_fault(token, "latency", seconds=0.12)
    run = exports.start_manual(integration).run
    env = worker_env(app, sandbox_server.url, LEDGERLINK_EXPORT_SETTLE_SECONDS="0.5")

    def start(*extra: str):
        return start_worker(env, tmp_path / f"worker{len(extra)}.log", *extra)

    def exported() -> int:
        return ExportItem.select().where(ExportItem.status == "exported").count()

    def holding_unrecorded_batch() -> bool:
        pending = ExportItem.select().where(ExportItem.status == "pending").count()
        if not pending or exported() == 0:
            return False
        return len(sandbox.ledger()["xledger"]["vouchers"]) > exported()

    worker = start()
    try:
        wait_for(holding_unrecorded_batch, timeout=60, interval=0.02)
        kill_tree(worker.pid)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            kill_tree(worker.pid)
    assert SyncRun.get_by_id(run.id).status == "running"
    assert 0 < exported() < len(claim_ids)
    sandbox.clear_faults(token)

    runner = app.test_cli_runner()
    # PostgreSQL releases the dead worker's export lock as soon as it sees the connection drop.
    outcome = wait_for(
        lambda: (r := runner.invoke(args=["sync", "retry", str(run.id)])).exit_code == 0 and r,
        timeout=15,
        interval=0.2,
    )
    assert "continues in retry run" in outcome.output
    retry = SyncRun.get((SyncRun.trigger == "retry") & (SyncRun.integration == integration))

    second = start("--burst")
    try:
        finished = final_run(retry.id, timeout=120)
        second.wait(timeout=30)
    finally:
        if second.poll() is None:
            kill_tree(second.pid)

    assert finished.status == "succeeded", finished.message
    assert finished.skipped_count > 0  # the batch Xledger held was recorded, not resent
    assert SyncRun.get_by_id(run.id).status == "failed"
    refs = ledger_references(sandbox, integration.id)
    assert len(refs) == len(claim_ids)
    assert set(refs.values()) == {1}
    assert exported() == len(claim_ids)


# --- the loop and the commands -----------------------------------------------------------------


def test_the_loop_ticks_and_stops_cleanly(app, make, redis_queue):
    org = make.org()
    integration = make.integration(org, status="connected")
    row = schedule(integration, "interval", {"hours": 1}, now=utcnow() - dt.timedelta(hours=2))
    SyncSchedule.update(next_run_at=utcnow() - dt.timedelta(minutes=1)).where(
        SyncSchedule.id == row.id
    ).execute()
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run_forever, args=(app, stop), kwargs={"interval": 0.2}
    )
    thread.start()
    try:
        wait_for(lambda: SyncRun.select().where(SyncRun.integration == integration).exists())
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_cli_tick_show_and_retry(app, make, redis_queue):
    org = make.org()
    integration = make.integration(org, status="connected")
    schedule(integration, "daily", {"time": "02:30"}, now=local(2026, 11, 23, 12))
    runner = app.test_cli_runner()

    ticked = runner.invoke(args=["scheduler", "tick", "--at", "2026-11-24T01:30:00"])
    assert ticked.exit_code == 0, ticked.output
    assert "1 export(s) queued" in ticked.output
    run = SyncRun.get()
    shown = runner.invoke(args=["sync", "show", str(run.id)])
    assert f"run {run.id} of integration {integration.id} (schedule): queued" in shown.output
    retried = runner.invoke(args=["sync", "retry", str(run.id)])
    assert "continues in retry run" in retried.output
    assert SyncRun.get_by_id(run.id).status == "failed"
    assert runner.invoke(args=["sync", "retry", "999"]).exit_code != 0
    assert "Queue scheduled exports" in runner.invoke(args=["scheduler", "--help"]).output
    busy = runner.invoke(args=["sync", "run", str(integration.id)])
    assert "already under way" in busy.output
    Integration.update(status="paused").execute()
    refused = runner.invoke(args=["sync", "run", str(integration.id)])
    assert "cannot export now: it is paused" in refused.output
