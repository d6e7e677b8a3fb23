"""Benchmark: the claims API over real HTTP against the same rows written directly.

(a) Ingesting 10,000 claims (two lines each) in batches of 500 through `POST /api/v1/claims`
    (HTTP, JSON, validation, routing, storing, describing the result) against a bare INSERT
    loop of the same claims and lines in the same run, one transaction per 500.
(b) Single-claim POST p50 against `/healthz` p50 on the same server.

Everything runs for real: a fresh PostgreSQL database and the app on a loopback HTTP server.
Run: `.venv/bin/python bench/api.py`
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from tests import services  # noqa: E402

CLAIMS = 10_000
BATCH = 500
SINGLES = 200
TARGET_INGEST = 2.0
TARGET_SINGLE = 5.0


def claim(n: int, prefix: str) -> dict:
    return {
        "external_id": f"{prefix}-{n}",
        "claimant": {"name": "Kari Nordmann", "number": str(4000 + n % 500)},
        "purpose": "Likepersonsmøte",
        "department": "200",
        "project": "P100",
        "approved_at": "2026-11-03T09:15:00+01:00",
        "approved_by": "Ola Leder",
        "lines": [
            {"date": "2026-11-02", "expense_type": "travel", "amount": "349.50"},
            {
                "date": "2026-11-02",
                "expense_type": "mileage",
                "amount": "165.00",
                "mileage": {"km": "50", "rate": "3.30"},
            },
        ],
    }


def main() -> int:
    services.ensure_postgres()
    with TemporaryDirectory() as tmp, services.postgres_database() as database_url:
        from webapp import create_app

        app = create_app(
            {
                "ENV_NAME": "testing",
                "TESTING": True,
                "DATABASE_URL": database_url,
                "REDIS_URL": None,
                "SECRET_KEY": "bench-secret-key-long-enough-for-the-benchmark-0123456789",
                "VAULT_KEYRING_FILE": str(Path(tmp) / "vault-keyring.json"),
                "AUTO_MIGRATE": True,
                # As in production (config.py): connections stay open between requests.
                "DATABASE_POOL": True,
                "API_RATE_LIMIT": 1_000_000,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=False)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with app.app_context():
                from webapp.db import db

                db.connect(reuse_if_open=True)
                org, key = _setup()
                bare = _bare_inserts(org)
                db.close()
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            api = _api_batches(session, base)
            single, health = _singles(session, base)
        finally:
            server.shutdown()
    ratio = api / bare
    single_ratio = single / health
    print(
        f"(a) API {CLAIMS} claims in batches of {BATCH}: {api:.2f} s; bare INSERT loop {bare:.2f} s"
    )
    print(f"(b) single-claim POST p50 {single * 1000:.1f} ms; /healthz p50 {health * 1000:.2f} ms")
    print(f"bench: api ingest ratio {ratio:.2f} x (target <= {TARGET_INGEST})")
    print(f"bench: api single POST vs healthz {single_ratio:.2f} x (target <= {TARGET_SINGLE})")
    return 0 if ratio <= TARGET_INGEST and single_ratio <= TARGET_SINGLE else 1


def _setup():
    from webapp.models import Integration, Organization
    from webapp.services import api_keys

    org = Organization.create(name="Benkforeningen", slug="benk")
    org.default_integration = Integration.create(
        organization=org, type_key="xledger", name="Xledger", status="connected"
    )
    org.save()
    return org, api_keys.create(org, "bench", ["claims:write", "claims:read"])[1]


def _bare_inserts(org) -> float:
    """The same rows with one INSERT per claim and per line, 500 claims per transaction."""
    from webapp.db import db
    from webapp.models import ExpenseClaim, ExpenseClaimLine

    approved = dt.datetime(2026, 11, 3, 8, 15, tzinfo=dt.UTC)
    started = time.perf_counter()
    for start in range(0, CLAIMS, BATCH):
        with db.atomic():
            for n in range(start, start + BATCH):
                body = claim(n, "bare")
                claim_id = ExpenseClaim.insert(
                    organization=org.id,
                    integration=org.default_integration_id,
                    external_id=body["external_id"],
                    claim_number=body["external_id"],
                    claimant_name="Kari Nordmann",
                    claimant_number=body["claimant"]["number"],
                    purpose="Likepersonsmøte",
                    department="200",
                    project="P100",
                    approved_at=approved,
                    approved_by="Ola Leder",
                ).execute()
                for position, line in enumerate(body["lines"]):
                    ExpenseClaimLine.insert(
                        claim=claim_id,
                        position=position,
                        date=dt.date(2026, 11, 2),
                        expense_type=line["expense_type"],
                        amount=Decimal(line["amount"]),
                        department="200",
                        project="P100",
                    ).execute()
    return time.perf_counter() - started


def _api_batches(session: requests.Session, base: str) -> float:
    batches = [
        {"claims": [claim(n, "api") for n in range(start, start + BATCH)]}
        for start in range(0, CLAIMS, BATCH)
    ]
    started = time.perf_counter()
    for batch in batches:
        response = session.post(f"{base}/api/v1/claims", json=batch, timeout=120)
        if response.status_code != 201:
            raise SystemExit(f"batch refused: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


def _singles(session: requests.Session, base: str) -> tuple[float, float]:
    posts, health = [], []
    for n in range(SINGLES):
        body = claim(n, "single")
        started = time.perf_counter()
        response = session.post(f"{base}/api/v1/claims", json=body, timeout=30)
        posts.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise SystemExit(f"claim refused: {response.status_code} {response.text[:300]}")
        started = time.perf_counter()
        session.get(f"{base}/healthz", timeout=30)
        health.append(time.perf_counter() - started)
    return statistics.median(posts), statistics.median(health)


if __name__ == "__main__":
    sys.exit(main())
