"""The preview's voucher table (pure): which value is which, totals, balances or not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from adapters import get_type
from adapters.types import Voucher
from webapp.mapping.table import voucher_table

DAY = dt.date(2026, 11, 2)


def xledger_voucher(balance: str = "-637.50", balancing_account: str = "2910") -> Voucher:
    lines = [
        {
            "postedDate": DAY,
            "account": "7140",
            "text": "Reise",
            "amount": Decimal("248.00"),
            "glObject1": "200",
            "project": "P100",
            "taxRule": "0",
        },
        {
            "postedDate": DAY,
            "account": "7350",
            "text": "Mat",
            "amount": Decimal("389.50"),
            "glObject1": "200",
            "project": "",
            "taxRule": "0",
        },
        {
            "postedDate": DAY,
            "balancingAccount": balancing_account,
            "text": "RR-1",
            "amount": Decimal(balance),
        },
    ]
    return Voucher(1, "LL-1-1", 1, lines)


def test_each_line_shows_account_name_debit_credit_vat_and_dimensions():
    table = voucher_table(get_type("xledger"), xledger_voucher(), {"7140": "Reisekostnad"})
    first, second, balancing = table.lines
    assert (first.date, first.account, first.account_name) == (DAY, "7140", "Reisekostnad")
    assert (first.text, first.debit, first.credit, first.vat) == (
        "Reise",
        Decimal("248.00"),
        None,
        "0",
    )
    assert first.dimensions == ["200", "P100"] and second.dimensions == ["200"]
    assert (balancing.account, balancing.debit, balancing.credit) == (
        "2910",
        None,
        Decimal("637.50"),
    )
    assert (table.debit, table.credit, table.balances) == (
        Decimal("637.50"),
        Decimal("637.50"),
        True,
    )


def test_a_voucher_whose_lines_do_not_add_up_does_not_balance():
    table = voucher_table(get_type("xledger"), xledger_voucher(balance="-600.00"))
    assert not table.balances and table.difference == Decimal("37.50")


def test_a_line_without_an_account_keeps_the_voucher_from_balancing():
    table = voucher_table(get_type("xledger"), xledger_voucher(balancing_account=""))
    assert table.debit == table.credit and table.missing_accounts == 1 and not table.balances


def test_types_without_reference_kinds_are_read_by_field_names():
    lines = [
        {
            "ll_date": DAY,
            "ll_accountnumber": "7140",
            "ll_description": "Reise",
            "ll_department": "200",
            "ll_vatcode": "0",
            "amount": Decimal("10.00"),
        },
        {"ll_date": DAY, "ll_balancingaccount": "2910", "amount": Decimal("-10.00")},
    ]
    table = voucher_table(get_type("dynamics_dataverse"), Voucher(1, "LL-1-1", 1, lines))
    assert [line.account for line in table.lines] == ["7140", "2910"]
    assert table.lines[0].vat == "0" and table.lines[0].dimensions == ["200"] and table.balances
