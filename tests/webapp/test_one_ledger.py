"""One ledger per claim: two integrations on the same Xledger entity book each claim once."""

from __future__ import annotations

from pathlib import Path

import pytest
from peewee import IntegrityError

from tests import services
from tests.webapp.exporting import (
    bulk_claims,
    connected_xledger,
    final_run,
    kill_tree,
    ledger_references,
    start_worker,
    wait_for,
    worker_env,
)
from webapp.db import db
from webapp.mapping import reference_for
from webapp.models import ExpenseClaim, ExportItem, Integration, Organization, SyncRun
from webapp.services import exports
from webapp.services.claims import routing


def export_now(integration: Integration) -> SyncRun:
    started = exports.start_manual(Integration.get_by_id(integration.id))
    assert started.run is not None, started.refused
    return final_run(started.run.id)


def bookings(sandbox, claim_ids: list[int], *integrations: Integration) -> dict[int, int]:
    """How many vouchers the sandbox ledger holds for each claim, whichever integration."""
    counts = ledger_references(sandbox)
    return {
        claim_id: sum(counts[reference_for(i.id, claim_id)] for i in integrations)
        for claim_id in claim_ids
    }


def test_a_second_integration_on_the_same_ledger_books_nothing_twice(app, make, sandbox):
    org = make.org()
    token = sandbox.new_xledger_token()
    first = connected_xledger(org, token, name="Xledger")
    second = connected_xledger(org, token, name="Xledger (kopi)")
    assert Organization.get_by_id(org.id).default_integration_id == first.id
    claim_ids = bulk_claims(org, 12)

    # The copy exports first: nothing is routed to it, so it books nothing.
    assert export_now(second).exported_count == 0
    assert export_now(first).exported_count == 12
    assert export_now(second).exported_count == 0
    assert export_now(first).exported_count == 0

    assert set(bookings(sandbox, claim_ids, first, second).values()) == {1}
    assert ExportItem.select().count() == 12
    assert {c.integration_id for c in ExpenseClaim.select()} == {first.id}


def test_claims_routed_to_each_integration_are_booked_by_it_alone(app, make, sandbox):
    org = make.org()
    token = sandbox.new_xledger_token()
    first = connected_xledger(org, token, name="Avdeling Øst")
    second = connected_xledger(org, token, name="Avdeling Vest")
    claim_ids = bulk_claims(org, 10)
    assert export_now(second).exported_count == 0  # routing happens on arrival, not here
    for claim in ExpenseClaim.select().where(ExpenseClaim.id.in_(claim_ids[5:])):
        routing.move(claim, second)

    assert export_now(first).exported_count == 5
    assert export_now(second).exported_count == 5

    assert set(bookings(sandbox, claim_ids, first, second).values()) == {1}
    by_integration = {i.claim_id: i.integration_id for i in ExportItem.select()}
    assert [by_integration[c] for c in claim_ids] == [first.id] * 5 + [second.id] * 5


def test_a_claim_moved_after_a_failed_export_is_booked_once_by_its_new_integration(
    app, make, sandbox
):
    org = make.org()
    first = connected_xledger(org, sandbox.new_xledger_token(), name="Gammel")
    second = connected_xledger(org, sandbox.new_xledger_token(), name="Ny")
    (claim_id,) = bulk_claims(org, 1)
    ExportItem.create(
        integration=first,
        claim=claim_id,
        run=SyncRun.create(integration=first, trigger="manual", status="failed"),
        reference=reference_for(first.id, claim_id),
        status="failed",
        error={"nb": "Konto finnes ikke", "en": "Account does not exist", "code": "x"},
    )
    routing.move(ExpenseClaim.get_by_id(claim_id), second)

    assert export_now(second).exported_count == 1
    item = ExportItem.get(ExportItem.claim == claim_id)
    assert (item.integration_id, item.status) == (second.id, "exported")
    assert bookings(sandbox, [claim_id], first, second) == {claim_id: 1}


def test_the_database_refuses_a_second_item_for_a_claim(app, make, sandbox):
    org = make.org()
    first = connected_xledger(org, sandbox.new_xledger_token(), name="A")
    second = connected_xledger(org, sandbox.new_xledger_token(), name="B")
    (claim_id,) = bulk_claims(org, 1)
    run = SyncRun.create(integration=first, trigger="manual", status="running")
    ExportItem.create(
        integration=first, claim=claim_id, run=run, reference="LL-a", status="pending"
    )
    other = SyncRun.create(integration=second, trigger="manual", status="running")
    with pytest.raises(IntegrityError), db.atomic():
        ExportItem.create(
            integration=second, claim=claim_id, run=other, reference="LL-b", status="pending"
        )


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EXPORT_SETTLE_SECONDS": 0.5, "EXPORT_SEND_BACKOFF": 0.05}


@pytest.fixture
def redis_queue(app, redis_url):
    """Jobs go to this run's own Redis database, for real `rq` workers to take."""
    from webapp import queue

    app.config["REDIS_URL"] = redis_url
    queue.init_app(app)
    job_queue = app.extensions["queue"]
    services.empty_redis(job_queue.connection)
    yield job_queue
    services.empty_redis(job_queue.connection)


def test_kill_9_mid_export_with_two_integrations_on_one_ledger_books_each_claim_once(
    app, make, sandbox, sandbox_server, redis_queue, tmp_path
):
    """1,000 claims, half routed to each of two integrations on the same Xledger entity;
    SIGKILL the worker while Xledger holds a batch not yet recorded; retry with a new
    worker: every claim is in the ledger exactly once, whichever integration booked it."""
    org = make.org()
    token = sandbox.new_xledger_token()
    first = connected_xledger(org, token, name="Øst")
    second = connected_xledger(org, token, name="Vest")
    claim_ids = bulk_claims(org, 1000)
    routing.adopt_unrouted(first)
    for claim in ExpenseClaim.select().where(ExpenseClaim.id.in_(claim_ids[500:])):
        routing.move(claim, second)
    sandbox.set_fault(token, "latency", seconds=0.12)
    runs = [exports.start_manual(i).run for i in (first, second)]
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
        wait_for(holding_unrecorded_batch, timeout=90, interval=0.02)
        kill_tree(worker.pid)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            kill_tree(worker.pid)
    sandbox.clear_faults(token)
    assert 0 < exported() < len(claim_ids)

    runner = app.test_cli_runner()
    retries = []
    for run in runs:
        if SyncRun.get_by_id(run.id).status != "running":
            continue  # still queued: the next worker takes it as it is
        # PostgreSQL releases the dead worker's lock as soon as it sees the connection drop.
        wait_for(
            lambda run=run: runner.invoke(args=["sync", "retry", str(run.id)]).exit_code == 0,
            timeout=15,
            interval=0.2,
        )
        retries.append(
            SyncRun.get((SyncRun.trigger == "retry") & (SyncRun.integration == run.integration_id))
        )

    second_worker = start("--burst")
    try:
        for run in [r for r in runs if SyncRun.get_by_id(r.id).status == "queued"] + retries:
            assert final_run(run.id, timeout=180).status == "succeeded"
        second_worker.wait(timeout=60)
    finally:
        if second_worker.poll() is None:
            kill_tree(second_worker.pid)

    booked = bookings(sandbox, claim_ids, first, second)
    assert set(booked.values()) == {1}, [c for c, n in booked.items() if n != 1][:5]
    assert exported() == len(claim_ids)
    by_integration = {i.claim_id: i.integration_id for i in ExportItem.select()}
    assert {by_integration[c] for c in claim_ids[:500]} == {first.id}
    assert {by_integration[c] for c in claim_ids[500:]} == {second.id}
