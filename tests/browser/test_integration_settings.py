"""In Chromium: renaming and archiving an integration, and what a read-only coordinator sees
(issue 16), with axe-core on each new state in Norwegian and English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.webapp.exporting import connected_xledger, final_run, schedule
from webapp.models import Integration, SyncSchedule
from webapp.services import exports

ADMIN = "koordinator@demo.ledgerlink.no"
READER = "leser@demo.ledgerlink.no"
SLUG = "demoforeningen"


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, ADMIN, "coordinator_admin")
    make.member(org, READER, "coordinator")
    return org


def test_rename_then_archive_keeps_the_history(
    page, sign_in, axe_check, both_languages, org, make, sandbox
):
    integration = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger")
    make.claim(org)
    final_run(exports.start_manual(integration).run.id)
    schedule(integration, "daily", {"time": "02:00"})
    sign_in(page, ADMIN)
    page.goto(f"/o/{SLUG}/?lang=en")
    page.get_by_role("link", name="Name and archiving (Xledger)").click()
    expect(page.locator("h1")).to_have_text("Name and archiving: Xledger")
    axe_check(page)

    page.locator("#field-name").fill("Xledger – NBF")
    page.locator("#save-name").click()
    expect(page.locator("#flash")).to_contain_text("The integration is now called Xledger – NBF")
    expect(page.locator("h1")).to_have_text("Name and archiving: Xledger – NBF")
    expect(page.locator("#delete-refused")).to_contain_text("exported 1 claim")
    both_languages(page, axe_check, f"/o/{SLUG}/integrations/{integration.id}/settings")

    page.goto(f"/o/{SLUG}/integrations/{integration.id}/settings?lang=en")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#archive-integration").click()
    expect(page).to_have_url(re.compile(rf"/o/{SLUG}/$"))
    expect(page.locator("#flash")).to_contain_text("Xledger – NBF is archived")
    expect(page.locator(f"#card-{integration.id}")).to_have_count(0)
    expect(page.locator("#archived")).to_contain_text("Xledger – NBF")
    assert Integration.get_by_id(integration.id).status == "archived"
    assert not SyncSchedule.get(SyncSchedule.integration == integration.id).enabled
    both_languages(page, axe_check, f"/o/{SLUG}/")
    # The history is one link away and still lists the run.
    page.locator("#archived").get_by_role(
        "link", name=re.compile("Kjørehistorikk|Run history")
    ).click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    both_languages(page, axe_check, f"/o/{SLUG}/integrations/{integration.id}/settings")


def test_a_read_only_coordinator_sees_what_they_may_and_who_can_change_it(
    page, sign_in, axe_check, both_languages, org, make, sandbox
):
    integration = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger – NBF")
    make.claim(org)
    final_run(exports.start_manual(integration).run.id)
    schedule(integration, "daily", {"time": "02:00"})
    sign_in(page, ADMIN)  # signed in once, so the admin is known by name
    from webapp.models import User

    User.update(display_name="Kari Admin").where(User.email == ADMIN).execute()
    page.context.clear_cookies()
    sign_in(page, READER)
    page.goto(f"/o/{SLUG}/?lang=en")
    expect(page.locator("#read-only-note")).to_contain_text(
        "Coordinator administrators can: Kari Admin."
    )
    card = page.locator(f"#card-{integration.id}")
    expect(card.get_by_role("button", name=re.compile("Export now"))).to_have_count(0)
    for link in ("Run history", "See the field mapping", "See the schedule", "Name and archiving"):
        expect(card.get_by_role("link", name=f"{link} (Xledger – NBF)")).to_be_visible()
    both_languages(page, axe_check, f"/o/{SLUG}/")

    page.goto(f"/o/{SLUG}/?lang=en")
    card.get_by_role("link", name="See the schedule (Xledger – NBF)").click()
    expect(page.locator("#read-only-note")).to_contain_text("Kari Admin")
    expect(page.locator("#preview-runs li")).to_have_count(3)
    axe_check(page)
    page.go_back()
    card.get_by_role("link", name="See the field mapping (Xledger – NBF)").click()
    expect(page.locator("#read-only-note")).to_contain_text("You can look at the mapping.")
    axe_check(page)
    both_languages(page, axe_check, f"/o/{SLUG}/integrations/{integration.id}/settings")
    expect(page.locator("#read-only-note")).to_contain_text("Kari Admin")
    expect(page.locator("#archive-integration")).to_have_count(0)
