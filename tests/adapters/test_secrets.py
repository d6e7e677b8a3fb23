"""Secrets never leave an adapter: not in errors, reprs, results or logs, whatever fails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import pytest

from adapters.base import Adapter
from adapters.entra import TokenCache
from adapters.errors import AdapterError
from adapters.types import Voucher
from sandbox import demo
from sandbox.client import SandboxClient


def attempt(action: Callable[[], object], seen: list[str]) -> None:
    """Run one adapter call; record everything a person or a log could ever see of it."""
    try:
        outcome = action()
    except AdapterError as error:
        seen += [str(error), repr(error), str(error.message), str(error.hint)]
    else:
        seen.append(repr(outcome))


def assert_hidden(secrets: list[str], seen: list[str], adapter: Adapter, caplog) -> None:
    views = [
        *seen,
        repr(adapter),
        str(adapter),
        repr(adapter.http),
        repr(getattr(adapter, "entra", None)),
        repr(getattr(adapter, "api", None)),
        caplog.text,
    ]
    for secret in secrets:
        assert secret, "a secret to look for"
        for view in views:
            assert secret not in view


def voucher(account_field: str, balance_field: str, account: str = "7140") -> Voucher:
    return Voucher(
        1,
        "LL-S-1",
        1,
        [
            {account_field: account, "amount": Decimal("5")},
            {balance_field: "2910", "amount": Decimal("-5")},
        ],
    )


@pytest.fixture(autouse=True)
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


def test_xledger_token_stays_hidden(xledger, control: SandboxClient, caplog) -> None:
    token = control.new_xledger_token()
    adapter = xledger(api_token=token)
    seen: list[str] = []
    attempt(lambda: adapter.export([voucher("account", "balancingAccount", "9999")]), seen)
    control.set_fault(token, "status", status=503)
    attempt(adapter.test_connection, seen)
    attempt(lambda: adapter.reference_data("account"), seen)
    control.clear_faults()
    control.set_fault(token, "no_read_scope")
    attempt(lambda: adapter.reference_data("account"), seen)
    control.clear_faults()
    control.revoke_xledger_token(token)
    attempt(adapter.test_connection, seen)
    attempt(lambda: adapter.export([voucher("account", "balancingAccount")]), seen)
    attempt(lambda: adapter.find_exported(["LL-S-1"]), seen)
    assert any("revoked" in s for s in seen)
    assert_hidden([token], seen, adapter, caplog)


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        ("dataverse", ("ll_accountnumber", "ll_balancingaccount")),
        ("bc", ("accountNumber", "balancingAccountNumber")),
    ],
)
def test_client_secret_and_access_token_stay_hidden(
    request, make: str, fields: tuple[str, str], control: SandboxClient, tokens: TokenCache, caplog
) -> None:
    factory = request.getfixturevalue(make)
    app = control.new_entra_app()
    adapter = factory(**app)
    seen: list[str] = []
    attempt(adapter.test_connection, seen)
    attempt(lambda: adapter.export([voucher(*fields, account="9999")]), seen)
    access_tokens = [t.value for t in tokens._tokens.values()]
    assert access_tokens
    control.set_fault(app["client_id"], "not_registered")
    attempt(adapter.test_connection, seen)
    attempt(lambda: adapter.export([voucher(*fields)]), seen)
    control.clear_faults()
    control.set_fault(app["client_id"], "status", status=500)
    attempt(lambda: adapter.find_exported(["LL-S-1"]), seen)
    control.clear_faults()
    control.expire_client_secret(app["client_id"])
    control.expire_access_tokens()
    attempt(adapter.test_connection, seen)
    attempt(lambda: adapter.find_exported(["LL-S-1"]), seen)
    wrong = factory(**{**app, "client_secret": "sbx~not-the-right-one-2026"})
    attempt(wrong.test_connection, seen)
    assert any("expired" in s for s in seen)
    assert "retry" in caplog.text  # the logs did record the failures
    assert_hidden([app["client_secret"], *access_tokens], seen, adapter, caplog)
    assert_hidden(["sbx~not-the-right-one-2026"], seen, wrong, caplog)
    assert demo.CLIENT_SECRET not in repr(tokens)
