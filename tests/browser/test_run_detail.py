"""In Chromium: a run's page lists every claim with its voucher number or reason, keeps them
after a later run, and sends a failed claim again (issue 16); stacked rows on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.webapp.exporting import connected_xledger, final_run
from webapp.models import ExpenseClaimLine, ExportItem
from webapp.services import exports

ADMIN = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, ADMIN, "coordinator_admin")
    return org


def test_run_detail_after_a_later_success_and_send_again(
    page, phone, sign_in, axe_check, org, make, sandbox
):
    integration = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger – NBF")
    good = make.claim(org, claim_number="RR-1001")
    bad = make.claim(org, claim_number="RR-1002")
    ExpenseClaimLine.update(department="999").where(ExpenseClaimLine.claim == bad).execute()
    first = final_run(exports.start_manual(integration).run.id)
    assert first.status == "partial"
    voucher = ExportItem.get(ExportItem.claim == good.id).external_id

    sign_in(page, ADMIN)
    page.goto(f"/o/{SLUG}/runs/{first.id}?lang=en")
    expect(page.locator(f"#run-exported #claim-{good.id}")).to_contain_text(voucher)
    failed = page.locator(f"#run-failures #claim-{bad.id}")
    expect(failed).to_contain_text("999")
    for lang in ("nb", "en"):
        page.goto(f"/o/{SLUG}/runs/{first.id}?lang={lang}")
        axe_check(page)

    ExpenseClaimLine.update(department="200").where(ExpenseClaimLine.claim == bad).execute()
    page.locator(f"#send-again-{bad.id}").click()
    expect(page.locator("#flash")).to_contain_text("RR-1002")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.locator(f"#run-status-{integration.id}")).to_have_attribute(
        "data-status", "succeeded"
    )
    page.reload()
    later = ExportItem.get(ExportItem.claim == bad.id)
    assert later.status == "exported" and later.run_id != first.id
    expect(page.locator(f"#run-exported #claim-{bad.id}")).to_contain_text(later.external_id)

    # The first run still shows both claims as it left them, and where the failed one went.
    page.goto(f"/o/{SLUG}/runs/{first.id}?lang=en")
    expect(page.locator(f"#run-exported #claim-{good.id}")).to_contain_text(voucher)
    failed = page.locator(f"#run-failures #claim-{bad.id}")
    expect(failed).to_contain_text(f"Exported later, voucher {later.external_id}")
    expect(page.locator(f"#send-again-{bad.id}")).to_have_count(0)
    for lang in ("nb", "en"):
        page.goto(f"/o/{SLUG}/runs/{first.id}?lang={lang}")
        axe_check(page)

    # On a 320 px phone each row is a stack of labelled lines: no sideways scrolling.
    sign_in(phone, ADMIN)
    phone.goto(f"/o/{SLUG}/runs/{first.id}?lang=en")
    cell = phone.locator(f"#run-exported #claim-{good.id} td").first
    assert cell.evaluate("td => getComputedStyle(td).display") == "block"
    assert "Claimant" in cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 320
