"""What an operator runs: job modules that import on their own, and a plain `rq worker`.

The rest of the suite imports the app before any job, which once hid an import cycle that
broke every connection test in a worker started as the README says. These tests start from a
fresh interpreter each time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import services
from tests.webapp.exporting import bulk_claims, connected_xledger, final_run, wait_for
from webapp.models import ConnectionTest, ExportItem, Integration
from webapp.services import checks, exports

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[str]:
    folder = ROOT / package.replace(".", "/")
    names = []
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


@pytest.mark.parametrize(
    "module", _modules("webapp.jobs") + _modules("webapp.services") + _modules("webapp.cli")
)
def test_every_job_and_service_module_imports_in_a_fresh_interpreter(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.fixture
def worker_env(app, redis_url, sandbox_server):
    """The environment the README gives workers: the web app's own settings."""
    from webapp import queue

    app.config["REDIS_URL"] = redis_url
    queue.init_app(app)
    services.empty_redis(app.extensions["queue"].connection)
    env = {
        **os.environ,
        "LEDGERLINK_ENV": "testing",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "SECRET_KEY": app.config["SECRET_KEY"],
        "LEDGERLINK_VAULT_KEYRING_FILE": app.config["VAULT_KEYRING_FILE"],
        "LEDGERLINK_SANDBOX_URL": sandbox_server.url,
        "OIDC_ISSUER": app.config["OIDC_ISSUER"],
    }
    yield env
    services.empty_redis(app.extensions["queue"].connection)


def test_a_plain_rq_worker_runs_a_connection_test_and_an_export(
    app, make, sandbox, worker_env, tmp_path
):
    """`rq worker --url $REDIS_URL checks exports webhooks`, as the README's process model."""
    org = make.org()
    integration = connected_xledger(org, sandbox.new_xledger_token())
    claim_ids = bulk_claims(org, 5)
    with app.test_request_context():
        test = checks.start_test(integration, 1, None)
    run = exports.start_manual(integration).run

    rq = Path(sys.executable).with_name("rq")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            str(rq),
            "worker",
            "--url",
            worker_env["REDIS_URL"],
            "--burst",
            "checks",
            "exports",
            "webhooks",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        finished = final_run(run.id, timeout=120)
        tested = wait_for(
            lambda: (
                (row := ConnectionTest.get_by_id(test.id)).status in ("passed", "failed", "error")
                and row
            ),
            timeout=60,
        )
        worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        log.close()

    output = (tmp_path / "worker.log").read_text()
    assert "circular import" not in output
    assert tested.status == "passed", output[-3000:]
    assert Integration.get_by_id(integration.id).last_test_outcome == "passed"
    assert finished.status == "succeeded", (finished.message, output[-3000:])
    exported = ExportItem.select().where(ExportItem.status == "exported").count()
    assert exported == len(claim_ids)
    assert len(sandbox.ledger()["xledger"]["vouchers"]) == len(claim_ids)
    assert worker.returncode == 0
