"""Every page a coordinator uses, at 320 px (a small phone) and at 200 % zoom (a 1280 px
window at 200 % is 640 CSS px wide): nothing scrolls sideways and no table cell is cut off
(issue 16). Checked by script in Chromium on each page in both languages, with axe-core at
320 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations
from tests.webapp.exporting import connected_xledger, final_run, schedule
from webapp.models import ExpenseClaimLine
from webapp.services import exports
from webapp.services.integrations import WIZARD_STEPS, create_draft

ADMIN = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"

# A cell is cut off when its content is wider than the cell, or when the cell reaches past
# the box that clips it (a scrolling .table-wrap, or the page itself).
CLIPPED = """
() => {
  const out = [];
  const page = document.documentElement.clientWidth;
  for (const cell of document.querySelectorAll("main th, main td")) {
    const box = cell.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // hidden
    // Headers kept for screen readers only (a stacked table's visually hidden head).
    if (cell.closest("thead") && getComputedStyle(cell.closest("thead")).clipPath !== "none") continue;
    let right = page;
    for (let up = cell.parentElement; up; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX !== "visible") {
        right = Math.min(right, up.getBoundingClientRect().right);
        break;
      }
    }
    const text = (cell.innerText || "").trim().slice(0, 40);
    if (box.right > right + 1) out.push(`past the edge: ${text}`);
    else if (cell.scrollWidth > cell.clientWidth + 1) out.push(`content cut: ${text}`);
  }
  return out;
}
"""


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, ADMIN, "coordinator_admin")
    return org


@pytest.fixture
def pages(org, make, sandbox):
    """A used organisation: an integration with runs (one partial), claims and a schedule."""
    integration = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger – NBF")
    first = make.claim(org, lines=(("mileage", "248.00"), ("meals", "389.50")))
    bad = make.claim(org, claim_number="RR-2026-LONG-NUMBER-0001")
    ExpenseClaimLine.update(department="999").where(ExpenseClaimLine.claim == bad).execute()
    run = final_run(exports.start_manual(integration).run.id)
    schedule(integration, "weekly", {"time": "06:00", "days": [0, 3]})
    draft = create_draft(org, "dynamics_bc", None, wizard_step="save")
    base = f"/o/{SLUG}"
    i = f"{base}/integrations/{integration.id}"
    steps = [f"{base}/integrations/{draft.id}/setup/{step}" for step in WIZARD_STEPS[1:]]
    return [
        *steps,
        f"{base}/",
        f"{base}/integrations/new",
        f"{i}/credentials",
        f"{i}/mappings/",
        # The preview's other claim, with what is sent for it opened (the page without JS).
        f"{i}/mappings/preview/payload?claim={first.id}",
        f"{i}/schedule",
        f"{i}/runs",
        f"{base}/runs/{run.id}",
        f"{i}/settings",
        f"{i}/health",
        f"{base}/claims/",
        f"{base}/claims/import/",
        f"{base}/routing/",
        f"{base}/api-keys/",
        f"{base}/webhooks/",
        "/account/notifications",
    ]


def narrow(browser, base_url, width: int, scale: float) -> Page:
    context = browser.new_context(
        base_url=base_url,
        locale="nb-NO",
        viewport={"width": width, "height": 720},
        device_scale_factor=scale,
    )
    context.set_default_timeout(15000)
    return context.new_page()


@pytest.mark.parametrize(("width", "scale"), [(320, 2), (640, 2)], ids=["320px", "zoom200"])
def test_no_page_scrolls_sideways_and_no_cell_is_cut_off(
    browser, base_url, sign_in, pages, width, scale
):
    page = narrow(browser, base_url, width, scale)
    try:
        sign_in(page, ADMIN)
        problems = []
        for path in pages:
            for lang in ("nb", "en"):
                page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
                expect(page.locator("h1").first).to_be_visible()
                wide = page.evaluate("document.documentElement.scrollWidth")
                if wide > width:
                    problems.append(f"{path} ({lang}): page is {wide} px wide")
                problems += [f"{path} ({lang}): {p}" for p in page.evaluate(CLIPPED)]
                if width == 320:
                    # The stacked tables and every new state, read by axe-core as laid out.
                    problems += [f"{path} ({lang}): axe {v}" for v in axe_violations(page)]
        assert problems == [], "\n".join(problems)
        print(f"\n{len(pages)} pages × 2 languages at {width} CSS px: nothing sideways")
    finally:
        page.context.close()


def test_the_schedule_form_shows_only_the_chosen_kind_without_javascript(
    browser, base_url, sign_in, org
):
    from webapp.models import Integration, SyncSchedule

    integration = connected_xledger(org, name="Xledger – NBF")
    context = browser.new_context(base_url=base_url, locale="nb-NO", java_script_enabled=False)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        sign_in(page, ADMIN)
        page.goto(f"/o/{SLUG}/integrations/{integration.id}/schedule?lang=en")
        for field in ("#field-hours", "#field-daily_time", "#field-weekly_time", "#field-cron"):
            expect(page.locator(field)).to_be_hidden()
        page.locator("label[for=kind-weekly]").click()
        expect(page.locator("#field-weekly_time")).to_be_visible()
        expect(page.locator("#field-daily_time")).to_be_hidden()
        page.locator("label[for=days-wed]").click()
        page.locator("#save-schedule").click()
        expect(page).to_have_url(f"{base_url}/o/{SLUG}/")
        stored = SyncSchedule.get(SyncSchedule.integration == integration.id)
        assert (stored.kind, stored.expression) == ("weekly", {"time": "06:00", "days": [2]})
        assert Integration.get_by_id(integration.id).status == "connected"
    finally:
        context.close()
