"""kill -9 of a real worker mid-export, for the systems other than Xledger (whose test is in
test_scheduler.py), each with the least a real tenant gives (ACCOUNTING_APIS §8, §9):
Dataverse with a create-only role and an alternate key (killed with claims written but not
recorded: the retry cannot read them back and writes again, the key answers 412), Business
Central without dimension or tax group permissions (killed with lines waiting in the journal:
the retry reuses them), Tripletex whose reference lookup finds only imported vouchers (killed
with vouchers posted but not recorded: the retry finds them by date). A new worker finishes the
job: every claim is in the system exactly once, none is missing."""

from __future__ import annotations

from collections import Counter

import pytest

from sandbox import demo
from tests import services
from tests.webapp.exporting import (
    bulk_claims,
    connected,
    final_run,
    kill_tree,
    start_worker,
    wait_for,
    worker_env,
)
from webapp.models import ExportItem, SyncRun
from webapp.services import exports

CLAIMS = 2000
SYSTEMS = {
    "dynamics_dataverse": (
        {"environment_url": demo.DATAVERSE_URL, "table": demo.DATAVERSE_TABLE},
        {"dataverse_role": "create_only", "dataverse_alternate_key": "line_key"},
    ),
    "dynamics_bc": (
        {
            "environment": demo.BC_ENVIRONMENT,
            "company": demo.BC_COMPANY_NAME,
            "journal": demo.BC_JOURNAL,
        },
        {"bc_permission_set": "least"},
    ),
    "tripletex": (
        {
            "consumer_token": demo.TRIPLETEX_CONSUMER_TOKEN,
            "employee_token": demo.TRIPLETEX_EMPLOYEE_TOKEN,
            "environment": "test",
        },
        {"tripletex_lookup": "import_only"},
    ),
}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EXPORT_SETTLE_SECONDS": 0.5, "EXPORT_SEND_BACKOFF": 0.05}


@pytest.fixture
def redis_queue(app, redis_url):
    from webapp import queue

    app.config["REDIS_URL"] = redis_url
    queue.init_app(app)
    job_queue = app.extensions["queue"]
    services.empty_redis(job_queue.connection)
    yield job_queue
    services.empty_redis(job_queue.connection)


def booked(sandbox, type_key: str, integration_id: int) -> Counter:
    """Claim reference → how many complete bookings the system holds for it."""
    prefix = f"LL-{integration_id}-"
    counts: Counter = Counter()
    if type_key == "tripletex":
        for voucher in sandbox.ledger()["tripletex"]["vouchers"]:
            if voucher["externalVoucherNumber"].startswith(prefix):
                counts[voucher["externalVoucherNumber"]] += 1
    elif type_key == "dynamics_dataverse":
        rows = sandbox.ledger()["dataverse"][demo.DATAVERSE_HOST][demo.DATAVERSE_TABLE]
        for row in rows:
            # The balancing record is written last: one per complete claim.
            if row["ll_reference"].startswith(prefix) and row.get("ll_balancingaccount"):
                counts[row["ll_reference"]] += 1
    else:
        entries = sandbox.ledger()["business_central"]["general_ledger_entries"]
        for entry in entries:
            # One credit entry on the payable account per posted claim.
            if entry["documentNumber"].startswith(prefix) and entry["creditAmount"]:
                counts[entry["documentNumber"]] += 1
    return counts


@pytest.mark.parametrize("type_key", sorted(SYSTEMS))
def test_kill_9_mid_export_with_least_privilege_books_each_claim_once(
    app, make, sandbox, sandbox_server, redis_queue, tmp_path, type_key
):
    settings, variations = SYSTEMS[type_key]
    sandbox.settings(**variations)
    org = make.org()
    entra = sandbox.new_entra_app() if type_key.startswith("dynamics") else {}
    integration = connected(org, type_key, {**entra, **settings})
    claim_ids = bulk_claims(org, CLAIMS, lines=1)
    run = exports.start_manual(integration).run
    env = worker_env(app, sandbox_server.url, LEDGERLINK_EXPORT_SETTLE_SECONDS="0.5")

    def exported() -> int:
        return ExportItem.select().where(ExportItem.status == "exported").count()

    def holding_unrecorded_batch() -> bool:
        """The system holds part of a batch the run has not recorded: Dataverse complete
        claims beyond the recorded ones; Business Central lines waiting in the journal."""
        pending = ExportItem.select().where(ExportItem.status == "pending").count()
        if not pending or exported() == 0:
            return False
        if type_key == "dynamics_bc":
            return bool(sandbox.ledger()["business_central"]["journal_lines"])
        return len(booked(sandbox, type_key, integration.id)) > exported()

    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(holding_unrecorded_batch, timeout=90, interval=0.01)
        kill_tree(worker.pid)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            kill_tree(worker.pid)
    assert 0 < exported() < CLAIMS

    runner = app.test_cli_runner()
    wait_for(
        lambda: runner.invoke(args=["sync", "retry", str(run.id)]).exit_code == 0,
        timeout=15,
        interval=0.2,
    )
    retry = SyncRun.get((SyncRun.trigger == "retry") & (SyncRun.integration == integration))
    second = start_worker(env, tmp_path / "worker2.log", "--burst")
    try:
        finished = final_run(retry.id, timeout=180)
        second.wait(timeout=60)
    finally:
        if second.poll() is None:
            kill_tree(second.pid)

    assert finished.status == "succeeded", finished.message
    counts = booked(sandbox, type_key, integration.id)
    assert set(counts) == {f"LL-{integration.id}-{claim}" for claim in claim_ids}
    assert set(counts.values()) == {1}
    assert exported() == CLAIMS
    assert {note["key"] for note in finished.notes or []} <= {"dimensions", "tax_code"}
