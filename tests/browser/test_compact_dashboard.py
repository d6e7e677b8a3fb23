"""In Chromium: an organisation with many integrations gets a short list that says which need
attention, each leading to the integration's own page; axe finds nothing, nb and en, and a
320 px phone does not scroll sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.webapp.exporting import connected_xledger
from webapp.services.health import issues as connection_issues

EMAIL = "koordinator@demo.ledgerlink.no"
SLUG = "storforeningen"


@pytest.fixture
def org(make):
    org = make.org("Storforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    return org


def test_many_integrations_compact_list_and_pages(page, phone, sign_in, axe_check, org):
    integrations = [connected_xledger(org, name=f"Xledger avdeling {n}") for n in range(1, 9)]
    broken = integrations[4]
    connection_issues.record_failure(broken, "auth", None, "check")
    sign_in(page, EMAIL)
    for lang in ("nb", "en"):
        page.goto(f"/o/{SLUG}/?lang={lang}")
        expect(page.locator("#integration-list > li")).to_have_count(8)
        axe_check(page)
    expect(page.locator("#attention-count")).to_have_text("1 of 8 integrations needs attention.")
    page.get_by_role("link", name="Xledger avdeling 5").click()
    expect(page.locator("h1")).to_have_text("Integration: Xledger avdeling 5")
    expect(page.locator(f"#issues-{broken.id}")).to_be_visible()
    axe_check(page)
    page.goto(f"/o/{SLUG}/integrations/{broken.id}?lang=nb")
    axe_check(page)

    sign_in(phone, EMAIL)
    for path in (f"/o/{SLUG}/", f"/o/{SLUG}/integrations/{broken.id}"):
        phone.goto(path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 320, path
