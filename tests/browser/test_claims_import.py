"""In Chromium: a Windows-1252 spreadsheet with semicolons, decimal commas and one bad row."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from webapp.models import ExpenseClaim, ExpenseClaimLine

EMAIL = "koordinator@demo.ledgerlink.no"
SLUG = "demoforeningen"
CSV = (
    "external_id;claimant_name;claimant_number;approved_at;approved_by;date;expense_type;amount;km;rate;description\r\n"
    "utl-1;Kari Nordmann;4711;03.11.2026 09:15;Ola Leder;02.11.2026;travel;1 349,50;;;Tog til Bergen\r\n"
    "utl-1;Kari Nordmann;4711;03.11.2026 09:15;Ola Leder;02.11.2026;mileage;165,00;50;3,30;Bil – ærend\r\n"
    "utl-2;Åse Ødegård;4712;04.11.2026;Ola Leder;31.02.2026;parking;80,00;;;Parkering\r\n"
    "utl-3;Bjørn Økland;4713;05.11.2026;Ola Leder;04.11.2026;meal;120,50;;;Måltid på møte\r\n"
).encode("cp1252")


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug=SLUG)
    make.member(org, EMAIL, "coordinator_admin")
    org.default_integration = make.integration(org, status="connected", name="Xledger")
    org.save()
    return org


def test_import_names_the_bad_row_and_imports_the_good_ones(page, sign_in, axe_check, org):
    sign_in(page, EMAIL)
    page.goto(f"/o/{SLUG}/claims/import/")
    axe_check(page)
    page.locator("#file").set_input_files(
        files=[{"name": "reiser.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.locator("form[enctype] button[type=submit]").click()

    problems = page.locator("#import-problems tbody tr")
    expect(problems).to_have_count(1)
    expect(problems.first.locator("td").nth(0)).to_have_text("4")
    expect(problems.first.locator("td").nth(1)).to_have_text("date")
    expect(page.locator("#import-summary")).to_contain_text("reiser.csv")
    axe_check(page)

    page.locator("form[action$='/confirm'] button[type=submit]").click()
    expect(page.locator("#flash")).to_contain_text("2")
    imported = {c.external_id: c for c in ExpenseClaim.select()}
    assert sorted(imported) == ["utl-1", "utl-3"]
    assert imported["utl-3"].claimant_name == "Bjørn Økland"
    lines = ExpenseClaimLine.select().where(ExpenseClaimLine.claim == imported["utl-1"])
    assert sorted(str(line.amount) for line in lines) == ["1349.50", "165.00"]
    assert "Bil – ærend" in {line.description for line in lines}
