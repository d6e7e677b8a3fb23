"""Tripletex in Chromium: connected through the setup wizard like any other system, its
default mapping taken from the live chart, and the claims exported with Export now; axe-core
on its pages in Norwegian and English."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from sandbox import demo
from webapp.models import Integration

EMAIL = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"


def test_tripletex_through_the_wizard_then_export_now(page, sign_in, axe_check, make, sandbox):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    claims = [
        make.claim(org, lines=(("mileage", "248.00"), ("meals", "389.50"))),
        make.claim(org, lines=(("travel", "1249.00"),)),
    ]
    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/integrations/new?lang=en")
    axe_check(page)
    page.get_by_label("Tripletex").check()
    page.locator("#wizard button[type=submit]").click()

    expect(page.locator("#wizard-heading")).to_have_text("Credentials for Tripletex")
    axe_check(page)
    page.locator("#field-consumer_token").fill(demo.TRIPLETEX_CONSUMER_TOKEN)
    page.locator("#field-employee_token").fill(demo.TRIPLETEX_EMPLOYEE_TOKEN)
    page.locator("#field-environment").select_option("test")
    page.locator("#wizard button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/setup/mapping$"))
    axe_check(page)
    page.locator("#wizard button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/setup/schedule$"))
    page.locator("#wizard button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/setup/test$"))
    page.locator("#run-test").click()
    expect(page.locator("#test-status .check--passed")).to_have_count(5)
    expect(page.locator("#test-status")).to_contain_text("Demoforeningen (Tripletex test)")
    axe_check(page)
    # Nothing is left to enter after a passed test: the integration is saved from there.
    page.locator("#save-integration").click()
    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    integration = Integration.get()
    assert (integration.type_key, integration.status) == ("tripletex", "connected")

    page.locator(f"#export-now-{integration.id}").click()
    expect(page.locator(f"#run-status-{integration.id}")).to_have_attribute(
        "data-status", "succeeded"
    )
    vouchers = sandbox.ledger()["tripletex"]["vouchers"]
    assert sorted(v["externalVoucherNumber"] for v in vouchers) == sorted(
        f"LL-{integration.id}-{claim.id}" for claim in claims
    )
    for voucher in vouchers:
        assert sum(Decimal(str(p["amountGross"])) for p in voucher["postings"]) == 0
        assert min(p["row"] for p in voucher["postings"]) == 1
    for lang in ("nb", "en"):
        page.goto(f"/o/{SLUG}/?lang={lang}")
        axe_check(page)
        page.goto(f"/o/{SLUG}/integrations/{integration.id}/mappings/?lang={lang}")
        axe_check(page)
