"""In Chromium: the dashboard shows an open connection issue and how long it has lasted; new
credentials fix it, and the integration's history says who fixed it and when. axe-core finds
nothing on the new pages (dashboard with an issue and an expiring secret, history, e-mail
settings, unsubscribe) in Norwegian and English."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.webapp.exporting import connected_xledger
from webapp.db import utcnow
from webapp.models import ConnectionIssue, User
from webapp.services.health import expiry, probe

EMAIL = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    return org


def test_an_open_issue_shows_its_duration_and_the_history_who_fixed_it(
    page, sign_in, axe_check, both_languages, org, sandbox
):
    token = sandbox.new_xledger_token()
    integration = connected_xledger(org, token, name="Xledger – Demo")
    sandbox.revoke_xledger_token(token)
    assert probe.run_check(integration.id) == "failed"
    # The token was revoked three days ago: the daily checks have failed since.
    ConnectionIssue.update(opened_at=utcnow() - dt.timedelta(days=3, hours=2)).execute()
    issue = ConnectionIssue.get()
    expiry.store(integration, 1, expiry.local_today("Europe/Oslo") + dt.timedelta(days=6), None)

    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/?lang=en")
    open_issue = page.locator(f"#issue-{issue.id}")
    expect(open_issue).to_contain_text("The accounting system rejected the sign-in")
    expect(open_issue).to_contain_text("for 3 days")
    expect(page.locator(f"#expiry-{integration.id}")).to_contain_text("expires in 6 days")
    both_languages(page, axe_check, f"/o/{SLUG}/")
    page.goto(f"/o/{SLUG}/?lang=nb")
    expect(page.locator(f"#issue-{issue.id}")).to_contain_text("i 3 dager")

    # The coordinator-admin enters a new token from the card and tests it.
    page.goto(f"/o/{SLUG}/?lang=en")
    page.locator(f"#fix-credentials-{integration.id}").click()
    page.locator("#field-api_token").fill(sandbox.new_xledger_token())
    page.get_by_role("button", name="Test and save").click()
    expect(page.get_by_role("heading", name="Connection test passed")).to_be_visible()

    page.goto(f"/o/{SLUG}/?lang=en")
    expect(page.locator(f"#issues-{integration.id}")).to_have_count(0)
    # A new secret without an end date: the warning went with the old one.
    expect(page.locator(f"#expiry-{integration.id}")).to_have_count(0)
    page.locator(f"#health-link-{integration.id}").click()
    expect(page).to_have_url(re.compile(rf"/integrations/{integration.id}/health"))
    row = page.locator(f"#history-{issue.id}")
    fixer = User.get(User.email == EMAIL).label
    expect(row).to_contain_text(re.compile(rf"Fixed by {re.escape(fixer)} on"))
    expect(row).to_contain_text("3 days")
    both_languages(page, axe_check, f"/o/{SLUG}/integrations/{integration.id}/health")
    page.goto(f"/o/{SLUG}/integrations/{integration.id}/health?lang=nb")
    expect(page.locator(f"#history-{issue.id}")).to_contain_text(f"Rettet av {fixer}")

    both_languages(page, axe_check, "/account/notifications")
    page.locator("#notify-digest").check()
    page.get_by_role("button", name=re.compile("Lagre|Save")).click()
    expect(page.locator("#flash")).to_contain_text(re.compile("lagret|saved"))
    assert User.get(User.email == EMAIL).notify == "digest"


def test_the_unsubscribe_page_reads_well_without_signing_in(
    page, axe_check, both_languages, org, app
):
    from tests import factories
    from webapp.services.health import mail

    person = factories.user("frivillig@demo.ledgerlink.no")
    with app.test_request_context():
        token = mail.unsubscribe_token(person)
    both_languages(page, axe_check, f"/unsubscribe/{token}")
    page.locator("#confirm-unsubscribe").click()
    expect(page.locator("#unsubscribed")).to_be_visible()
    axe_check(page)
    assert User.get_by_id(person.id).notify == "off"
