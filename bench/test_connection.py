"""Benchmark: what "Test connection" costs on top of the adapter's own checks.

From the moment the test is submitted (the service call the view makes: rate limit, row,
enqueue) until its final result is readable in the database, minus the time the adapter's
checks take when called directly, with the same credentials against the same sandbox.

Everything runs the production way: PostgreSQL (a fresh test database), Redis (an empty
database number claimed for the run), and a real worker process, `flask --app app worker
checks`, which forks a work horse per job, builds nothing per job but opens its own database
connection, decrypts the credentials and writes the result. The sandbox adds no latency. Each
round uses a fresh Xledger token so Xledger's client-side burst limiter never waits.

Run: `.venv/bin/python bench/test_connection.py`
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.client import SandboxClient  # noqa: E402
from sandbox.testing import running_sandbox  # noqa: E402
from tests import services  # noqa: E402

WARMUP = 3
ROUNDS = 25
TARGET = 0.5
POLL = 0.002


def main() -> int:
    services.ensure_postgres()
    services.ensure_redis()
    with (
        TemporaryDirectory() as tmp,
        services.postgres_database() as database_url,
        services.redis_database() as redis_url,
        running_sandbox() as sandbox,
    ):
        env = {
            **os.environ,
            "LEDGERLINK_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-secret-key-long-enough-for-the-benchmark-0123456789",
            "LEDGERLINK_VAULT_KEYRING_FILE": str(Path(tmp) / "vault-keyring.json"),
            "LEDGERLINK_SANDBOX_URL": sandbox.url,
            "PYTHONPATH": str(ROOT),
        }
        os.environ.update({k: env[k] for k in env if k.startswith(("LEDGERLINK_", "DATABASE"))})
        app = _app(env)
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "checks"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            totals, direct = _measure(app, SandboxClient(sandbox.url))
        finally:
            worker.terminate()
            worker.wait(timeout=10)
    total, checks = statistics.median(totals), statistics.median(direct)
    overhead = total - checks
    print(f"rounds: {ROUNDS} (after {WARMUP} warm-up), worker: flask worker (RQ, Redis)")
    print(f"submit → final result: median {total * 1000:.1f} ms, p90 {_p90(totals) * 1000:.1f} ms")
    print(f"adapter checks alone:  median {checks * 1000:.1f} ms, p90 {_p90(direct) * 1000:.1f} ms")
    print(f"bench: test_connection overhead {overhead:.3f} s (target <= {TARGET})")
    return 0 if overhead <= TARGET else 1


def _app(env: dict):
    from webapp import create_app

    return create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": env["DATABASE_URL"],
            "REDIS_URL": env["REDIS_URL"],
            "SECRET_KEY": env["SECRET_KEY"],
            "VAULT_KEYRING_FILE": env["LEDGERLINK_VAULT_KEYRING_FILE"],
            "SANDBOX_URL": env["LEDGERLINK_SANDBOX_URL"],
            "TEST_RATE_LIMIT": 10_000,
        }
    )


def _measure(app, sandbox: SandboxClient) -> tuple[list[float], list[float]]:
    from sandbox import demo
    from webapp.db import db
    from webapp.models import ConnectionTest, Organization
    from webapp.services import checks
    from webapp.services.integrations import create_draft
    from webapp.services.providers import adapter_for
    from webapp.vault import get_vault

    totals, direct = [], []
    with app.test_request_context(), db.connection_context():
        org = Organization.create(name="Bench", slug="bench")
        for round_number in range(WARMUP + ROUNDS):
            values = {
                "api_token": sandbox.new_xledger_token(),
                "environment": "production",
                "entity_code": demo.XLEDGER_ENTITY_CODE,
            }
            integration = create_draft(org, "xledger", None)
            get_vault().seal_set(integration, 1, values)

            started = time.perf_counter()
            test = checks.start_test(integration, 1, None)
            while ConnectionTest.get_by_id(test.id).status not in checks.FINAL:
                time.sleep(POLL)
            total = time.perf_counter() - started
            assert ConnectionTest.get_by_id(test.id).status == "passed"

            started = time.perf_counter()
            results = adapter_for(integration, values).test_connection()
            alone = time.perf_counter() - started
            assert all(r.status == "passed" for r in results)
            if round_number >= WARMUP:
                totals.append(total)
                direct.append(alone)
    return totals, direct


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9) - 1]


if __name__ == "__main__":
    sys.exit(main())
