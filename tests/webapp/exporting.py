"""Helpers for the export, scheduler and dashboard tests: connected integrations, many claims,
what the sandbox ledger holds, and waiting on a condition instead of sleeping."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from adapters import get_type
from sandbox import demo
from webapp.db import db, utcnow
from webapp.mapping import rows_from_defaults
from webapp.models import (
    ExpenseClaim,
    ExpenseClaimLine,
    FieldMapping,
    Integration,
    Organization,
    SyncRun,
    SyncSchedule,
)
from webapp.services.claims import routing


def connected_xledger(
    org: Organization,
    token: str = demo.XLEDGER_TOKEN,
    *,
    name: str = "Xledger",
    status: str = "connected",
) -> Integration:
    """An Xledger integration as the wizard leaves it: sealed credentials, default mapping."""
    credentials = {
        "api_token": token,
        "environment": "production",
        "entity_code": demo.XLEDGER_ENTITY_CODE,
    }
    return connected(org, "xledger", credentials, name=name, status=status)


def connected(
    org: Organization,
    type_key: str,
    credentials: dict[str, str],
    *,
    name: str | None = None,
    status: str = "connected",
) -> Integration:
    """An integration of any system as the wizard leaves it: sealed credentials, default
    mapping, and the organisation's default if it had none."""
    from webapp.vault import get_vault

    integration = Integration.create(
        organization=org,
        type_key=type_key,
        name=name or get_type(type_key).name.en,
        status=status,
        active_credential_version=1,
        wizard_step="save",
    )
    get_vault().seal_set(integration, 1, credentials)
    rows = rows_from_defaults(get_type(type_key))
    FieldMapping.insert_many(
        [
            {**row.model_values(), "integration": integration.id, "position": position}
            for position, row in enumerate(rows)
        ]
    ).execute()
    # As the wizard's save does: the organisation's first integration becomes its default.
    routing.default_if_none(integration)
    return integration


def replace_token(integration: Integration, token: str) -> None:
    """What the credential form does on save: a new credential set becomes active."""
    from webapp.vault import get_vault

    version = (integration.active_credential_version or 0) + 1
    get_vault().seal_set(
        integration,
        version,
        {"api_token": token, "environment": "production", "entity_code": demo.XLEDGER_ENTITY_CODE},
    )
    Integration.update(active_credential_version=version).where(
        Integration.id == integration.id
    ).execute()


def schedule(integration: Integration, kind: str, expression: dict, **kw) -> SyncSchedule:
    from webapp.schedule import Schedule
    from webapp.services.scheduler import save_schedule

    now = kw.pop("now", None)
    return save_schedule(
        integration, Schedule(kind, expression, kw.pop("time_zone", "Europe/Oslo")), now=now
    )


def bulk_claims(org: Organization, count: int, lines: int = 2, prefix: str = "B") -> list[int]:
    """`count` approved claims with `lines` lines each, inserted in bulk."""
    now = utcnow()
    with db.atomic():
        first = ExpenseClaim.select(ExpenseClaim.id).order_by(ExpenseClaim.id.desc()).scalar() or 0
        rows = [
            {
                "organization": org.id,
                "claim_number": f"{prefix}-{org.id}-{first + n:06d}",
                "claimant_name": "Kari Nordmann",
                "claimant_email": "kari@example.org",
                "purpose": "Likepersonsmøte",
                "department": "200",
                "project": "P100",
                "status": "approved",
                "approved_at": now - dt.timedelta(seconds=count - n),
                "created_at": now,
            }
            for n in range(count)
        ]
        for start in range(0, len(rows), 1000):
            ExpenseClaim.insert_many(rows[start : start + 1000]).execute()
        ids = [
            claim_id
            for (claim_id,) in ExpenseClaim.select(ExpenseClaim.id)
            .where(
                (ExpenseClaim.organization == org.id)
                & ExpenseClaim.claim_number.startswith(f"{prefix}-{org.id}-")
            )
            .order_by(ExpenseClaim.id)
            .tuples()
        ]
        kinds = ("mileage", "meals", "travel", "course", "office", "other")
        line_rows = [
            {
                "claim": claim_id,
                "position": position,
                "date": dt.date(2026, 11, 2),
                "expense_type": kinds[(claim_id + position) % len(kinds)],
                "amount": Decimal(100 + (claim_id * 7 + position * 13) % 900) + Decimal("0.50"),
                "description": f"Linje {position + 1}",
                "department": "200",
                "project": "P100",
                "vat_code": "0",
            }
            for claim_id in ids
            for position in range(lines)
        ]
        for start in range(0, len(line_rows), 2000):
            ExpenseClaimLine.insert_many(line_rows[start : start + 2000]).execute()
    return ids


def ledger_references(sandbox, integration_id: int | None = None) -> Counter:
    """How many posted Xledger vouchers carry each claim reference (optionally one integration)."""
    vouchers = sandbox.ledger()["xledger"]["vouchers"]
    counts: Counter = Counter()
    for voucher in vouchers:
        reference = voucher["extIdentifier"]
        if integration_id is None or reference.startswith(f"LL-{integration_id}-"):
            counts[reference] += 1
    return counts


def balanced(sandbox) -> bool:
    return all(
        sum(Decimal(line["amount"]) for line in voucher["lines"]) == 0
        for voucher in sandbox.ledger()["xledger"]["vouchers"]
    )


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05):
    """Poll until `predicate()` is truthy; return its value or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def final_run(run_id: int, timeout: float = 30.0) -> SyncRun:
    """Wait until the run has ended; return it fresh."""

    def done():
        run = SyncRun.get_by_id(run_id)
        return run if run.is_final else None

    return wait_for(done, timeout)


# --- real worker processes ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def worker_env(app, sandbox_url: str, **extra: str) -> dict[str, str]:
    """The environment the README gives workers: the web app's own settings."""
    return {
        **os.environ,
        "LEDGERLINK_ENV": "testing",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "LEDGERLINK_VAULT_KEYRING_FILE": app.config["VAULT_KEYRING_FILE"],
        "LEDGERLINK_SANDBOX_URL": sandbox_url,
        **extra,
    }


def start_worker(env: dict[str, str], log_path: Path, *extra: str) -> subprocess.Popen:
    """`flask --app app worker exports` in its own session (so kill_tree reaches its horse)."""
    log = log_path.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "exports", *extra],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_tree(pid: int) -> None:
    """SIGKILL a worker and its work horse (RQ runs each job in a child in its own session)."""
    family = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            family.append(int(stat.parent.name))
    for member in reversed(family):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
