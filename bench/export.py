"""Benchmark: exporting 10,000 approved claims to the Xledger sandbox.

(a) Rate limits off (the sandbox's burst limit and the adapter's own pacing for it): the
    export job (`webapp.services.exports.execute`: read claims, resolve, claim export items,
    send in 500-line calls, read back import errors, record outcomes) against posting the
    same precomputed `addGLImportItems` payloads with a plain `requests` loop, in the same run.
(b) The sandbox's Xledger burst limit on (20 requests per 5 s, 500 lines per call): the export
    job against the bound ceil(requests / 20) × 5 s, and the number of rate-limit refusals.

Everything runs for real: a fresh PostgreSQL database, the sandbox on loopback, the vault.
The sandbox runs as a process of its own (`python -m sandbox`), the way a real provider is
another machine: as a thread of this process it took the same interpreter lock as the export
job (most of the plain loop's time was the sandbox's own CPU), so the job's database work
could not overlap the provider's work as it does in production. Both the plain loop and the
export job post to that one process. Refusals are counted from the sandbox's request log (a
burst refusal is answered 200 with `BAD_REQUEST.BURST_RATE_LIMIT_REACHED`). Nothing here
tunes the job: what it does about garbage collection (`webapp/services/exports/heap.py`) and
preparing the next request while one is in flight, the worker does too.
Claims have two lines each (three voucher lines with the balancing line). For (a) it also
prints the adapter alone (`Adapter.export` on the same batches, no database), which separates
the adapter's own per-call work (the import-error readback after each call, building the
nodes, reading the answer) from the job's (claims, mapping, export items, counts).

Run: `.venv/bin/python bench/export.py`
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from sandbox.client import SandboxClient  # noqa: E402
from sandbox.testing import sandbox_process  # noqa: E402
from tests import services  # noqa: E402

CLAIMS = 10_000
LINES = 2
TARGET_A = 1.3
TARGET_B = 1.1
BURST_REFUSED = "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"


def main() -> int:
    services.ensure_postgres()
    with (
        TemporaryDirectory() as tmp,
        services.postgres_database() as database_url,
        sandbox_process() as sandbox_url,
    ):
        app = _app(database_url, sandbox_url, Path(tmp))
        with app.app_context():
            from webapp.db import db

            db.connect(reuse_if_open=True)
            ratio_a, export_a, plain_a = _part_a(sandbox_url)
            total_b, bound_b, calls_b, refused_b = _part_b(sandbox_url)
    print(f"(a) export job {export_a:.2f} s, plain requests loop {plain_a:.2f} s")
    print(f"(b) export job {total_b:.2f} s for {calls_b} requests, bound {bound_b:.1f} s")
    print(f"bench: export ratio rate limits off {ratio_a:.2f} x (target <= {TARGET_A})")
    print(f"bench: export burst limit vs bound {total_b / bound_b:.2f} x (target <= {TARGET_B})")
    print(f"bench: export rate-limit refusals {refused_b} requests (target <= 0)")
    ok = ratio_a <= TARGET_A and total_b / bound_b <= TARGET_B and refused_b == 0
    return 0 if ok else 1


def _app(database_url: str, sandbox_url: str, tmp: Path):
    from webapp import create_app

    return create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "REDIS_URL": None,
            "SECRET_KEY": "bench-secret-key-long-enough-for-the-benchmark-0123456789",
            "VAULT_KEYRING_FILE": str(tmp / "vault-keyring.json"),
            "SANDBOX_URL": sandbox_url,
            "AUTO_MIGRATE": True,
        }
    )


def _setup(sandbox_url: str):
    from tests.webapp.exporting import bulk_claims, connected_xledger
    from webapp.models import Organization

    org = Organization.create(name="Benchforeningen", slug="bench")
    bulk_claims(org, CLAIMS, lines=LINES)
    return org, connected_xledger, SandboxClient(sandbox_url)


def _run(integration) -> tuple[float, object]:
    from webapp.models import SyncRun
    from webapp.services.exports import execute

    run = SyncRun.create(integration=integration, trigger="manual", status="queued", job_id=None)
    started = time.perf_counter()
    execute(integration.id, run.id)
    elapsed = time.perf_counter() - started
    run = SyncRun.get_by_id(run.id)
    if run.status != "succeeded" or run.exported_count != CLAIMS:
        raise SystemExit(f"export did not succeed: {run.status} {run.message}")
    return elapsed, run


def _part_a(sandbox_url: str) -> tuple[float, float, float]:
    # The adapter module reads the limit (adapters/xledger is a package of parts).
    import adapters.xledger.adapter as xledger

    org, connected_xledger, client = _setup(sandbox_url)
    # Rate limits off: the adapter's pacing for Xledger's burst limit as well.
    paced = xledger.BURST_LIMIT
    xledger.BURST_LIMIT = 10**9
    try:
        token = client.new_xledger_token()
        integration = connected_xledger(org, token, name="Xledger A")
        payloads, adapter_batches = _payloads(integration, token)
        plain = _plain_loop(sandbox_url, token, payloads)
        client.reset()  # an empty ledger each time, as for the plain loop
        adapter_only = _adapter_only(client.new_xledger_token(), adapter_batches)
        client.reset()
        token = client.new_xledger_token()
        integration = connected_xledger(org, token, name="Xledger A2")
        _book_anew(integration)
        elapsed, _run_row = _run(integration)
    finally:
        xledger.BURST_LIMIT = paced
    print(f"(a) the adapter alone (Adapter.export per batch, no database): {adapter_only:.2f} s")
    return elapsed / plain, elapsed, plain


def _book_anew(integration) -> None:
    """Each part books the same claims again into an emptied sandbox ledger: forget the
    earlier part's export items and route every claim to this integration (one ledger per
    claim holds inside a part; the product itself never does this)."""
    from webapp.models import ExpenseClaim, ExportItem

    ExportItem.delete().execute()
    ExpenseClaim.update(integration=integration.id).execute()


def _adapter_only(token: str, vouchers_by_batch: list) -> float:
    """The same batches through `Adapter.export`: calls, import-error readback, parsing."""
    from adapters.xledger import XledgerAdapter
    from webapp.services.providers import adapter_settings

    adapter = XledgerAdapter(
        {"api_token": token, "environment": "production", "entity_code": "NBF"},
        adapter_settings(),
    )
    started = time.perf_counter()
    for batch in vouchers_by_batch:
        results = adapter.export(batch)
        assert all(result.ok for result in results)
    return time.perf_counter() - started


def _payloads(integration, token: str) -> tuple[list[dict], list]:
    """The exact request bodies the adapter sends, built ahead of time, and the batches."""
    from adapters import get_type
    from adapters.vouchers import batches
    from adapters.xledger import ADD_GL_IMPORT_ITEMS, GL_IMPORT_ITEM_ERRORS, XledgerAdapter
    from webapp.mapping import ClaimData, compile_mapping, resolve_claims, rows_from_models
    from webapp.models import ExpenseClaim, ExpenseClaimLine, FieldMapping
    from webapp.services.providers import adapter_settings

    itype = get_type("xledger")
    plan = compile_mapping(
        itype,
        rows_from_models(FieldMapping.select().where(FieldMapping.integration == integration)),
    )
    claims = ExpenseClaim.select().order_by(ExpenseClaim.approved_at, ExpenseClaim.id)
    lines = ExpenseClaimLine.select()
    from peewee import prefetch

    data = [ClaimData.from_model(c) for c in prefetch(claims, lines)]
    vouchers, errors = resolve_claims(itype, plan, data, integration_id=integration.id)
    assert not errors and len(vouchers) == CLAIMS
    adapter = XledgerAdapter(
        {"api_token": token, "environment": "production", "entity_code": "NBF"},
        adapter_settings(),
    )
    bodies, grouped = [], []
    for batch in batches(vouchers, itype.batch_limit):
        inputs = [
            {"clientId": f"{v.reference}#{i}", "node": node}
            for v in batch
            for i, node in enumerate(adapter._nodes(v))
        ]
        bodies.append({"query": ADD_GL_IMPORT_ITEMS, "variables": {"inputs": inputs}})
        # Xledger stages GL import lines; the import's errors are read back after every
        # call (ACCOUNTING_APIS §1.7), so the plain loop sends that query too.
        references = list(dict.fromkeys(v.reference for v in batch))
        bodies.append(
            {
                "query": GL_IMPORT_ITEM_ERRORS,
                "variables": {"first": 10000, "filter": {"extIdentifier_in": references}},
            }
        )
        grouped.append(batch)
    return bodies, grouped


def _plain_loop(sandbox_url: str, token: str, bodies: list[dict]) -> float:
    session = requests.Session()
    url = f"{sandbox_url}/www.xledger.net/graphql"
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        response = session.post(url, json=body, headers=headers, timeout=60)
        response.raise_for_status()
        assert "errors" not in response.json()
    return time.perf_counter() - started


def _part_b(sandbox_url: str) -> tuple[float, float, int, int]:
    from tests.webapp.exporting import connected_xledger
    from webapp.models import Organization

    client = SandboxClient(sandbox_url)
    client.reset()
    client.settings(burst_limit=True, burst_max_requests=20, burst_window_seconds=5.0)

    org = Organization.get(Organization.slug == "bench")
    token = client.new_xledger_token()
    integration = connected_xledger(org, token, name="Xledger B")
    _book_anew(integration)
    client.clear_requests()
    elapsed, _run_row = _run(integration)
    seen = [r for r in client.requests_seen() if r["api"] == "xledger"]
    refused = sum(1 for r in seen if r["error"] == BURST_REFUSED or r["status"] == 429)
    calls = len(seen)
    bound = math.ceil(calls / 20) * 5.0
    return elapsed, bound, calls, refused


if __name__ == "__main__":
    sys.exit(main())
