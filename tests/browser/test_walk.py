"""Issue 16's walk: from an empty dashboard to a saved, tested and scheduled Xledger
integration, counting every click and submit a coordinator makes (typing is not counted)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from sandbox import demo
from tests.browser.test_wizard import (  # noqa: F401 - fixtures
    EMAIL,
    SLUG,
    app,
    app_config,
    coordinator,
    log_path,
    worker,
)
from webapp.models import Integration, SyncSchedule

pytestmark = pytest.mark.browser

MOST_ACTIONS = 10


class Walk:
    """Clicks and submits as a coordinator makes them, counted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.actions: list[str] = []

    def click(self, target: Locator, what: str) -> None:
        target.click()
        self.actions.append(what)


@pytest.mark.usefixtures("coordinator", "worker", "sandbox")
def test_from_an_empty_dashboard_to_a_scheduled_xledger_integration_in_ten_actions(
    page, sign_in, axe_check
):
    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/")
    expect(page.locator("main")).to_contain_text("Ingen regnskapssystemer er koblet til ennå")
    walk = Walk(page)

    walk.click(page.locator("#setup-integration"), "Set up integration")
    walk.click(page.get_by_text("Xledger", exact=True), "choose Xledger")
    walk.click(page.locator("#wizard button[type=submit]"), "Continue")

    expect(page.locator("#field-api_token")).to_be_visible()
    page.locator("#field-api_token").fill(demo.XLEDGER_TOKEN)
    walk.click(page.locator("#wizard button[type=submit]"), "Save and continue")

    expect(page).to_have_url(re.compile(r"/setup/mapping$"))
    walk.click(page.locator("#wizard button[type=submit]"), "Use this mapping")

    expect(page).to_have_url(re.compile(r"/setup/schedule$"))
    # Only the chosen kind's fields show: the time appears when "Every day" is chosen.
    expect(page.locator("#field-daily_time")).to_be_hidden()
    walk.click(page.locator("label[for=kind-daily]"), "choose Every day")
    expect(page.locator("#field-daily_time")).to_be_visible()
    expect(page.locator("#field-daily_time")).to_have_value("02:00")
    expect(page.locator("#field-hours")).to_be_hidden()
    expect(page.locator("#preview-runs li")).to_have_count(3)
    axe_check(page)
    walk.click(page.locator("#wizard button[type=submit]"), "Use this schedule")

    expect(page).to_have_url(re.compile(r"/setup/test$"))
    walk.click(page.locator("#run-test"), "Test connection")
    expect(page.locator("#test-status h2")).to_have_text("Tilkoblingstesten besto")
    expect(page.locator("#field-name")).to_have_value("Xledger – Demoforeningen")
    axe_check(page)
    walk.click(page.locator("#save-integration"), "Save the integration")

    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    expect(page.locator("#flash")).to_contain_text("Xledger – Demoforeningen")
    integration = Integration.get()
    schedule = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert integration.status == "connected" and integration.active_credential_version
    assert integration.last_test_outcome == "passed"
    assert (schedule.kind, schedule.expression, schedule.enabled) == (
        "daily",
        {"time": "02:00"},
        True,
    )
    expect(page.locator(f"#next-run-{integration.id} time")).to_be_visible()

    print(f"\ncoordinator's walk: {len(walk.actions)} clicks and submits: {walk.actions}")
    assert len(walk.actions) <= MOST_ACTIONS
