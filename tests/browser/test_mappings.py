"""Field mapping editor in Chromium: inline editing of a lookup table with the preview and
the code check following along, keyboard only, two coordinators at once, axe-core, 320 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.webapp.test_mapping_editor import ADMIN, connected

SECOND_ADMIN = "per@example.org"


@pytest.fixture
def demo_mapping(app):
    """The demo organisation and its claims, with a connected Xledger integration."""
    from webapp.models import Membership, Organization
    from webapp.services.demo import seed

    seed(ADMIN)
    org = Organization.get(Organization.slug == "demoforeningen")
    Membership.create(organization=org, email=SECOND_ADMIN, role="coordinator_admin")
    integration = connected(org)
    return f"/o/demoforeningen/integrations/{integration.id}/mappings/"


def idle(page: Page) -> None:
    """Wait until htmx has sent, swapped and settled everything (no fixed sleeps)."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def edit_link(page: Page, label: str):
    return page.get_by_role("link", name=f"Edit {label}", exact=True)


def test_change_car_allowance_account_see_preview_and_flags(page, sign_in, axe_check, demo_mapping):
    sign_in(page, ADMIN)
    page.goto(demo_mapping + "?lang=en")
    preview = page.locator("#preview")
    voucher = preview.locator("table.voucher")
    # The newest claim has no mileage; the next one has (the preview keeps to it below).
    expect(voucher).not_to_contain_text("7100")
    preview.get_by_role("link", name="Next claim").click()
    expect(preview.get_by_role("heading", level=3)).to_be_focused()
    expect(preview.get_by_role("heading", level=3)).to_contain_text("Aisha Khan")
    expect(page.get_by_role("status")).to_contain_text("Claim 2 of 6")
    expect(voucher).to_contain_text("7100")

    # Fetch the sandbox's chart of accounts: nothing in the standard mapping is unknown.
    page.get_by_role("button", name="Fetch the codes from Xledger").click()
    expect(page.locator("#reference-time")).to_contain_text("Codes last fetched from Xledger")
    expect(page.get_by_role("status")).to_contain_text("Fetched")
    expect(page.locator("#reference-check")).to_contain_text("codes in the mapping exist")

    # A code that is not in the live chart is refused at its own input, with the closest
    # ones; nothing is saved and the preview still sends 7100.
    row = page.locator("#row-account")
    edit_link(page, "Account").click()
    expect(row.get_by_role("radio", name=re.compile("lookup table"))).to_be_focused()
    row.get_by_label("Account for mileage").fill("7131")
    row.get_by_role("button", name="Save Account", exact=True).click()
    expect(row.locator(".error-summary")).to_be_focused()
    mileage = row.get_by_label("Account for mileage")
    expect(mileage).to_have_attribute("aria-invalid", "true")
    expect(row.locator(".field__error").first).to_contain_text(
        "7131 is not an account in Xledger. Closest codes there: 7130"
    )
    expect(voucher).to_contain_text("7100")
    expect(voucher).not_to_contain_text("7131")
    axe_check(page)

    # The car allowance goes to 7130, and a new expense type gets its own account.
    row.get_by_label("Account for mileage").fill("7130")
    row.get_by_label("New entry: Expense type").fill("parking")
    row.get_by_label("New entry: Account").fill("7160")
    row.get_by_role("button", name="Save Account", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Account saved.")
    expect(row).to_contain_text("parking")
    expect(row.locator(".code-flag")).to_have_count(0)
    expect(voucher).to_contain_text("7130")
    expect(voucher).not_to_contain_text("7100")
    expect(preview.get_by_role("heading", level=3)).to_contain_text("Aisha Khan")
    expect(page.locator("#reference-check")).to_contain_text("codes in the mapping exist")

    # A bad value: the message is at the row, summarised and focused.
    edit_link(page, "Account").click()
    row.get_by_label("Value for anything not in the table").fill("77 90")
    row.get_by_role("button", name="Save Account", exact=True).click()
    expect(row.locator(".error-summary")).to_be_focused()
    field = row.get_by_label("Value for anything not in the table")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(row.locator(".field__error")).to_contain_text("“77 90” is not a valid code")
    axe_check(page)

    # A small phone: no sideways scrolling, while editing and in the view.
    page.set_viewport_size({"width": 320, "height": 640})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    row.get_by_role("link", name="Cancel").click()
    expect(edit_link(page, "Account")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


def test_keyboard_only_editing_of_one_row(page, sign_in, demo_mapping):
    sign_in(page, ADMIN)
    page.goto(demo_mapping + "?lang=en")
    edit = edit_link(page, "Balancing account (payable)")
    for _ in range(80):
        page.keyboard.press("Tab")
        if edit.evaluate("el => el === document.activeElement"):
            break
    expect(edit).to_be_focused()
    page.keyboard.press("Enter")
    constant = page.locator("#f-balancingAccount-kind-constant")
    expect(constant).to_be_focused()

    # Arrow keys change the source type; the form follows and focus stays on the choice.
    idle(page)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#f-balancingAccount-kind-lookup")).to_be_focused()
    expect(page.locator("#f-balancingAccount-new-key")).to_be_visible()
    idle(page)
    page.keyboard.press("ArrowUp")
    expect(constant).to_be_focused()
    expect(page.locator("#f-balancingAccount-constant")).to_be_visible()
    idle(page)

    page.keyboard.press("Tab")  # the no-JavaScript "show the boxes" button
    page.keyboard.press("Tab")
    expect(page.locator("#f-balancingAccount-constant")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("2930")
    page.keyboard.press("Enter")
    expect(edit).to_be_focused()
    expect(page.locator("#row-balancingAccount")).to_contain_text("Always: 2930")
    expect(page.get_by_role("status")).to_contain_text("Balancing account (payable) saved.")
    expect(page.locator("#preview table.voucher")).to_contain_text("2930")


def test_second_coordinator_gets_changed_by_message(page, browser, base_url, sign_in, demo_mapping):
    other_context = browser.new_context(base_url=base_url, locale="nb-NO")
    other = other_context.new_page()
    try:
        sign_in(page, ADMIN)
        sign_in(other, SECOND_ADMIN)
        page.goto(demo_mapping + "?lang=en")
        edit_link(page, "Balancing account (payable)").click()
        mine = page.locator("#f-balancingAccount-constant")
        expect(mine).to_be_visible()

        # One coordinator with two rows open: saving one keeps the other's form current,
        # so their own second save is not mistaken for someone else's change.
        version = page.locator("#row-balancingAccount input[name=version]")
        opened_at = int(version.get_attribute("value"))
        edit_link(page, "Your reference").click()
        reference = page.locator("#row-yourReference")
        reference.get_by_role("radio", name="The same value every time").check()
        page.locator("#f-yourReference-constant").fill("Ledgerlink")
        page.get_by_role("button", name="Save Your reference").click()
        expect(page.get_by_role("status")).to_contain_text("Your reference saved.")
        expect(version).to_have_value(str(opened_at + 1))

        # A second coordinator changes the same row meanwhile.
        other.goto(demo_mapping + "?lang=en")
        edit_link(other, "Balancing account (payable)").click()
        other.locator("#f-balancingAccount-constant").fill("2930")
        other.get_by_role("button", name="Save Balancing account (payable)").click()
        expect(other.get_by_role("status")).to_contain_text("saved")

        mine.fill("2400")
        page.get_by_role("button", name="Save Balancing account (payable)").click()
        conflict = page.locator("#conflict-balancingAccount")
        expect(conflict).to_contain_text(f"Changed by {SECOND_ADMIN} at ")
        expect(conflict).to_contain_text("reload the page")
        expect(page.get_by_role("status")).to_contain_text(f"Changed by {SECOND_ADMIN}")
        expect(mine).to_have_value("2400")  # what they typed is still there to copy

        conflict.get_by_role("link", name="Reload the page").click()
        expect(page.locator("#row-balancingAccount")).to_contain_text("Always: 2930")
    finally:
        other_context.close()


def test_the_preview_says_why_a_claim_is_not_ready_when_the_chart_lost_a_code(
    page, sign_in, demo_mapping
):
    from webapp.db import utcnow
    from webapp.models import ReferenceCache

    sign_in(page, ADMIN)
    page.goto(demo_mapping + "?lang=en")
    page.get_by_role("button", name="Fetch the codes from Xledger").click()
    expect(page.locator("#reference-check")).to_contain_text("codes in the mapping exist")
    # The payable account is closed in Xledger after the mapping was saved.
    # What the next fetch stores: the codes, and when they were fetched.
    cache = ReferenceCache.get(ReferenceCache.kind == "account")
    ReferenceCache.update(
        items=[i for i in cache.items if i[0] != "2910"], refreshed_at=utcnow()
    ).where(ReferenceCache.id == cache.id).execute()
    page.reload()
    preview = page.locator("#preview")
    expect(preview).not_to_contain_text("Ready to send")
    expect(preview.locator(".banner--error").first).to_contain_text("This claim would not be sent:")
    expect(preview.locator(".banner--error").first).to_contain_text(
        "Balancing account (payable): 2910 is not an account in Xledger, so Xledger would "
        "refuse this claim."
    )
    expect(page.locator("#reference-check")).to_contain_text(
        "1 code in the mapping is not in Xledger"
    )


def test_the_preview_is_a_voucher_table_that_balances_with_the_payload_behind_a_disclosure(
    page, phone, sign_in, axe_check, both_languages, demo_mapping
):
    sign_in(page, ADMIN)
    page.goto(demo_mapping + "?lang=en")
    # With the chart fetched, each account shows its name beside its number.
    page.get_by_role("button", name="Fetch the codes from Xledger").click()
    expect(page.get_by_role("status")).to_contain_text("Fetched")
    page.reload()
    voucher = page.locator("#preview table.voucher")
    expect(voucher.locator("thead")).to_contain_text("Debit")
    expect(voucher.locator("tbody tr").first.locator("td").nth(1)).to_have_text(
        re.compile(r"^\s*7\d{3} \w+")
    )
    expect(voucher.locator("tbody tr").last.locator("td").nth(4)).not_to_be_empty()  # credit
    expect(page.locator("#preview .voucher-balance--ok")).to_contain_text("The voucher balances")
    # The raw payload is there for support, closed by default and loaded when opened.
    details = page.locator("#preview details.payload-details")
    expect(details.locator("pre")).to_have_count(0)
    details.locator("summary").click()
    expect(details.locator("pre")).to_be_visible()
    expect(details.locator("pre")).to_contain_text('"extIdentifier"')
    expect(details.locator("summary")).to_be_focused()
    # Another claim, chosen from the list: its own voucher, its disclosure closed again.
    chooser = page.get_by_label("Sample claims (the latest approved)")
    chooser.select_option(index=3)
    page.locator("#preview").get_by_role("button", name="Show", exact=True).click()
    heading = page.locator("#preview").get_by_role("heading", level=3)
    expect(heading).to_be_focused()
    expect(heading).to_contain_text("Ingrid Berg")
    expect(page.get_by_role("status")).to_contain_text("Claim 4 of 6")
    expect(page.locator("#preview table.voucher")).to_contain_text("7100")
    expect(details.locator("pre")).to_have_count(0)
    axe_check(page)
    both_languages(page, axe_check, demo_mapping)
    sign_in(phone, ADMIN)
    phone.goto(demo_mapping + "?lang=en")
    expect(phone.locator("#preview .voucher-balance")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 320


def test_the_preview_without_javascript(browser, base_url, sign_in, demo_mapping):
    context = browser.new_context(base_url=base_url, locale="nb-NO", java_script_enabled=False)
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        sign_in(page, ADMIN)
        page.goto(demo_mapping + "?lang=en")
        preview = page.locator("#preview")
        heading = preview.get_by_role("heading", level=3)
        expect(heading).to_contain_text("Lars Eriksen")
        preview.get_by_role("link", name="Next claim").click()
        expect(heading).to_contain_text("Aisha Khan")
        expect(preview).to_contain_text("Claim 2 of 6")
        preview.get_by_label("Sample claims (the latest approved)").select_option(index=5)
        preview.get_by_role("button", name="Show", exact=True).click()
        expect(heading).to_contain_text("Kari Nordmann")
        expect(preview).to_contain_text("Claim 6 of 6")
        expect(preview.get_by_role("link", name="Next claim")).to_have_count(0)
        # The exact requests: the disclosure offers a link that opens it with them inside.
        details = preview.locator("details.payload-details")
        details.locator("summary").click()
        details.get_by_role("link", name="Load what is sent").click()
        expect(details).to_have_attribute("open", "")
        expect(details.locator("pre")).to_contain_text('"extIdentifier"')
        expect(heading).to_contain_text("Kari Nordmann")
    finally:
        context.close()


def test_a_voucher_that_does_not_balance_says_so_in_words(page, axe_check, app):
    """The resolver always adds the balancing line, so no mapping can produce this state;
    the template is rendered directly, with the app's stylesheet, to check its words and
    accessibility (in case a provider's rounding ever makes one)."""
    from flask import render_template, url_for
    from flask_babel import force_locale

    from adapters import get_type
    from tests.webapp.test_voucher_table import xledger_voucher
    from webapp.mapping.table import voucher_table
    from webapp.models import ExpenseClaim
    from webapp.services.mappings.preview import ClaimPreview

    table = voucher_table(get_type("xledger"), xledger_voucher(balance="-600.00"))
    claim = ExpenseClaim(id=7, claim_number="RR-00007", claimant_name="Kari Nordmann")
    preview = ClaimPreview(claim, None, [], "{}", table)
    for lang, words in (("nb", "går ikke i balanse"), ("en", "does not balance")):
        with app.test_request_context("/"), force_locale(lang):
            fragment = render_template("mappings/_voucher.html", p=preview)
            css = url_for("static", filename="css/app.css")
        page.goto("/healthz")
        page.set_content(
            f'<!doctype html><html lang="{lang}"><head><title>Voucher</title>'
            f'<link rel="stylesheet" href="{css}"></head><body><main><h1>Preview</h1>{fragment}'
            "</main></body></html>"
        )
        balance = page.locator("#balance-7")
        expect(balance).to_contain_text(words)
        expect(balance).to_contain_text("637,50" if lang == "nb" else "637.50")
        axe_check(page)
