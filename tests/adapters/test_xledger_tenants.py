"""Xledger tenants that differ from the demo one (ACCOUNTING_APIS §8), each switched on in
the sandbox: refusals that arrive as HTTP 200, tokens made in the other environment, reference
lists the token's role may not read, and waits of any length."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import requests

from adapters.errors import AuthError, ConfigError, TransientError
from adapters.types import Voucher
from adapters.xledger import XledgerAdapter
from sandbox.client import SandboxClient
from tests.adapters.conftest import Sleeps

Make = Callable[..., XledgerAdapter]


@pytest.fixture
def token(control: SandboxClient) -> str:
    return control.new_xledger_token()


@pytest.fixture
def make(xledger: Make, token: str) -> Make:
    def build(**kwargs) -> XledgerAdapter:
        return xledger(**{"api_token": token, "environment": "production", **kwargs})

    return build


@pytest.fixture
def tenant(control: SandboxClient) -> Iterator[Callable[..., None]]:
    """Switch sandbox variations for this test (the control fixture resets them after)."""

    def switch(**variations: str) -> None:
        control.settings(**variations)

    yield switch


def voucher(number: int) -> Voucher:
    day = dt.date(2026, 2, 17)
    lines = [
        {"postedDate": day, "account": "7140", "amount": Decimal("100"), "text": "Tog"},
        {"postedDate": day, "balancingAccount": "2910", "amount": Decimal("-100")},
    ]
    return Voucher(number, f"LL-T-{number}", number, lines)


@pytest.mark.parametrize("refusal", ["unauthorized", "access_denied"])
def test_a_refusal_inside_a_200_answer_is_an_authentication_failure(
    make: Make, control: SandboxClient, tenant, token: str, refusal: str
) -> None:
    tenant(xledger_auth_refusal=refusal)
    control.revoke_xledger_token(token)
    adapter = make()
    with pytest.raises(AuthError) as caught:
        adapter.export([voucher(1)])
    assert caught.value.field == "api_token"
    assert "rejected the API token" in caught.value.message.en
    assert "avviste API-nøkkelen" in caught.value.message.nb
    assert control.ledger()["xledger"]["vouchers"] == []


def test_a_demo_token_sent_to_production_is_named_an_environment_problem(
    make: Make, tenant
) -> None:
    tenant(xledger_token_origin="demo")
    results = {r.key: r for r in make(environment="production").test_connection()}
    failed = results["authenticated"]
    assert failed.status == "failed" and failed.field == "environment"
    assert failed.message.en.startswith("Xledger accepts the API token in Demo, not in Production.")
    assert "Choose Demo under Environment" in failed.message.en
    assert failed.message.nb.startswith(
        "Xledger godtar API-nøkkelen i demo, men ikke i produksjon."
    )
    # In its own environment the same token passes every check.
    assert {r.status for r in make(environment="demo").test_connection()} == {"passed"}


def test_a_token_refused_everywhere_is_still_the_tokens_fault(
    make: Make, control: SandboxClient, token: str
) -> None:
    control.revoke_xledger_token(token)
    results = {r.key: r for r in make().test_connection()}
    assert results["authenticated"].field == "api_token"


@pytest.mark.parametrize(
    ("lists", "code"), [("denied", "FORBIDDEN"), ("missing", "GRAPHQL_VALIDATION")]
)
def test_reference_lists_the_role_lacks_are_skipped_with_a_note(
    make: Make, tenant, lists: str, code: str
) -> None:
    tenant(xledger_reference_lists=lists)
    adapter = make()
    assert adapter.reference_data("account")  # the chart is still read
    assert adapter.reference_data("project") == []
    assert adapter.reference_data("dimension") == []
    assert [(n.key, n.provider_code) for n in adapter.notes] == [
        ("project", code),
        ("dimension", code),
    ]
    project = adapter.notes[0].message
    assert project.en == (
        "Projects were not checked: the API token may not read them in Xledger. Give the token "
        "read access to projects under Administration → System access → GraphQL → API tokens, "
        "and fetch the codes again."
    )
    assert project.nb.startswith("Prosjekter ble ikke kontrollert: API-nøkkelen kan ikke lese")
    # An export does not need them.
    assert make().export([voucher(2)])[0].ok


def test_a_long_retry_after_is_handed_back_whole_without_sleeping(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    control.set_fault(token, "rate_limit", retry_after=3600)
    adapter = make()
    with pytest.raises(TransientError) as caught:
        adapter.export([voucher(3)])
    assert caught.value.retry_after == 3600
    assert sleeps == []
    assert adapter.carried  # the write left: its outcome is asked about, not assumed


def test_credits_used_up_until_reset_at_hands_back_the_whole_wait(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    control.set_fault(token, "credits", reset_at=reset.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    with pytest.raises(TransientError) as caught:
        make().reference_data("account")
    assert 7100 < caught.value.retry_after <= 7200
    assert sleeps == []
    assert "UTC" not in caught.value.message.en
    assert caught.value.message.en.startswith(
        "Xledger has paused the API for this token because its allowance is used up."
    )


def test_variations_are_refused_with_values_they_do_not_have(
    sandbox, control: SandboxClient
) -> None:
    answer = requests.put(
        f"{sandbox.url}/_sandbox/api/settings", json={"xledger_token_origin": "moon"}, timeout=5
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": 'xledger_token_origin must be one of "live", "demo"'}


def test_an_unknown_environment_stays_a_configuration_error(make: Make) -> None:
    with pytest.raises(ConfigError):
        make(environment="moon").reference_data("account")


def test_a_reset_time_without_a_zone_is_read_as_norwegian_time(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    # Xledger's timestamps are CET (ACCOUNTING_APIS §1.6): read as UTC, the run would wait an
    # hour too long.
    control.set_fault(token, "credits", reset_at="2099-01-01T00:00:00")
    with pytest.raises(TransientError) as caught:
        make().reference_data("account")
    assert caught.value.details == {"reset_at": "2099-01-01T00:00:00+01:00"}
