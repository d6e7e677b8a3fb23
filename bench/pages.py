"""Benchmark: every page and fragment a coordinator uses, against `/healthz` in the same run.

A realistic organisation on a fresh PostgreSQL database: 20 connected integrations with a
daily schedule and 200 runs each, 10,000 claims (two lines each) routed over them, most
booked and some refused; one export running and one connection test under way (their
status fragments poll every second), and one integration half-way through the setup wizard.

(a) In one process, through Flask's test client as a signed-in coordinator administrator
    (pooled connections, as in production; the browser's Accept-Encoding): every page and
    fragment in rounds, each request followed by one to `/healthz` (which does no I/O), so
    both see the same machine. Reports p50 and p95 as multiples of `/healthz` p50, the
    response size uncompressed (and gzipped), and the SQL statements per request. A floor
    is measured beside them, with no target: an organisation route of the bench's own that
    checks the session and the membership and answers one line (`floor_blueprint`).
(b) The same app under gunicorn on loopback, 16 concurrent clients requesting the pages in
    turn for 60 s (`--seconds 20` for a quick run): p50, p95, errors and requests per second.

Run: `.venv/bin/python bench/pages.py [--rounds N] [--seconds S] [--skip-gunicorn]`
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402
from tests.querycount import counting_queries  # noqa: E402

INTEGRATIONS = 20
RUNS_EACH = 200
CLAIMS = 10_000
CLIENTS = 16
SLUG = "benk"
EMAIL = "koordinator@example.org"
SECRET = "bench-secret-key-long-enough-for-the-benchmark-0123456789"
BROWSER = {"Accept-Encoding": "gzip, deflate, br", "Accept-Language": "nb"}
HTMX = {"HX-Request": "true"}

# Targets (issue 15): multiples of /healthz p50 in the same run, sizes uncompressed.
TARGET_PAGE_P50 = 5.0
TARGET_POLLED_P50 = 3.0
TARGET_P95 = 10.0
TARGET_PAGE_KB = 40.0
TARGET_FRAGMENT_KB = 8.0
TARGET_QUERIES = 12
TARGET_ERRORS = 0


@dataclass
class Page:
    name: str
    path: str
    kind: str  # page, fragment, polled, baseline, reference (reported, no target)
    headers: dict = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    size: int = 0
    gzipped: int = 0
    queries: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        return percentile(self.times, 95)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def config(database_url: str, tmp: Path) -> dict:
    return {
        "ENV_NAME": "testing",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "SECRET_KEY": SECRET,
        "VAULT_KEYRING_FILE": str(tmp / "vault-keyring.json"),
        "AUTO_MIGRATE": True,
        # As in production (config.py): connections stay open between requests.
        "DATABASE_POOL": True,
        "SERVER_NAME": None,
    }


def floor_blueprint():
    """What every organisation page costs before it reads anything of its own: the session
    checked, the user and their memberships read (the organisation's scope), one line of
    HTML answered without a template. Measured beside the pages (bench only, not part of the app) to show
    how much of each page's multiple of `/healthz` is this floor."""
    from flask import Blueprint, g
    from markupsafe import escape

    from webapp.access import org_blueprint_setup

    bp = Blueprint("bench_floor", __name__, url_prefix="/o/<org_slug>")
    org_blueprint_setup(bp)

    @bp.get("/bench-floor")
    def floor():
        return f"<p>{escape(g.org.name)}</p>"

    return bp


def gunicorn_app():
    """The app for gunicorn's workers (`bench.pages:gunicorn_app()`), from the bench's config."""
    from webapp import create_app

    overrides = json.loads(os.environ["LEDGERLINK_BENCH_CONFIG"])
    overrides["AUTO_MIGRATE"] = False
    return create_app(overrides)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds over every page")
    parser.add_argument("--seconds", type=float, default=60.0, help="gunicorn run length")
    parser.add_argument("--skip-gunicorn", action="store_true")
    parser.add_argument("--profile", metavar="PAGE", help="profile one page instead (cProfile)")
    parser.add_argument(
        "--explain", metavar="PAGE", help="each statement of one page with PostgreSQL's timing"
    )
    args = parser.parse_args()

    services.ensure_postgres()
    with TemporaryDirectory() as tmp, services.postgres_database() as database_url:
        from webapp import create_app

        settings = config(database_url, Path(tmp))
        app = create_app(settings)
        app.register_blueprint(floor_blueprint())
        with app.app_context():
            from webapp.db import db

            db.connect(reuse_if_open=True)
            started = time.perf_counter()
            ids = seed()
            db.close()
        print(f"seeded in {time.perf_counter() - started:.1f} s: {ids['summary']}")
        pages = page_list(ids)
        client = signed_in_client(app, ids["user"])
        if args.profile:
            return profile(client, next(p for p in pages if p.name == args.profile))
        if args.explain:
            return explain(app, client, next(p for p in pages if p.name == args.explain))
        measure_sizes_and_queries(app, client, pages)
        time_rounds(client, pages, args.rounds)
        ok = report(pages)
        if not args.skip_gunicorn:
            ok = under_gunicorn(settings, app, ids["user"], pages, args.seconds) and ok
    return 0 if ok else 1


# --- the organisation -----------------------------------------------------------------------


def seed() -> dict:
    from tests.webapp.exporting import bulk_claims, connected_xledger, schedule
    from webapp.db import db, utcnow
    from webapp.models import (
        ConnectionTest,
        ExpenseClaim,
        Integration,
        Membership,
        Organization,
        SyncRun,
        User,
    )

    org = Organization.create(name="Benkforeningen", slug=SLUG)
    user = User.create(issuer="http://issuer", subject=EMAIL, email=EMAIL, display_name="Kari")
    Membership.create(organization=org, email=EMAIL, user=user, role="coordinator_admin")
    integrations = [
        connected_xledger(org, name=f"Xledger {n + 1:02d}") for n in range(INTEGRATIONS)
    ]
    for integration in integrations:
        schedule(integration, "daily", {"time": "02:30"})
    now = utcnow().replace(microsecond=0)
    runs = []
    for integration in integrations:
        for n in range(RUNS_EACH):
            runs.append(_run_row(integration.id, n, now))
    with db.atomic():
        for start in range(0, len(runs), 1000):
            SyncRun.insert_many(runs[start : start + 1000]).execute()
    for integration in integrations:
        Integration.update(
            last_success_at=now - dt.timedelta(days=1),
            last_success_count=480,
            last_attempt_at=now - dt.timedelta(days=1),
        ).where(Integration.id == integration.id).execute()
    # One export under way on the first integration: its status polls every second.
    running = SyncRun.create(
        integration=integrations[0],
        trigger="manual",
        job_id="bench-running",
        status="running",
        total_count=500,
        exported_count=120,
        started_at=now,
        created_by=user,
    )
    test = ConnectionTest.create(
        integration=integrations[1],
        credential_version=1,
        fingerprint="bench",
        job_id="bench-test",
        status="running",
        checks=[],
        requested_by=user,
    )
    claim_ids = bulk_claims(org, CLAIMS, lines=2)
    _route_and_book(integrations, claim_ids, now)
    draft = connected_xledger(org, name="Xledger under oppsett", status="draft")
    partial = (
        SyncRun.select()
        .where((SyncRun.integration == integrations[0]) & (SyncRun.status == "partial"))
        .order_by(SyncRun.id.desc())
        .first()
    )
    return {
        "user": user.id,
        "first": integrations[0].id,
        "second": integrations[1].id,
        "running": running.id,
        "test": test.id,
        "partial": partial.id,
        "draft": draft.id,
        "summary": (
            f"{Integration.select().count()} integrations, {SyncRun.select().count()} runs, "
            f"{ExpenseClaim.select().count()} claims"
        ),
    }


def _run_row(integration_id: int, n: int, now: dt.datetime) -> dict:
    """The n-th newest run: one a day, mostly succeeded, some partly, a few failed."""
    started = now - dt.timedelta(days=n + 1, hours=-2)
    status = "failed" if n % 25 == 7 else "partial" if n % 10 == 3 else "succeeded"
    exported = 0 if status == "failed" else 40 + n % 17
    failed = 3 if status != "succeeded" else 0
    if status == "succeeded":
        message = {
            "nb": f"{exported} bilag ble eksportert til Xledger.",
            "en": f"{exported} claims exported to Xledger.",
        }
    else:
        message = {
            "nb": f"{exported} bilag ble eksportert til Xledger. {failed} bilag kunne ikke "
            "eksporteres: se årsakene i kjøringshistorikken.",
            "en": f"{exported} claims exported to Xledger. {failed} claims could not be "
            "exported: see the reasons in the run history.",
        }
    return {
        "integration": integration_id,
        "trigger": "schedule" if n % 5 else "manual",
        "job_id": f"bench-{integration_id}-{n}",
        "status": status,
        "error_kind": None if status == "succeeded" else "data",
        "message": message,
        "total_count": exported + failed,
        "exported_count": exported,
        "failed_count": failed,
        "slot_at": started,
        "created_at": started,
        "started_at": started,
        "finished_at": started + dt.timedelta(seconds=40),
    }


def _route_and_book(integrations, claim_ids: list[int], now: dt.datetime) -> None:
    """Claims spread over the integrations; 80 % booked, 5 % refused, the rest waiting."""
    from webapp.db import db

    ids = [i.id for i in integrations]
    with db.atomic():
        db.execute_sql(
            "UPDATE expense_claim SET integration_id = (%s::int[])[(id %% %s) + 1]",
            (ids, len(ids)),
        )
        db.execute_sql(
            "INSERT INTO export_item (integration_id, claim_id, run_id, reference, status, "
            "external_id, error, created_at, updated_at) "
            "SELECT c.integration_id, c.id, "
            "(SELECT max(r.id) FROM sync_run r WHERE r.integration_id = c.integration_id "
            " AND r.status = CASE WHEN c.id %% 20 = 17 THEN 'partial' ELSE 'succeeded' END), "
            "'LL-' || c.integration_id || '-' || c.id, "
            "CASE WHEN c.id %% 20 = 17 THEN 'failed' ELSE 'exported' END, "
            "CASE WHEN c.id %% 20 = 17 THEN NULL ELSE 'GL-' || c.id END, "
            "CASE WHEN c.id %% 20 = 17 THEN %s ELSE NULL END, %s, %s "
            "FROM expense_claim c WHERE c.id %% 10 < 8 OR c.id %% 20 = 17",
            (
                json.dumps(
                    {
                        "nb": "Konto 6899 finnes ikke i Xledger.",
                        "en": "Account 6899 does not exist in Xledger.",
                    }
                ),
                now.replace(tzinfo=None),
                now.replace(tzinfo=None),
            ),
        )
        db.execute_sql("ANALYZE")


def page_list(ids: dict) -> list[Page]:
    org = f"/o/{SLUG}"
    first = f"{org}/integrations/{ids['first']}"
    second = f"{org}/integrations/{ids['second']}"
    draft = f"{org}/integrations/{ids['draft']}/setup"
    schedule_query = "kind=weekly&weekly_time=07%3A30&days=mon&days=thu"
    return [
        Page("/healthz", "/healthz", "baseline"),
        Page("floor: signed in, nothing read", f"{org}/bench-floor", "reference", HTMX),
        Page("dashboard", f"{org}/", "page"),
        Page("integration page", f"{first}", "page"),
        Page("summary fragment", f"{first}/summary", "polled", HTMX),
        Page("run status fragment", f"{org}/runs/{ids['running']}?follow=1", "polled", HTMX),
        Page("test status fragment", f"{second}/credentials/tests/{ids['test']}", "polled", HTMX),
        Page("runs list", f"{first}/runs", "page"),
        Page("run detail", f"{org}/runs/{ids['partial']}", "page"),
        Page("credentials", f"{first}/credentials", "page"),
        Page("mapping editor", f"{first}/mappings/", "page"),
        Page("mapping preview fragment", f"{first}/mappings/preview?show=1", "fragment", HTMX),
        Page("schedule", f"{first}/schedule", "page"),
        Page(
            "schedule preview fragment",
            f"{first}/schedule/preview?{schedule_query}",
            "fragment",
            HTMX,
        ),
        Page("claims list", f"{org}/claims/", "page"),
        Page("connection history", f"{first}/health", "page"),
        Page("routing rules", f"{org}/routing/", "page"),
        Page("wizard: type", f"{org}/integrations/new", "page"),
        Page("wizard: credentials", f"{draft}/credentials", "page"),
        Page("wizard: mapping", f"{draft}/mapping", "page"),
        Page("wizard: schedule", f"{draft}/schedule", "page"),
        Page("wizard: test", f"{draft}/test", "page"),
        Page("wizard: save", f"{draft}/save", "page"),
    ]


# --- (a) in one process -------------------------------------------------------------------------


def signed_in_client(app, user_id: int):
    from webapp import sessions
    from webapp.models import User

    client = app.test_client()
    with app.app_context():
        user = User.get_by_id(user_id)
        with client.session_transaction() as session:
            sessions.start(session, user)
            session["org_slug"] = SLUG
    return client


def _get(client, page: Page, extra: dict | None = None):
    response = client.get(page.path, headers={**BROWSER, **page.headers, **(extra or {})})
    if response.status_code != 200:
        raise SystemExit(f"{page.name}: {page.path} answered {response.status_code}")
    return response


def measure_sizes_and_queries(app, client, pages: list[Page]) -> None:
    from webapp.db import db

    for page in pages:
        _get(client, page)  # warm: templates compiled, connection in the pool
        plain = _get(client, page, {"Accept-Encoding": "identity"})
        page.size = len(plain.get_data())
        packed = _get(client, page)
        body = packed.get_data()
        page.gzipped = len(body)
        if packed.headers.get("Content-Encoding") == "gzip":
            # The same page (its CSRF token carries the second it was made in).
            assert len(gzip.decompress(body)) == page.size, page.name
        with counting_queries(db.obj) as seen:
            _get(client, page)
        page.queries = len(seen)


def time_rounds(client, pages: list[Page], rounds: int) -> None:
    baseline = pages[0]
    others = pages[1:]
    for number in range(rounds + 3):
        for page in others:
            for target in (page, baseline):
                started = time.perf_counter()
                _get(client, target)
                elapsed = time.perf_counter() - started
                if number >= 3:  # three rounds to warm up
                    target.times.append(elapsed)


def profile(client, page: Page, requests: int = 50) -> int:
    """Where one page's time goes: the 40 most expensive functions, cumulative."""
    import cProfile
    import pstats

    _get(client, page)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        _get(client, page)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return 0


def explain(app, client, page: Page) -> int:
    """Each statement one page sends, with the server's own execution time (EXPLAIN ANALYZE)."""
    from webapp.db import db

    _get(client, page)
    seen: list = []
    db.obj.query_hooks.append(seen.append)
    try:
        _get(client, page)
    finally:
        db.obj.query_hooks.remove(seen.append)
    with app.app_context():
        for event in seen:
            if not event.sql.lstrip().upper().startswith("SELECT"):
                print(f"-- (not timed) {event.sql[:160]}")
                continue
            plan = db.execute_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {event.sql}", event.params)
            result = plan.fetchone()[0][0]
            print(f"-- {result['Execution Time']:.2f} ms, client {event.duration * 1000:.2f} ms")
            print(f"   {event.sql[:400]}")
    return 0


def report(pages: list[Page]) -> bool:
    baseline = pages[0]
    base = baseline.p50
    print(f"\n{'page':<28}{'p50 ms':>9}{'p95 ms':>9}{'x p50':>8}{'x p95':>8}", end="")
    print(f"{'KB':>8}{'gzip KB':>9}{'queries':>9}")
    for page in pages:
        print(
            f"{page.name:<28}{page.p50 * 1000:>9.2f}{page.p95 * 1000:>9.2f}"
            f"{page.p50 / base:>8.1f}{page.p95 / base:>8.1f}"
            f"{page.size / 1024:>8.1f}{page.gzipped / 1024:>9.1f}{page.queries:>9}"
        )
    print()
    ok = True
    for page in pages[1:]:
        if page.kind == "reference":
            continue
        p50_target = TARGET_POLLED_P50 if page.kind == "polled" else TARGET_PAGE_P50
        kb_target = TARGET_PAGE_KB if page.kind == "page" else TARGET_FRAGMENT_KB
        figures = [
            (f"{page.name} p50 vs healthz", page.p50 / base, "x", p50_target),
            (f"{page.name} p95 vs healthz", page.p95 / base, "x", TARGET_P95),
            (f"{page.name} size", page.size / 1024, "KB", kb_target),
            (f"{page.name} queries", page.queries, "queries", TARGET_QUERIES),
        ]
        for name, value, unit, target in figures:
            shown = f"{value}" if isinstance(value, int) else f"{value:.1f}"
            print(f"bench: {name} {shown} {unit} (target <= {target})")
            ok = ok and value <= target
    return ok


# --- (b) under gunicorn ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_cookie(app, user_id: int) -> str:
    from webapp import sessions
    from webapp.models import User

    with app.app_context():
        from webapp.db import db

        with db.connection_context():
            user = User.get_by_id(user_id)
        data: dict = {}
        sessions.start(data, user)
        data["org_slug"] = SLUG
        serializer = app.session_interface.get_signing_serializer(app)
        return f"{app.config['SESSION_COOKIE_NAME']}={serializer.dumps(data)}"


def under_gunicorn(settings: dict, app, user_id: int, pages: list[Page], seconds: float) -> bool:
    port = _free_port()
    workers = 2 * (os.cpu_count() or 1)
    env = {**os.environ, "LEDGERLINK_BENCH_CONFIG": json.dumps(settings)}
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "--chdir",
        str(ROOT),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--log-level",
        "warning",
        "bench.pages:gunicorn_app()",
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        _wait_for(port, server)
        cookie = _session_cookie(app, user_id)
        mix = [p for p in pages if p.kind not in ("baseline", "reference")]
        for page in mix:  # each worker compiles its templates on first use
            for _ in range(workers):
                _http_get(port, page, cookie)
        results = _load(port, mix, cookie, seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    times = [elapsed for elapsed, ok in results if ok]
    errors = sum(1 for _, ok in results if not ok)
    rate = len(results) / seconds
    p50 = statistics.median(times) * 1000 if times else float("nan")
    p95 = percentile(times, 95) * 1000 if times else float("nan")
    print(
        f"\n(b) gunicorn ({workers} gthread workers x 4 threads), {CLIENTS} clients, "
        f"{seconds:.0f} s: {len(results)} requests, {rate:.0f} requests/s, p50 {p50:.1f} ms, "
        f"p95 {p95:.1f} ms"
    )
    # Requests/s, p50 and p95 are reported above (the issue sets no target for them); a
    # `bench:` line is a figure with its target.
    print(f"bench: gunicorn {CLIENTS} clients errors {errors} errors (target <= {TARGET_ERRORS})")
    return errors <= TARGET_ERRORS


def _wait_for(port: int, server: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def _http_get(port: int, page: Page, cookie: str, conn=None) -> bool:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", page.path, headers={**BROWSER, **page.headers, "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        return response.status == 200
    finally:
        if own:
            conn.close()


def _load(port: int, mix: list[Page], cookie: str, seconds: float) -> list[tuple[float, bool]]:
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        mine: list[tuple[float, bool]] = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        turn = number
        while time.monotonic() < deadline:
            page = mix[turn % len(mix)]
            turn += 1
            started = time.perf_counter()
            try:
                ok = _http_get(port, page, cookie, conn)
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - started, ok))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


if __name__ == "__main__":
    sys.exit(main())
