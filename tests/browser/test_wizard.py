"""The setup wizard in Chromium against the sandbox, as a coordinator would use it.

Every test here runs the product the production way round: the web app in its own process,
Redis, and an RQ worker (on a thread of the test process) that runs the connection tests.
Each test ends with a leak scan: no plaintext secret it used may appear in any HTML response,
the application log, any Redis key or value, or any text column of the database.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import zlib
from urllib.parse import quote, quote_plus

import pytest
from playwright.sync_api import Page, expect
from redis import Redis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from sandbox import demo
from webapp.models import Integration

pytestmark = pytest.mark.browser

SLUG = "demoforeningen"
EMAIL = "koordinator@demo.ledgerlink.no"


# --- the product as in production: Redis, a worker, a log file ---------------------------------


@pytest.fixture
def app_config(app_config, redis_url):
    return {**app_config, "REDIS_URL": redis_url}


@pytest.fixture
def log_path(tmp_path):
    """Everything logged, by the web process (forked later) and the worker, into one file."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


@pytest.fixture
def app(app, log_path):
    # The live server forks from this app, so the log file is in place before it starts.
    return app


class _ThreadWorker(SimpleWorker):
    """An RQ worker on a thread: no signal handlers, timeouts by timer instead of SIGALRM,
    and no command channel (its listener thread takes a second to stop after each burst)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


@pytest.fixture
def worker(app, live_server, redis_url):
    """A real RQ worker on the `checks` queue for the length of the test.

    It waits on Redis (BLPOP) like a production worker, so it costs nothing while idle.
    """
    connection = Redis.from_url(redis_url)
    for key in connection.scan_iter("rq:*"):
        connection.delete(key)
    queue = Queue("checks", connection=connection)
    rq_worker = _ThreadWorker([queue], connection=connection)

    def run() -> None:
        with app.app_context():
            rq_worker.work(logging_level="WARNING")

    thread = threading.Thread(target=run, name="rq-test-worker", daemon=True)
    thread.start()
    yield connection
    rq_worker._stop_requested = True
    queue.enqueue("os.getpid")  # wakes the waiting worker, which then sees the stop
    thread.join(timeout=10)


@pytest.fixture
def coordinator(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    return org


class LeakScan:
    """Collects every HTML response a page receives; `check` searches everything for secrets."""

    def __init__(self, log_path, redis: Redis, capfd) -> None:
        self.log_path = log_path
        self.redis = redis
        self.capfd = capfd
        self.responses = []
        self.secrets: set[str] = set()

    def watch(self, page: Page) -> None:
        # Read each body as it arrives: after the next navigation it may be gone.
        page.on("response", lambda response: self._keep(response))

    def _keep(self, response) -> None:
        body = self._text(response)
        if body:
            self.responses.append(body)

    def check(self) -> None:
        assert self.secrets
        html = self.responses
        assert len(html) > 5, "no HTML responses were captured"
        output = self.capfd.readouterr()
        log = self.log_path.read_text(encoding="utf-8")
        assert "connection test" in log, "the worker's log did not reach the log file"
        redis_blobs = list(_redis_blobs(self.redis))
        columns = _text_columns()
        probes = 0
        for secret in self.secrets:
            for spelling in spellings(secret):
                for body in html:
                    assert spelling not in body
                assert spelling not in log
                assert spelling not in output.out and spelling not in output.err
                for blob in redis_blobs:
                    assert spelling.encode() not in blob
                for table, column, count in _database_hits(columns, spelling):
                    assert count == 0, f"{secret!r} found in {table}.{column} as {spelling!r}"
                probes += len(html) + 3 + len(redis_blobs) + len(columns)
        self.probes = probes
        print(
            f"leak scan: {len(self.secrets)} secret(s) × {len(spellings(next(iter(self.secrets))))}"
            f" spellings × ({len(html)} responses, log, stdout, stderr, {len(redis_blobs)} Redis"
            f" keys/values, {len(columns)} text columns) = {probes} checks"
        )

    @staticmethod
    def _text(response) -> str | None:
        if "text/html" not in (response.headers.get("content-type") or ""):
            return None
        try:
            return response.text()
        except Exception:  # noqa: BLE001 - redirects and aborted loads have no body
            return None


def spellings(secret: str) -> list[str]:
    """The secret as it could leak: plain, URL-encoded, JSON-escaped and base64 (standard and
    URL-safe, at each of the three alignments it can have inside a longer base64 text)."""
    raw = secret.encode()
    found = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    for offset in range(3):
        part = raw[offset:]
        whole = len(part) // 3 * 4  # only the groups this part alone decides
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            if whole >= 8:
                found.add(encode(part).decode()[:whole])
    return sorted(found)


def _redis_blobs(connection: Redis):
    for key in connection.scan_iter("*"):
        yield key
        kind = connection.type(key).decode()
        if kind == "string":
            values = [connection.get(key)]
        elif kind == "hash":
            values = [v for pair in connection.hgetall(key).items() for v in pair]
        elif kind == "list":
            values = connection.lrange(key, 0, -1)
        elif kind == "set":
            values = list(connection.smembers(key))
        elif kind == "zset":
            values = connection.zrange(key, 0, -1)
        elif kind == "stream":
            values = [v for _id, f in connection.xrange(key) for pair in f.items() for v in pair]
        else:
            values = []
        for value in values:
            if not value:
                continue
            yield value
            try:
                yield zlib.decompress(value)  # RQ compresses job data
            except zlib.error:
                pass


def _text_columns() -> list[tuple[str, str]]:
    from webapp.db import db

    cursor = db.execute_sql(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
    )
    return [(table, column) for table, column in cursor.fetchall()]


def _database_hits(columns, secret: str):
    from webapp.db import db

    for table, column in columns:
        cursor = db.execute_sql(
            f'SELECT COUNT(*) FROM "{table}" WHERE "{column}" LIKE %s', (f"%{secret}%",)
        )
        yield table, column, cursor.fetchone()[0]


@pytest.fixture
def leaks(log_path, worker, capfd):
    scan = LeakScan(log_path, worker, capfd)
    yield scan


# --- helpers -------------------------------------------------------------------------------------


def wizard_url(rest: str = "") -> str:
    return f"/o/{SLUG}/integrations/{rest}"


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching `selector` has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


# --- happy paths ---------------------------------------------------------------------------------


def test_xledger_wizard_by_keyboard_only_on_a_phone_in_english(
    phone, sign_in, coordinator, axe_check, leaks, sandbox
):
    page = phone
    leaks.watch(page)
    leaks.secrets.add(demo.XLEDGER_TOKEN)
    sign_in(page, EMAIL)
    # From the empty dashboard, as a new coordinator would start.
    page.goto(f"/o/{SLUG}/?lang=en")
    tab_to(page, f'a[href="/o/{SLUG}/integrations/new"]')
    page.keyboard.press("Enter")
    expect(page.locator("#wizard-heading")).to_contain_text("Which accounting system")
    axe_check(page)
    no_horizontal_scroll(page)

    # Step 1: Tab into the radio group, choose Xledger with Space, continue with Enter.
    tab_to(page, "input[name=type_key]")
    page.keyboard.press("Space")
    expect(page.locator("#field-type_key")).to_be_checked()
    tab_to(page, "#wizard button[type=submit]")
    page.keyboard.press("Enter")

    # Step 2: credentials. After the swap the new heading has focus, and the URL followed.
    expect(page.locator("#wizard-heading")).to_have_text("Credentials for Xledger")
    expect(page.locator("#wizard-heading")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/setup/credentials$"))
    axe_check(page)
    no_horizontal_scroll(page)
    tab_to(page, "#field-api_token")
    page.keyboard.type(demo.XLEDGER_TOKEN)
    tab_to(page, "#wizard button[type=submit]")
    page.keyboard.press("Enter")

    # Step 3 and 4: accept the default mapping and the manual schedule.
    expect(page.locator("#wizard-heading")).to_have_text("Field mapping")
    axe_check(page)
    no_horizontal_scroll(page)
    # Browser history follows the swapped steps.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/setup/credentials$"))
    expect(page.locator("#saved-api_token")).to_be_visible()
    page.go_forward()
    expect(page).to_have_url(re.compile(r"/setup/mapping$"))
    expect(page.locator("#wizard-heading")).to_have_text("Field mapping")
    tab_to(page, "#wizard button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#wizard-heading")).to_have_text("When exports run")
    axe_check(page)
    tab_to(page, "#wizard button[type=submit]")
    page.keyboard.press("Enter")

    # Step 5: the test runs on the worker; the status polls itself and announces the result.
    expect(page.locator("#wizard-heading")).to_contain_text("Test the connection")
    tab_to(page, "#run-test")
    page.keyboard.press("Enter")
    expect(page.locator("#test-status h2")).to_have_text("Connection test passed")
    expect(page.locator("#test-announcement")).to_have_text("Connection test passed.")
    expect(page.locator("#test-status .check--passed")).to_have_count(5)
    axe_check(page)
    no_horizontal_scroll(page)
    # Step 6: save, right from the passed test (the name is filled in already).
    tab_to(page, "#save-integration")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    expect(page.locator("#flash")).to_contain_text("Xledger – Demoforeningen is connected")
    integration = Integration.get()
    assert integration.status == "connected" and integration.active_credential_version

    # The wizard is done: its pages now lead to the credential form.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/credentials$"))
    leaks.check()


def test_dataverse_wizard_in_norwegian_and_the_credential_form(
    page, sign_in, coordinator, axe_check, leaks, sandbox
):
    leaks.watch(page)
    leaks.secrets.add(demo.CLIENT_SECRET)
    sign_in(page, EMAIL)
    page.goto(wizard_url("new"))
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    axe_check(page)
    page.locator("#field-type_key-dynamics_dataverse").check()
    page.locator("#wizard button[type=submit]").click()

    expect(page.locator("#field-client_secret")).to_be_visible()
    # A wrong value first: the error is next to the field and in the summary, linked.
    page.locator("#field-tenant_id").fill("ikke en tenant")
    page.locator("#field-client_id").fill(demo.CLIENT_ID)
    page.locator("#field-client_secret").fill(demo.CLIENT_SECRET)
    page.locator("#field-environment_url").fill(demo.DATAVERSE_URL)
    page.locator("#wizard button[type=submit]").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator('a[href="#field-tenant_id"]')).to_be_visible()
    expect(page.locator("#error-tenant_id")).to_be_visible()
    axe_check(page)
    # The secret was sealed and is not shown again: only "saved" with Replace.
    expect(page.locator("#saved-client_secret")).to_be_visible()
    expect(page.locator("#field-client_secret")).to_be_hidden()
    page.locator("#field-tenant_id").fill(demo.TENANT_ID)
    page.locator("#wizard button[type=submit]").click()

    for _step in ("mapping", "schedule"):
        expect(page).to_have_url(re.compile(rf"/setup/{_step}$"))
        axe_check(page)
        page.locator("#wizard button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/setup/test$"))
    page.locator("#run-test").click()
    expect(page.locator("#test-status .check--passed")).to_have_count(5)
    axe_check(page)
    # The summary before saving is one link away.
    page.get_by_role("link", name="Se sammendraget først").click()
    expect(page).to_have_url(re.compile(r"/setup/save$"))
    expect(page.locator("#field-name")).to_have_value("Dynamics 365 (Dataverse) – Demoforeningen")
    axe_check(page)
    page.locator("#wizard button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    integration = Integration.get()
    assert integration.status == "connected"

    # The credential form, in both languages.
    form = f"/o/{SLUG}/integrations/{integration.id}/credentials"
    page.goto(form)
    expect(page.locator("#credentials-heading")).to_be_visible()
    expect(page.locator("#field-tenant_id")).to_have_value(demo.TENANT_ID)
    axe_check(page)
    page.goto(form + "?lang=en")
    expect(page.locator("#saved-client_secret")).to_contain_text("Saved")
    axe_check(page)
    # Test the saved set again from the form: it stays in use and works; the form reloads
    # and focus returns to the result.
    page.locator("#test-and-save").click()
    expect(page.locator("#test-status h2")).to_have_text("Connection test passed")
    expect(page.locator("#test-status")).to_contain_text("are in use")
    expect(page.locator("#test-status h2")).to_be_focused()
    axe_check(page)
    leaks.check()


def test_without_javascript_the_wizard_reaches_save(
    browser, base_url, sign_in, coordinator, leaks, sandbox
):
    context = browser.new_context(base_url=base_url, locale="nb-NO", java_script_enabled=False)
    context.set_default_timeout(15000)
    page = context.new_page()
    leaks.watch(page)
    leaks.secrets.add(demo.XLEDGER_TOKEN)
    try:
        sign_in(page, EMAIL)
        page.goto(wizard_url("new"))
        page.locator("#field-type_key").check()
        page.locator("#wizard button[type=submit]").click()
        page.locator("#field-api_token").fill(demo.XLEDGER_TOKEN)
        page.locator("#wizard button[type=submit]").click()
        page.locator("#wizard button[type=submit]").click()  # mapping
        page.locator("#wizard button[type=submit]").click()  # schedule
        # Xledger answers slowly, so the first status page shows the test still running.
        sandbox.set_fault(demo.XLEDGER_TOKEN, "latency", seconds=0.3)
        page.locator("#run-test").click()
        # A page per state: follow "Refresh status" until the result is final.
        expect(page).to_have_url(re.compile(r"/setup/test/\d+$"))
        refreshed = 0
        for _ in range(200):
            refresh = page.locator("#test-status a[href*='/setup/test/']")
            if refresh.count() == 0:
                break
            expect(
                page.locator("#test-status .check--running, #test-status .check--waiting").first
            ).to_be_visible()
            refresh.first.click()
            refreshed += 1
        assert refreshed > 0
        expect(page.locator("#test-status .check--passed")).to_have_count(5)
        page.locator("#save-integration").click()
        expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
        assert Integration.get().status == "connected"
        leaks.check()
    finally:
        context.close()


# --- failures a coordinator can act on -----------------------------------------------------------


def test_failed_tests_say_what_to_do_and_point_to_the_field(
    page, sign_in, coordinator, axe_check, leaks, sandbox, app
):
    expired = sandbox.new_entra_app()
    sandbox.expire_client_secret(expired["client_id"])
    unregistered = sandbox.new_entra_app()
    sandbox.set_fault(unregistered["client_id"], "not_registered")
    dataverse = {
        "tenant_id": demo.TENANT_ID,
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
        "environment_url": demo.DATAVERSE_URL,
        "table": demo.DATAVERSE_TABLE,
    }
    wrong_token = "wrong-token-1234567890"
    cases = [
        (
            "xledger",
            {"api_token": wrong_token, "environment": "production", "entity_code": ""},
            "api_token",
            "Xledger rejected the API token",
        ),
        (
            "dynamics_dataverse",
            {**dataverse, **expired},
            "client_secret",
            "Microsoft rejected the client secret: it has expired",
        ),
        (
            "dynamics_dataverse",
            {**dataverse, "tenant_id": "0b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10"},
            "tenant_id",
            "did not find the tenant",
        ),
        (
            "dynamics_dataverse",
            {**dataverse, **unregistered},
            "client_id",
            "not an application user in this environment",
        ),
        (
            "dynamics_dataverse",
            {**dataverse, "environment_url": "https://nosuchorg.crm4.dynamics.com"},
            "environment_url",
            "did not find the environment",
        ),
    ]
    leaks.watch(page)
    leaks.secrets.update(
        {wrong_token, expired["client_secret"], unregistered["client_secret"], demo.CLIENT_SECRET}
    )
    drafts = [
        _draft_at_test_step(app, coordinator, type_key, values) for type_key, values, *_ in cases
    ]
    sign_in(page, EMAIL)
    for index, (integration, (_type, _values, field, message)) in enumerate(
        zip(drafts, cases, strict=True)
    ):
        page.goto(wizard_url(f"{integration.id}/setup/test?lang=en"))
        page.locator("#run-test").click()
        expect(page.locator("#test-status h2")).to_have_text("Connection test failed")
        failed = page.locator("#test-status .check--failed")
        expect(failed).to_contain_text(message)
        expect(page.locator("#test-announcement")).to_contain_text(message)
        if index == 0:
            axe_check(page)
        fix = failed.locator("a.check__fix")
        expect(fix).to_have_attribute("href", re.compile(rf"fix={field}#field-{field}$"))
        fix.click()
        # The credentials step opens on that field, with the reason next to it (read with
        # it through aria-describedby) and in the summary at the top.
        expect(page.locator(f"#field-{field}")).to_be_focused()
        expect(page.locator(f"#error-{field}")).to_contain_text(message)
        expect(page.locator(f'.error-summary a[href="#field-{field}"]')).to_contain_text(message)
        if index == 1:
            axe_check(page)
    leaks.check()


def _draft_at_test_step(app, org, type_key: str, values: dict) -> Integration:
    from webapp.services.integrations import create_draft
    from webapp.vault import get_vault

    with app.app_context():
        integration = create_draft(org, type_key, None, wizard_step="test")
        Integration.update(pending_credential_version=1).where(
            Integration.id == integration.id
        ).execute()
        get_vault().seal_set(integration, 1, values)
    return integration


def test_the_leak_scan_finds_a_secret_in_each_spelling():
    """The scan above is only as good as its spellings: each encoding of a secret embedded
    in a longer text is found (base64 at every alignment, URL-encoded, JSON-escaped)."""
    secret = "demo-secret-Value~2026/æ"
    texts = [
        base64.b64encode(prefix + secret.encode() + b"...").decode()
        for prefix in (b"", b"a", b"ab")
    ]
    texts += [
        base64.urlsafe_b64encode(b"xy" + secret.encode()).decode(),
        "client_secret=" + quote_plus(secret) + "&grant_type=client_credentials",
        json.dumps({"token": secret}),
        "Authorization: token " + secret,
    ]
    for text in texts:
        assert any(spelling in text for spelling in spellings(secret)), text
    assert not any(spelling in "demo-secret-Value~2025" for spelling in spellings(secret))
