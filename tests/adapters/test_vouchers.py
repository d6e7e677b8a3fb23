"""Voucher helpers every adapter shares: money, dates, balance, batching."""

from __future__ import annotations

import datetime
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.types import Voucher
from adapters.vouchers import batches, date_text, money, spread_voucher_fields, unbalanced
from adapters.xledger import TYPE as XLEDGER


def test_money_has_two_decimals_rounded_half_up() -> None:
    assert money(Decimal("101")) == "101.00"
    assert money(Decimal("-0.005")) == "-0.01"
    assert money("12.345") == "12.35"
    with pytest.raises(ValueError):
        money("NaN")


def test_dates() -> None:
    assert date_text(datetime.date(2026, 2, 1)) == "2026-02-01"
    assert date_text(datetime.datetime(2026, 2, 1, 23, 59)) == "2026-02-01"
    assert date_text("2026-02-01T10:00:00Z") == "2026-02-01"


def test_unbalanced_and_oversized_vouchers_are_named() -> None:
    ok = Voucher(1, "R1", 1, [{"amount": Decimal("1")}, {"amount": Decimal("-1")}])
    assert unbalanced(ok, 500) is None
    lopsided = Voucher(2, "R2", 2, [{"amount": Decimal("1")}, {"amount": Decimal("-0.99")}])
    assert "0.01" in unbalanced(lopsided, 500).en
    assert unbalanced(Voucher(3, "R3", 3, []), 500) is not None
    assert "3 lines" in unbalanced(Voucher(4, "R4", 4, [{"amount": 0}] * 3), 2).en


def test_voucher_level_fields_reach_the_balancing_line() -> None:
    voucher = Voucher(
        1,
        "R",
        1,
        [
            {"postedDate": datetime.date(2026, 1, 5), "account": "7140", "amount": 1},
            {"balancingAccount": "2910", "amount": -1},
        ],
    )
    lines = spread_voucher_fields(voucher, XLEDGER)
    assert lines[1]["postedDate"] == datetime.date(2026, 1, 5)
    assert "account" not in lines[1]


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(min_value=1, max_value=500), max_size=40))
def test_batches_never_split_a_voucher_nor_exceed_the_limit(sizes: list[int]) -> None:
    vouchers = [Voucher(i, f"R{i}", i, [{"amount": 0}] * n) for i, n in enumerate(sizes)]
    groups = list(batches(vouchers, 500))
    assert [v for g in groups for v in g] == vouchers
    for group in groups:
        assert sum(len(v.lines) for v in group) <= 500


def test_adapters_never_import_flask_or_webapp() -> None:
    code = (
        "import sys, adapters; adapters.all_types(); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'webapp')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
