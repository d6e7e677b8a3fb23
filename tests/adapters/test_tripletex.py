"""Tripletex adapter against the sandbox over loopback HTTP (ACCOUNTING_APIS §9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.errors import AuthError, TransientError
from adapters.tripletex import TripletexAdapter
from adapters.types import Voucher
from sandbox import demo
from sandbox.client import SandboxClient
from tests.adapters.conftest import Sleeps, statuses

Make = Callable[..., TripletexAdapter]
DAY = dt.date(2026, 2, 17)
TRIPLETEX = {
    "consumer_token": demo.TRIPLETEX_CONSUMER_TOKEN,
    "employee_token": demo.TRIPLETEX_EMPLOYEE_TOKEN,
    "environment": "test",
}


@pytest.fixture
def make(control: SandboxClient, settings, options) -> Make:
    def build(**credentials) -> TripletexAdapter:
        return TripletexAdapter({**TRIPLETEX, **credentials}, settings, options=options)

    return build


def voucher(number: int, *amounts: str, account: str = "7140", **extra) -> Voucher:
    lines = [
        {
            "date": DAY,
            "account": account,
            "amount": Decimal(a),
            "description": f"Linje {i}",
            **extra,
        }
        for i, a in enumerate(amounts)
    ]
    total = sum(Decimal(a) for a in amounts)
    lines.append({"date": DAY, "balancingAccount": "2910", "amount": -total})
    return Voucher(number, f"LL-T-{number}", number, lines)


def vouchers(control: SandboxClient) -> list[dict]:
    return control.ledger()["tripletex"]["vouchers"]


def test_all_checks_pass_and_name_the_company(make: Make) -> None:
    results = make().test_connection()
    assert set(statuses(results).values()) == {"passed"}
    assert results[3].message.en == "Company: Demoforeningen (Tripletex test)"
    assert results[4].message.nb == "Bilagene føres som «Reiseregning»."


def test_address_fails_for_an_unknown_environment(make: Make) -> None:
    results = make(environment="staging").test_connection()
    assert (results[0].status, results[0].field) == ("failed", "environment")
    assert results[0].message.en == "Unknown Tripletex environment. Choose production or test."
    assert results[0].message.nb == "Ukjent Tripletex-miljø. Velg produksjon eller test."
    assert [r.status for r in results[1:]] == ["skipped"] * 4


def test_reachable_fails_when_nothing_listens(make: Make, settings, options) -> None:
    closed = replace(settings, sandbox_url="http://127.0.0.1:1")
    results = TripletexAdapter(TRIPLETEX, closed, options=options).test_connection()
    assert statuses(results)["reachable"] == "failed"
    assert results[1].provider_code == "connect"


def test_authorised_fails_for_a_user_who_may_not_see_the_ledger(make: Make) -> None:
    result = make(employee_token="test-ledgerlink-employee-noledger").test_connection()[3]
    assert (result.status, result.field) == ("failed", "employee_token")
    assert result.message.en.startswith("Tripletex refused the tokens access.")
    assert result.message.nb.startswith("Tripletex nektet nøklene tilgang.")


def test_ready_fails_when_the_voucher_type_is_missing(make: Make, control: SandboxClient) -> None:
    control.settings(tripletex_voucher_type="missing")
    result = make().test_connection()[4]
    assert (result.status, result.provider_code) == ("failed", "voucher_type")
    assert result.message.en.startswith("The voucher type “Reiseregning” does not exist")
    assert result.message.nb.startswith("Bilagstypen «Reiseregning» finnes ikke i firmaet.")


def test_a_test_token_against_production_is_an_environment_problem(make: Make) -> None:
    result = make(environment="production").test_connection()[2]
    assert (result.status, result.field) == ("failed", "environment")
    assert result.message.en.startswith("The consumer token belongs to the other Tripletex")
    assert result.message.nb.startswith("Forbrukernøkkelen hører til det andre Tripletex-miljøet")


def test_an_expired_employee_token_asks_for_a_new_one(make: Make, control: SandboxClient) -> None:
    control.settings(tripletex_employee_token="expired")
    result = make().test_connection()[2]
    assert (result.status, result.field) == ("failed", "employee_token")
    assert result.message.en.startswith("Tripletex rejected the tokens. The employee token")
    assert "Innstillinger → Brukere → brukeren → API-tilgang" in result.message.nb
    with pytest.raises(AuthError) as caught:  # an export: needs re-authorisation
        make().export([voucher(9, "10")])
    assert caught.value.field == "employee_token"
    assert control.ledger()["tripletex"]["vouchers"] == []


def test_a_session_the_api_refuses_is_made_again_once(make: Make, control: SandboxClient) -> None:
    adapter = make()
    adapter.check_access()
    control.reset()  # every session the sandbox knew is gone
    adapter.check_access()
    sessions = [r for r in control.requests_seen() if r["path"].endswith(":create")]
    assert len(sessions) == 1  # after the reset: the second session of this adapter


def test_export_posts_one_balanced_voucher_per_claim_with_its_reference(
    make: Make, control: SandboxClient
) -> None:
    adapter = make()
    results = adapter.export([voucher(1, "100.50", "20", department="200", vatType="1")])
    assert [r.ok for r in results] == [True] and adapter.carried
    [posted] = vouchers(control)
    assert posted["externalVoucherNumber"] == "LL-T-1"
    assert [p["row"] for p in posted["postings"]] == [1, 2, 3]  # never row 0
    assert sum(Decimal(str(p["amountGross"])) for p in posted["postings"]) == 0
    assert all(p["amountGross"] == p["amountGrossCurrency"] for p in posted["postings"])
    assert adapter.find_exported(["LL-T-1", "LL-T-2"]) == {"LL-T-1": results[0].external_id}


def test_an_unknown_code_fails_its_claim_before_anything_is_sent(
    make: Make, control: SandboxClient
) -> None:
    [result] = make().export([voucher(2, "10", account="9999")])
    assert not result.ok
    assert result.error.en == (
        "Account “9999” does not exist in Tripletex. Correct the field mapping or create it in "
        "Tripletex."
    )
    assert vouchers(control) == []


def test_422_validation_messages_become_the_claims_reason(
    make: Make, control: SandboxClient
) -> None:
    control.settings(tripletex_validation="department_required")
    [result] = make().export([voucher(3, "10")])
    assert not result.ok and result.provider_code == "18000"
    # Named by the mapping field it belongs to, in each language.
    assert result.error.en == (
        "Tripletex refused the voucher: Department: Konto 7140 krever avdeling. Correct the "
        "field mapping or the claim and send again."
    )
    assert result.error.nb.startswith("Tripletex avviste bilaget: Avdeling: Konto 7140 krever")


@pytest.mark.parametrize(("reset", "wait"), [("sent", 30.0), ("missing", 10.0)])
def test_429_waits_for_the_reset_header_or_its_own_clock(
    make: Make, control: SandboxClient, sleeps: Sleeps, reset: str, wait: float
) -> None:
    adapter = make()
    adapter.check_access()
    control.settings(tripletex_rate_reset=reset)
    control.set_fault("api-test.tripletex.tech", "rate_limit", retry_after=30)
    with pytest.raises(TransientError) as caught:
        adapter.reference_data("account")
    assert caught.value.retry_after == wait
    assert sleeps == []  # longer than the adapter may sleep: handed back whole


def test_a_voucher_the_reference_lookup_misses_is_found_by_date(
    make: Make, control: SandboxClient
) -> None:
    control.settings(tripletex_lookup="import_only")
    adapter = make()
    today = dt.date.today()
    recent = voucher(4, "15")
    for line in recent.lines:
        line["date"] = today
    assert adapter.export([recent])[0].ok
    assert list(adapter.find_exported(["LL-T-4", "LL-T-5"])) == ["LL-T-4"]


def test_reference_data_marks_inactive_accounts(make: Make) -> None:
    accounts = {i.code: i.description for i in make().reference_data("account")}
    assert accounts["7350"].endswith("(inaktiv / inactive)")
    assert "7140" in accounts and len(accounts) == len(demo.ACCOUNTS)


def test_the_tokens_never_reach_the_request_log(make: Make, control: SandboxClient) -> None:
    make().export([voucher(6, "10")])
    logged = str(control.requests_seen())
    assert demo.TRIPLETEX_CONSUMER_TOKEN not in logged
    assert demo.TRIPLETEX_EMPLOYEE_TOKEN not in logged
