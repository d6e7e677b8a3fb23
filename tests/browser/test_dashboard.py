"""In Chromium against the sandbox: Export now end to end, the authentication-failure path to
the credential form and back, the schedule form's live preview, and axe-core on the dashboard,
run history, run and schedule pages in Norwegian and English."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.webapp.exporting import connected_xledger, final_run, ledger_references, schedule
from webapp.models import Integration, SyncRun
from webapp.services import exports, scheduler

EMAIL = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    return org


def test_export_now_end_to_end(page, phone, sign_in, axe_check, both_languages, org, make, sandbox):
    integration = connected_xledger(org, sandbox.new_xledger_token())
    approved = [
        make.claim(org, lines=(("mileage", "248.00"), ("meals", "389.50"))),
        make.claim(org, lines=(("travel", "1249.00"),)),
        make.claim(org, lines=(("office", "245.90"), ("other", "199.00"), ("meals", "12.35"))),
    ]
    make.claim(org, status="submitted")
    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/")
    axe_check(page)

    page.locator(f"#export-now-{integration.id}").click()

    status = page.locator(f"#run-status-{integration.id}")
    expect(status).to_have_attribute("data-status", "succeeded")
    refs = ledger_references(sandbox, integration.id)
    assert refs == {f"LL-{integration.id}-{c.id}": 1 for c in approved}
    vouchers = sandbox.ledger()["xledger"]["vouchers"]
    assert all(sum(Decimal(line["amount"]) for line in v["lines"]) == 0 for v in vouchers)
    # The card's summary refreshed itself when the run ended.
    expect(page.locator(f"#last-success-{integration.id}")).to_contain_text("3")
    expect(page.locator(f"#chart-{integration.id}")).to_have_attribute("data-runs", "1")
    axe_check(page)
    both_languages(page, axe_check, f"/o/{SLUG}/")
    expect(page.locator(f"#last-success-{integration.id}")).to_contain_text("3 claims")

    run = SyncRun.get(SyncRun.integration == integration)
    both_languages(page, axe_check, f"/o/{SLUG}/integrations/{integration.id}/runs")
    both_languages(page, axe_check, f"/o/{SLUG}/runs/{run.id}")

    sign_in(phone, EMAIL)
    phone.goto(f"/o/{SLUG}/")
    expect(phone.locator(f"#card-{integration.id}")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 320


def test_revoked_token_scheduled_and_manual_export_then_recovery(
    page, sign_in, axe_check, org, make, sandbox
):
    token = sandbox.new_xledger_token()
    integration = connected_xledger(org, token)
    first = make.claim(org)
    final_run(exports.start_manual(integration).run.id)
    second = make.claim(org)
    slot = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)
    schedule(integration, "daily", {"time": "02:00"}, now=slot - dt.timedelta(hours=1))
    sandbox.revoke_xledger_token(token)

    # The scheduled export is refused.
    queued = scheduler.tick(slot).queued
    failed = final_run(queued[0])
    assert (failed.trigger, failed.error_kind) == ("schedule", "auth")

    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/?lang=en")
    banner = page.locator(f"#reauth-{integration.id}")
    expect(banner).to_contain_text("Xledger rejected the API token")
    expect(page.locator(f"#skipped-{integration.id}")).to_be_visible()
    axe_check(page)
    page.goto(f"/o/{SLUG}/?lang=nb")
    axe_check(page)
    page.goto(f"/o/{SLUG}/?lang=en")

    # Export now goes to the credential form, which explains what was rejected.
    page.locator(f"#export-now-{integration.id}").click()
    expect(page).to_have_url(
        re.compile(rf"/integrations/{integration.id}/credentials\?reason=auth")
    )
    expect(page.locator("#reauth-reason")).to_contain_text("rejected the API token")

    page.locator("#field-api_token").fill(sandbox.new_xledger_token())
    page.get_by_role("button", name="Test and save").click()
    expect(page.get_by_role("heading", name="Connection test passed")).to_be_visible()
    # New credentials that pass their test are in use at once; the form reloads without
    # the rejection notice.
    expect(page.locator("#reauth-reason")).to_have_count(0)
    assert Integration.get_by_id(integration.id).status == "connected"

    page.goto(f"/o/{SLUG}/?lang=en")
    expect(page.locator(f"#reauth-{integration.id}")).to_have_count(0)
    page.locator(f"#export-now-{integration.id}").click()
    expect(page.locator(f"#run-status-{integration.id}")).to_have_attribute(
        "data-status", "succeeded"
    )
    refs = ledger_references(sandbox, integration.id)
    assert refs == {f"LL-{integration.id}-{first.id}": 1, f"LL-{integration.id}-{second.id}": 1}


def test_export_now_that_fails_on_authentication_redirects_to_the_credential_form(
    page, sign_in, org, make, sandbox
):
    token = sandbox.new_xledger_token()
    integration = connected_xledger(org, token)
    make.claim(org)
    sandbox.revoke_xledger_token(token)
    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/?lang=en")

    page.locator(f"#export-now-{integration.id}").click()

    # The status fragment polled until the run failed, then htmx followed HX-Redirect.
    expect(page).to_have_url(
        re.compile(rf"/integrations/{integration.id}/credentials\?reason=auth")
    )
    expect(page.locator("#reauth-reason")).to_contain_text("Xledger rejected the API token")
    run = SyncRun.get(SyncRun.integration == integration)
    assert (run.status, run.error_kind) == ("failed", "auth")


def test_schedule_form_preview_errors_and_accessibility(
    page, sign_in, axe_check, both_languages, org, make
):
    integration = make.integration(org, status="connected")
    sign_in(page, EMAIL)
    path = f"/o/{SLUG}/integrations/{integration.id}/schedule"
    both_languages(page, axe_check, path)

    # Each kind's own fields show only while it is chosen; the usual time is filled in.
    expect(page.locator("#field-daily_time")).to_be_hidden()
    page.locator("#kind-daily").check()
    expect(page.locator("#field-daily_time")).to_have_value("02:00")
    expect(page.locator("#field-cron")).to_be_hidden()
    page.locator("#field-daily_time").fill("")
    page.locator("#field-daily_time").press_sequentially("02:30")
    runs = page.locator("#preview-runs li")
    expect(runs).to_have_count(3)
    expect(runs.first).to_contain_text("02:30")

    page.locator("#kind-cron").check()
    page.locator("#field-cron").press_sequentially("0 25 * * *")
    expect(page.locator("#preview-problem")).to_contain_text("hour field")
    page.locator("#save-schedule").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#field-cron")).to_have_attribute("aria-invalid", "true")
    axe_check(page)

    page.locator("#field-cron").fill("0 6 * * 1-5")
    page.locator("#save-schedule").click()
    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    expect(page.locator("#flash")).to_contain_text("0 6 * * 1-5")
    expect(page.locator(f"#next-run-{integration.id} time")).to_contain_text("06:00")
    axe_check(page)
