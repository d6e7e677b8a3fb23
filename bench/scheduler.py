"""Benchmark: one scheduler tick with 10,000 scheduled integrations, of which 500 are due;
then one tick in which the daily connection checks of all 10,000 are due.

Runs the production way: a fresh PostgreSQL database and an empty Redis database number; the
tick claims the due schedules (`FOR UPDATE SKIP LOCKED`), creates 500 runs with their
(integration, slot) job ids, stores the next run times and enqueues 500 jobs on `exports`.
A first tick with nothing due warms up connections, as in a scheduler that has been running
(and gives every integration its check time). The second figure is the worst case of the
daily checks (DESIGN §12): every integration's check due in the same minute, 10,000 jobs
queued on `checks` (20 to a job) in one tick; spread over the day, a tick queues about seven.

Run: `.venv/bin/python bench/scheduler.py`
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

INTEGRATIONS = 10_000
DUE = 500
ORGS = 100
TARGET = 1.0


def main() -> int:
    services.ensure_postgres()
    services.ensure_redis()
    with (
        TemporaryDirectory() as tmp,
        services.postgres_database() as database_url,
        services.redis_database() as redis_url,
    ):
        from webapp import create_app

        app = create_app(
            {
                "ENV_NAME": "testing",
                "TESTING": True,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench-secret-key-long-enough-for-the-benchmark-0123456789",
                "VAULT_KEYRING_FILE": str(Path(tmp) / "vault-keyring.json"),
                "AUTO_MIGRATE": True,
            }
        )
        with app.app_context():
            from webapp.db import db
            from webapp.models import SyncRun
            from webapp.queue import get_queue
            from webapp.services.scheduler import tick

            db.connect(reuse_if_open=True)
            now = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
            _populate(now)
            queue = get_queue().queue("exports")
            warm = tick(now - dt.timedelta(minutes=30))
            assert not warm.queued, "nothing should be due in the warm-up tick"
            started = time.perf_counter()
            result = tick(now)
            elapsed = time.perf_counter() - started
            runs = SyncRun.select().count()
            enqueued = queue.count

            from webapp.models import HealthCheck

            checks_queue = get_queue().queue("checks")
            checks_queue.empty()
            later = now + dt.timedelta(minutes=1)
            HealthCheck.update(next_at=later).execute()
            db.execute_sql("ANALYZE health_check")
            started = time.perf_counter()
            checked = tick(later)
            check_elapsed = time.perf_counter() - started
            checks_enqueued = checks_queue.count
    print(
        f"integrations: {INTEGRATIONS}, due: {DUE}, runs created: {runs}, jobs queued: {enqueued}"
    )
    print(f"tick: {elapsed * 1000:.0f} ms ({len(result.queued)} queued by the tick)")
    print(f"bench: scheduler tick {elapsed:.3f} s (target <= {TARGET})")
    print(f"bench: scheduler jobs enqueued {enqueued} jobs (target <= {DUE})")
    print(
        f"daily checks: {len(checked.checks)} claimed, {checks_enqueued} jobs queued in "
        f"{check_elapsed * 1000:.0f} ms"
    )
    print(
        f"bench: scheduler tick with {INTEGRATIONS} checks due {check_elapsed:.3f} s (target <= {TARGET})"
    )
    ok = elapsed <= TARGET and enqueued == DUE == runs
    from webapp.services.health.checks import PER_JOB

    ok = ok and len(checked.checks) == INTEGRATIONS and checks_enqueued == INTEGRATIONS // PER_JOB
    return 0 if ok and check_elapsed <= TARGET else 1


def _populate(now: dt.datetime) -> None:
    """10,000 connected integrations with hourly schedules; every 20th is due at `now`."""
    from webapp.db import db, utcnow
    from webapp.models import Integration, Organization, SyncSchedule

    created = utcnow()
    with db.atomic():
        Organization.insert_many(
            [{"name": f"Forening {n}", "slug": f"forening-{n}"} for n in range(ORGS)]
        ).execute()
        org_ids = [o for (o,) in Organization.select(Organization.id).tuples()]
        rows = [
            {
                "organization": org_ids[n % ORGS],
                "type_key": "xledger",
                "name": f"Xledger {n}",
                "status": "connected",
                "created_at": created,
                "updated_at": created,
            }
            for n in range(INTEGRATIONS)
        ]
        for start in range(0, len(rows), 2000):
            Integration.insert_many(rows[start : start + 2000]).execute()
        ids = [i for (i,) in Integration.select(Integration.id).order_by(Integration.id).tuples()]
        anchor = (now - dt.timedelta(days=1)).isoformat()
        schedules = []
        for n, integration_id in enumerate(ids):
            due = n % (INTEGRATIONS // DUE) == 0
            schedules.append(
                {
                    "integration": integration_id,
                    "kind": "interval",
                    "expression": {"hours": 1, "anchor": anchor},
                    "time_zone": "Europe/Oslo",
                    "enabled": True,
                    # Due ones have their slot at `now`; the others ran at `now` already.
                    "next_run_at": now if due else now + dt.timedelta(hours=1),
                    "last_slot_at": now - dt.timedelta(hours=1) if due else now,
                    "updated_at": created,
                }
            )
        for start in range(0, len(schedules), 2000):
            SyncSchedule.insert_many(schedules[start : start + 2000]).execute()
    db.execute_sql("ANALYZE")


if __name__ == "__main__":
    sys.exit(main())
