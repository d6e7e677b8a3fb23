"""The export job against the sandbox: exactly once, per-claim failures, reconciliation after an
interruption, authentication failures, and transient provider trouble (5xx, 429, timeouts,
Xledger's burst limit)."""

from __future__ import annotations

import datetime as dt
import gc

import pytest

from sandbox import demo
from tests.webapp.exporting import (
    balanced,
    bulk_claims,
    connected_xledger,
    final_run,
    ledger_references,
    replace_token,
    wait_for,
)
from webapp.db import utcnow
from webapp.models import AuditEvent, ExpenseClaimLine, ExportItem, Integration, SyncRun
from webapp.schedule import Schedule
from webapp.services import exports, scheduler
from webapp.services.integrations import change


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "EXPORT_SEND_BACKOFF": 0.05,
        "EXPORT_MAX_RETRY_WAIT": 1.5,
        "EXPORT_LOCK_WAIT": 2.0,
        "EXPORT_SETTLE_SECONDS": 1.0,
        "EXPORT_RETRY_DELAYS": (120, 600),
    }


@pytest.fixture
def org(make):
    return make.org("Blindeforbundet", slug="nbf")


@pytest.fixture
def token(sandbox):
    """A token of this test's own, so faults and revocations touch nothing else."""
    return sandbox.new_xledger_token()


def export_now(integration) -> SyncRun:
    started = exports.start_manual(Integration.get_by_id(integration.id))
    assert started.run is not None, started.refused
    return final_run(started.run.id)


def items(integration) -> dict[int, ExportItem]:
    return {i.claim_id: i for i in ExportItem.select().where(ExportItem.integration == integration)}


def test_exports_each_approved_claim_once_as_a_balanced_voucher(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    approved = [
        make.claim(org, lines=(("mileage", "248.00"), ("meals", "389.50"))) for _ in range(3)
    ]
    make.claim(org, status="submitted")  # not approved yet: stays home

    run = export_now(integration)

    assert (run.status, run.trigger, run.error_kind) == ("succeeded", "manual", None)
    assert (run.total_count, run.exported_count, run.failed_count) == (3, 3, 0)
    assert run.message["en"] == "3 claims exported to Xledger."
    refs = ledger_references(sandbox, integration.id)
    assert refs == {f"LL-{integration.id}-{c.id}": 1 for c in approved}
    assert balanced(sandbox)
    stored = items(integration)
    assert {claim_id: i.status for claim_id, i in stored.items()} == {
        c.id: "exported" for c in approved
    }
    assert all(i.external_id for i in stored.values())
    fresh = Integration.get_by_id(integration.id)
    assert fresh.last_success_count == 3 and fresh.last_success_at and fresh.last_attempt_at
    # Nothing new: a second run sends nothing and says so.
    again = export_now(integration)
    assert (again.status, again.total_count) == ("succeeded", 0)
    assert again.message["en"] == "No new approved claims to export."
    assert ledger_references(sandbox, integration.id) == refs


def test_a_bad_claim_fails_alone_with_its_reason_and_goes_once_it_is_fixed(
    org, make, sandbox, token
):
    integration = connected_xledger(org, token)
    good = make.claim(org)
    unknown_department = make.claim(org)
    ExpenseClaimLine.update(department="999").where(
        ExpenseClaimLine.claim == unknown_department
    ).execute()
    no_lines = make.claim(org, lines=())

    run = export_now(integration)

    assert (run.status, run.exported_count, run.failed_count) == ("partial", 1, 2)
    assert "could not be exported" in run.message["en"]
    stored = items(integration)
    assert stored[good.id].status == "exported"
    assert stored[unknown_department.id].status == "failed"
    assert "999" in stored[unknown_department.id].error["en"]
    assert stored[no_lines.id].status == "failed"
    assert stored[no_lines.id].error["en"]
    assert [i.claim_id for i in exports.failed_items(run)] == sorted(
        [unknown_department.id, no_lines.id],
        key=lambda cid: [c for c in (unknown_department, no_lines) if c.id == cid][0].claim_number,
    )

    ExpenseClaimLine.update(department="200").where(
        ExpenseClaimLine.claim == unknown_department
    ).execute()
    retried = export_now(integration)
    assert (retried.status, retried.exported_count, retried.failed_count) == ("partial", 1, 1)
    refs = ledger_references(sandbox, integration.id)
    assert refs == {
        f"LL-{integration.id}-{good.id}": 1,
        f"LL-{integration.id}-{unknown_department.id}": 1,
    }


def test_an_interrupted_run_is_reconciled_with_the_provider_not_sent_twice(
    org, make, sandbox, token
):
    integration = connected_xledger(org, token)
    sent_before_crash = [make.claim(org) for _ in range(3)]
    export_now(integration)
    # As if a worker died after Xledger stored these but before we recorded it, and while
    # two more were claimed but not yet sent.
    not_sent = [make.claim(org) for _ in range(2)]
    crashed = SyncRun.create(integration=integration, trigger="schedule", status="running")
    ExportItem.update(status="pending", external_id=None, run=crashed).where(
        ExportItem.integration == integration
    ).execute()
    for claim in not_sent:
        ExportItem.create(
            integration=integration,
            claim=claim,
            run=crashed,
            reference=f"LL-{integration.id}-{claim.id}",
            status="pending",
        )
    exports.close_abandoned(crashed)

    run = export_now(integration)

    assert (run.status, run.exported_count, run.skipped_count) == ("succeeded", 5, 3)
    assert "already in Xledger" in run.message["en"]
    refs = ledger_references(sandbox, integration.id)
    assert refs == {f"LL-{integration.id}-{c.id}": 1 for c in sent_before_crash + not_sent}
    assert {i.status for i in items(integration).values()} == {"exported"}


def test_a_run_leaves_every_object_collectable_again(org, make, sandbox, token):
    # While it lasts, a run keeps what existed before it out of the collector's sight
    # (webapp/services/exports/heap.py); nothing stays frozen after it.
    integration = connected_xledger(org, token)
    make.claim(org)
    assert export_now(integration).status == "succeeded"
    assert gc.get_freeze_count() == 0


def test_a_job_runs_its_run_only_once(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    make.claim(org)
    run = export_now(integration)
    assert exports.execute(integration.id, run.id) == "skipped"
    assert len(ledger_references(sandbox, integration.id)) == 1
    # Export now while a run is under way returns that run instead of starting another.
    waiting = SyncRun.create(integration=integration, trigger="schedule", job_id="x-1")
    started = exports.start_manual(integration)
    assert started.already_running and started.run.id == waiting.id


def test_rejected_token_stops_the_run_and_asks_for_new_credentials(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    first = make.claim(org)
    export_now(integration)
    second = make.claim(org)
    sandbox.revoke_xledger_token(token)

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "auth")
    assert "rejected the API token" in run.message["en"]
    fresh = Integration.get_by_id(integration.id)
    assert fresh.status == "needs_reauth"
    assert fresh.reauth_reason["en"].startswith("Xledger rejected the API token")
    assert fresh.reauth_reason["field"] == "api_token"
    actions = {e.action for e in AuditEvent.select()}
    assert {"integration.needs_reauth", "export.rejected"} <= actions
    # Nothing more is sent until the credentials are replaced.
    assert exports.start_manual(fresh).refused == "needs_reauth"

    replace_token(fresh, sandbox.new_xledger_token())
    change(
        Integration.get_by_id(integration.id),
        {"status": "connected", "reauth_reason": None},
        actor=None,
        action="integration.reconnected",
    )
    resumed = export_now(integration)
    assert (resumed.status, resumed.exported_count) == ("succeeded", 1)
    refs = ledger_references(sandbox, integration.id)
    assert refs == {f"LL-{integration.id}-{first.id}": 1, f"LL-{integration.id}-{second.id}": 1}


def test_a_rejected_token_shows_even_when_there_is_nothing_new_to_export(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    make.claim(org)
    assert export_now(integration).status == "succeeded"
    sandbox.revoke_xledger_token(token)

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "auth")
    assert Integration.get_by_id(integration.id).status == "needs_reauth"


def test_credentials_that_no_longer_decrypt_are_an_authentication_failure(org, make, token):
    from webapp.models import IntegrationCredential

    integration = connected_xledger(org, token)
    make.claim(org)
    IntegrationCredential.update(token="v1.nokey.AAAA.BBBB").execute()
    run = export_now(integration)
    assert (run.status, run.error_kind) == ("failed", "auth")
    assert "can no longer be read" in run.message["en"]
    assert Integration.get_by_id(integration.id).status == "needs_reauth"


def test_progress_is_recorded_batch_by_batch(app, org, make, sandbox, token):
    app.config["EXPORT_BATCH_LINES"] = 6  # two claims of two lines per call
    integration = connected_xledger(org, token)
    for _ in range(10):
        make.claim(org, lines=(("mileage", "100.00"), ("meals", "20.00")))
    sandbox.set_fault(token, "latency", seconds=0.05)
    run_id = exports.start_manual(integration).run.id

    def midway():
        run = SyncRun.get_by_id(run_id)
        return run if run.status == "running" and 0 < run.exported_count < 10 else None

    run = wait_for(midway)
    assert run.total_count == 10
    assert final_run(run_id).exported_count == 10


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "rate_limit", "retry_after": 1},
        {"kind": "timeout", "seconds": 0.2},
    ],
    ids=["5xx", "429", "timeout"],
)
def test_a_transient_failure_of_one_call_is_reconciled_and_retried(
    org, make, sandbox, token, fault
):
    integration = connected_xledger(org, token)
    claims = [make.claim(org) for _ in range(3)]
    sandbox.set_fault(token, count=1, **fault)

    run = export_now(integration)

    assert run.status == "succeeded", run.message
    statuses = [r["status"] for r in sandbox.requests_seen() if r["api"] == "xledger"]
    assert statuses[0] != 200 or fault["kind"] == "timeout"
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{c.id}": 1 for c in claims
    }


def test_a_read_timeout_after_sending_does_not_duplicate(app, org, make, sandbox, token):
    """Xledger stores the call after we stopped waiting: we ask before sending again."""
    app.config["ADAPTER_READ_TIMEOUT"] = 0.3
    integration = connected_xledger(org, token)
    claims = [make.claim(org) for _ in range(2)]
    sandbox.set_fault(token, "latency", count=1, seconds=0.6)
    slow_done = utcnow() + dt.timedelta(seconds=0.6)

    run = export_now(integration)

    assert run.status == "succeeded", run.message
    # Count only once the slow call has been answered, so a resend could not hide.
    wait_for(
        lambda: any(
            dt.datetime.fromisoformat(r["at"].replace("Z", "+00:00")) >= slow_done
            for r in sandbox.requests_seen()
        )
    )
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{c.id}": 1 for c in claims
    }


def test_provider_down_fails_clearly_then_a_retry_run_finishes_the_job(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    claims = [make.claim(org) for _ in range(2)]
    sandbox.set_fault(token, "status", status=503)

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "transient")
    assert "HTTP 503" in run.message["en"]
    assert "tries again in 2 minutes" in run.message["en"]
    assert Integration.get_by_id(integration.id).status == "connected"
    retry = SyncRun.get((SyncRun.trigger == "retry") & (SyncRun.integration == integration))
    assert retry.status == "queued" and retry.job_id is None
    assert retry.slot_at > utcnow() + dt.timedelta(seconds=100)

    sandbox.clear_faults(token)
    assert scheduler.tick(utcnow()).retries == []  # not due yet
    result = scheduler.tick(utcnow() + dt.timedelta(minutes=3))
    assert result.retries == [retry.id]
    assert final_run(retry.id).status == "succeeded"
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{c.id}": 1 for c in claims
    }


def test_retries_stop_after_two_and_the_message_says_when_next(org, make, sandbox, token):
    integration = connected_xledger(org, token)
    make.claim(org)
    sandbox.set_fault(token, "status", status=502)
    run = export_now(integration)
    for hop in (1, 2):
        retry = SyncRun.get(
            (SyncRun.trigger == "retry") & (SyncRun.status == "queued") & (SyncRun.id > run.id)
        )
        scheduler.tick(utcnow() + dt.timedelta(minutes=11 * hop))
        run = final_run(retry.id)
        assert run.status == "failed"
    assert "next scheduled export" in run.message["en"]
    assert not SyncRun.select().where(SyncRun.status == "queued").exists()


def test_stays_under_the_xledger_burst_limit(app, org, make, sandbox, token):
    """21+ calls in a row: the adapter paces them so Xledger never refuses one."""
    app.config["EXPORT_BATCH_LINES"] = 6
    sandbox.settings(burst_limit=True)
    integration = connected_xledger(org, token)
    claims = [make.claim(org, lines=(("mileage", "10.00"), ("meals", "5.00"))) for _ in range(22)]

    run = export_now(integration)

    assert run.status == "succeeded", run.message
    seen = [r for r in sandbox.requests_seen() if r["api"] == "xledger"]
    assert len(seen) > 20
    assert all(r["status"] == 200 for r in seen)
    assert "BURST" not in str(sandbox.ledger()["xledger"]["import_errors"])
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{c.id}": 1 for c in claims
    }


def test_a_demo_token_integration_needs_no_fault_to_succeed(org, make, sandbox):
    integration = connected_xledger(org, demo.XLEDGER_TOKEN)
    make.claim(org)
    assert export_now(integration).status == "succeeded"


def test_the_embedded_default_on_sqlite_exports_once_and_schedules(
    tmp_path, sandbox, sandbox_server, oidc_provider
):
    """`make run` uses SQLite and in-process jobs: the same export and tick, without the
    PostgreSQL fast paths (arrays, RETURNING, advisory locks)."""
    from webapp import create_app
    from webapp.db import db
    from webapp.models import Organization

    app = create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'ledgerlink.db'}",
            "REDIS_URL": None,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-for-testing",
            "OIDC_ISSUER": oidc_provider,
            "VAULT_KEYRING_FILE": str(tmp_path / "vault-keyring.json"),
            "SANDBOX_URL": sandbox_server.url,
            "AUTO_MIGRATE": True,
            "EXPORT_SETTLE_SECONDS": 0.2,
            "EXPORT_BATCH_LINES": 7,
        }
    )
    try:
        with app.app_context():
            db.connect(reuse_if_open=True)
            org = Organization.create(name="Demo", slug="demo")
            integration = connected_xledger(org, sandbox.new_xledger_token())
            claims = bulk_claims(org, 5)
            first = export_now(integration)
            assert (first.status, first.exported_count) == ("succeeded", 5)
            # An interrupted run's pending claims are reconciled here too.
            crashed = SyncRun.create(integration=integration, trigger="manual", status="running")
            ExportItem.update(status="pending", run=crashed).execute()
            more = bulk_claims(org, 2, prefix="C")
            schedule = scheduler.save_schedule(
                integration,
                Schedule("interval", {"hours": 1}),
                now=utcnow() - dt.timedelta(hours=2),
            )
            assert schedule.next_run_at is not None
            result = scheduler.tick(utcnow())
            assert result.recovered == [crashed.id]
            assert len(result.queued) + len(result.retries) >= 1
            wait_for(
                lambda: not SyncRun.select().where(SyncRun.status.in_(exports.ACTIVE)).exists()
            )
            assert ledger_references(sandbox, integration.id) == {
                f"LL-{integration.id}-{c}": 1 for c in claims + more
            }
            assert set(ExportItem.select(ExportItem.status).tuples()) == {("exported",)}
    finally:
        if not db.is_closed():
            db.close()
