"""`payload` shows the requests `export` would send, without sending and without secrets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters import AdapterSettings, get_adapter
from adapters.types import Voucher


def _voucher() -> Voucher:
    return Voucher(
        claim_id=7,
        reference="LL-1-7",
        number=7,
        lines=[
            {
                "amount": Decimal("868.00"),
                "account": "7100",
                "postedDate": dt.date(2026, 11, 2),
                "postingDate": dt.date(2026, 11, 2),
                "accountNumber": "7100",
                "ll_accountnumber": "7100",
            },
            {
                "amount": Decimal("-868.00"),
                "balancingAccount": "2910",
                "balancingAccountNumber": "2910",
                "ll_balancingaccount": "2910",
            },
        ],
    )


@pytest.mark.parametrize("key", ["xledger", "dynamics_bc", "dynamics_dataverse"])
def test_payload_carries_the_reference_and_balanced_amounts(key):
    adapter = get_adapter(key)({}, AdapterSettings())
    requests = adapter.payload([_voucher()])
    text = repr(requests)
    assert requests and all("request" in r and "body" in r for r in requests)
    assert "LL-1-7" in text
    assert "868" in text and "-868" in text
    assert "2910" in text
