"""CSV import: Norwegian spreadsheets, problems by row and column, no double import."""

from __future__ import annotations

import html
import io
import re

import pytest

from webapp.models import ExpenseClaim, ExpenseClaimLine
from webapp.services.claims import csv_import

HEADER = "external_id;claimant_name;claimant_number;approved_at;approved_by;date;expense_type;amount;km;rate;description"
ROWS = [
    "utl-1;Kari Nordmann;4711;03.11.2026 09:15;Ola Leder;02.11.2026;travel;1 349,50;;;Tog til Bergen",
    "utl-1;Kari Nordmann;4711;03.11.2026 09:15;Ola Leder;02.11.2026;mileage;165,00;50;3,30;Bil – ærend",
    "utl-2;Åse Ødegård;4712;04.11.2026;Ola Leder;31.02.2026;parking;80,00;;;Parkering",
    "utl-3;Per Pål;01017012345;04.11.2026;Ola Leder;01.11.2026;meal;120,5;;;Måltid",
]


def cp1252(*rows: str) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252")


@pytest.fixture
def admin(client, auth, org, xledger):
    auth.login("admin@example.org")
    return auth.csrf_token("/o/nbf/claims/import/")


def test_windows_1252_semicolons_and_decimal_commas(client, admin, org, xledger):
    data = {"file": (io.BytesIO(cp1252(*ROWS)), "reiser.csv"), "csrf_token": admin}
    page = client.post("/o/nbf/claims/import/", data=data, content_type="multipart/form-data")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    problems = re.findall(r"<tr><td>(\d+)</td><td>([a-z_]+)</td><td>([^<]+)</td></tr>", text)
    assert [(row, column) for row, column, _ in problems] == [
        ("4", "date"),
        ("5", "claimant_number"),
    ]
    assert "fødselsnummer" in problems[1][2]
    assert "reiser.csv: 4 rader, 1 reiseregninger klare til import." in text

    content = re.search(r'name="content" value="([^"]*)"', text, re.S).group(1)
    confirmed = client.post(
        "/o/nbf/claims/import/confirm",
        data={"content": html.unescape(content), "csrf_token": admin},
    )
    assert confirmed.status_code == 302
    claim = ExpenseClaim.get(ExpenseClaim.external_id == "utl-1")
    assert claim.claimant_name == "Kari Nordmann" and claim.source == "csv"
    assert claim.integration_id == xledger.id
    amounts = sorted(str(line.amount) for line in ExpenseClaimLine.select())
    assert amounts == ["1349.50", "165.00"]
    assert [line.description for line in claim.lines.order_by(ExpenseClaimLine.position)] == [
        "Tog til Bergen",
        "Bil – ærend",
    ]

    again = csv_import.preview(org, csv_import.decode(cp1252(*ROWS)))
    assert again.already == ["utl-1"]
    stored, _checked = csv_import.import_valid(org, csv_import.decode(cp1252(*ROWS)))
    assert [s.result for s in stored] == ["existing"]
    assert ExpenseClaim.select().count() == 1


def test_utf8_with_bom_and_commas(org, xledger):
    text = (
        "\ufeffexternal_id,claimant_name,approved_at,approved_by,date,expense_type,amount\r\n"
        'u-1,Kari,2026-11-03T09:00:00+01:00,Ola,2026-11-02,travel,"12,50"\r\n'
    ).encode()
    checked = csv_import.preview(org, csv_import.decode(text))
    assert checked.problems == []
    assert str(checked.claims[0].lines[0].amount) == "12.50"


def test_missing_and_unknown_columns_are_named(org):
    checked = csv_import.preview(org, "external_id;navn\r\nx;y\r\n")
    columns = {p.column for p in checked.problems}
    assert {"navn", "claimant_name", "amount"} <= columns
    assert all(p.row == 1 for p in checked.problems)


def test_template_downloads_and_imports_cleanly(client, admin, org):
    response = client.get("/o/nbf/claims/import/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    checked = csv_import.preview(org, csv_import.decode(response.data))
    assert checked.problems == [] and len(checked.claims) == 1


def test_only_admins_import(client, auth, org):
    auth.login("kari@example.org")
    assert client.get("/o/nbf/claims/import/").status_code == 403
