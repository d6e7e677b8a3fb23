"""Business Central adapter against the sandbox over loopback HTTP."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.business_central import BusinessCentralAdapter, bc_error
from adapters.errors import ConfigError, DataError, PermissionError
from adapters.types import Voucher
from sandbox import demo
from sandbox.client import SandboxClient
from tests.adapters.conftest import Sleeps, seen, statuses

Make = Callable[..., BusinessCentralAdapter]
DAY = datetime.date(2026, 2, 17)


def voucher(number: int, *amounts: str, account: str = "7140", **extra) -> Voucher:
    lines = [
        {
            "postingDate": DAY,
            "accountNumber": account,
            "amount": Decimal(a),
            "description": f"Line {i}",
            **extra,
        }
        for i, a in enumerate(amounts)
    ]
    total = sum(Decimal(a) for a in amounts)
    lines.append(
        {
            "postingDate": DAY,
            "balancingAccountNumber": "2910",
            "amount": -total,
        }
    )
    return Voucher(number, f"LL-B-{number}", number, lines)


def ledger(control: SandboxClient) -> dict:
    return control.ledger()["business_central"]


def test_all_checks_pass(bc: Make) -> None:
    results = bc().test_connection()
    assert all(r.status == "passed" for r in results), [r.message for r in results]


def test_address_fails_for_a_bad_tenant(bc: Make) -> None:
    results = bc(tenant_id="../../evil").test_connection()
    assert (results[0].status, results[0].field) == ("failed", "tenant_id")


def test_address_fails_for_a_bad_environment_name(bc: Make) -> None:
    results = bc(environment="prod/../x").test_connection()
    assert (results[0].status, results[0].field) == ("failed", "environment")


def test_reachable_fails_when_nothing_listens(bc: Make, settings) -> None:
    results = bc(settings=replace(settings, sandbox_url="http://127.0.0.1:1")).test_connection()
    assert statuses(results)["reachable"] == "failed"


def test_authenticated_fails_for_an_expired_secret(bc: Make, control: SandboxClient) -> None:
    app = control.new_entra_app()
    control.expire_client_secret(app["client_id"])
    result = bc(**app).test_connection()[2]
    assert (result.status, result.field, result.provider_code) == (
        "failed",
        "client_secret",
        "AADSTS7000222",
    )


def test_authorised_fails_when_the_app_is_not_enabled_in_bc(
    bc: Make, control: SandboxClient
) -> None:
    control.set_fault(demo.CLIENT_ID, "not_registered")
    result = bc().test_connection()[3]
    assert (result.status, result.field, result.provider_code) == (
        "failed",
        "client_id",
        "Authentication_InvalidCredentials",
    )
    assert "Microsoft Entra Applications" in result.message.en


def test_authorised_fails_for_an_unknown_company(bc: Make) -> None:
    result = bc(company="Nobody AS").test_connection()[3]
    assert (result.status, result.field) == ("failed", "company")
    assert demo.BC_COMPANY_NAME in result.message.en


def test_authorised_fails_for_an_unknown_environment(bc: Make) -> None:
    result = bc(environment="production").test_connection()[3]
    assert (result.status, result.field, result.provider_code) == (
        "failed",
        "environment",
        "BadRequest_NotFound",
    )


def test_ready_fails_for_a_missing_journal(bc: Make) -> None:
    results = bc(journal="NOSUCH").test_connection()
    assert statuses(results)["ready"] == "failed"
    assert results[4].field == "journal"


def test_ready_fails_without_journal_permission(bc: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "no_permission")
    result = bc().test_connection()[4]
    assert (result.status, result.provider_code) == ("failed", "Internal_ServerError")
    assert "Gen. Journal Batch" in result.message.en
    assert "CorrelationId" not in result.message.en


@pytest.mark.parametrize(
    ("kind", "code"),
    [("account", "7140"), ("tax_code", "HØY"), ("project", "P200"), ("dimension", "300")],
)
def test_reference_data(bc: Make, kind: str, code: str) -> None:
    assert code in {i.code for i in bc().reference_data(kind)}


def test_reference_data_follows_next_links(bc: Make, control: SandboxClient) -> None:
    control.settings(bc_page_size=4)
    assert len(bc().reference_data("account")) == len(demo.ACCOUNTS)


def test_export_and_find_exported_round_trip(bc: Make, control: SandboxClient) -> None:
    adapter = bc()
    good = voucher(1, "100.5", "20", department="100", project="P100", taxCode="INGEN")
    unknown = voucher(2, "5", account="9999")
    results = adapter.export([good, unknown])
    assert results[0].ok and results[0].external_id == "LL-B-1"
    assert not results[1].ok and "9999" in results[1].error.en
    entries = ledger(control)["general_ledger_entries"]
    # Each claim's lines carry its reference as the document number: that is what is read back.
    assert len(entries) == 3 and {e["documentNumber"] for e in entries} == {"LL-B-1"}
    assert entries[0]["debitAmount"] == 100.5 and entries[2]["creditAmount"] == 120.5
    assert entries[0]["dimensions"] == [
        {"code": "AVDELING", "valueCode": "100"},
        {"code": "PROSJEKT", "valueCode": "P100"},
    ]
    assert ledger(control)["journal_lines"] == []
    assert adapter.find_exported(["LL-B-1", "LL-B-2"]) == {"LL-B-1": "LL-B-1"}


def test_lines_left_by_a_crash_are_reused_not_duplicated(bc: Make, control: SandboxClient) -> None:
    adapter = bc()
    crashed = voucher(3, "10", "20")
    # The earlier attempt created the first line, then died before posting.
    from adapters.vouchers import spread_voucher_fields

    lines = spread_voucher_fields(crashed, adapter.type)
    adapter._create_line(adapter.journal_id(), crashed, lines[0], f"{crashed.reference}#0")
    assert adapter.export([crashed])[0].ok
    entries = ledger(control)["general_ledger_entries"]
    assert len(entries) == 3


def test_more_than_100_lines_are_split_without_splitting_a_voucher(
    bc: Make, control: SandboxClient
) -> None:
    vouchers = [voucher(n, *["1.00"] * 39) for n in (10, 11, 12)]  # 40 lines each
    results = bc().export(vouchers)
    assert all(r.ok for r in results)
    posts = [r for r in seen(control, "business_central") if r["path"].endswith("NAV.post")]
    assert len(posts) == 2
    assert len(ledger(control)["general_ledger_entries"]) == 120


def test_throttling_is_retried_with_retry_after(
    bc: Make, control: SandboxClient, sleeps: Sleeps
) -> None:
    control.set_fault(demo.BC_HOST, "rate_limit", count=1, retry_after=1)
    assert bc().test_connection()[3].status == "passed"
    assert sleeps == [1.0]


def test_missing_insert_permission_stops_the_export(bc: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "no_permission")
    with pytest.raises(PermissionError):
        bc().export([voucher(20, "1")])


def test_token_is_fetched_once_for_a_whole_export(bc: Make, control: SandboxClient) -> None:
    bc().export([voucher(21, "1"), voucher(22, "2")])
    assert len(seen(control, "entra")) == 1


def response(status: int, code: str, message: str):
    import json

    import requests

    built = requests.Response()
    built.status_code = status
    body = {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}}
    built._content = json.dumps(body).encode()
    return built


@pytest.mark.parametrize(
    ("status", "code", "message", "kind", "field"),
    [
        (
            401,
            "Authentication_InvalidCredentials",
            "The server has rejected the client credentials.",
            PermissionError,
            "client_id",
        ),
        (
            400,
            "Internal_ServerError",
            "You do not have the following permissions on Page APIV2 - Customers: Execute.",
            PermissionError,
            None,
        ),
        (
            400,
            "Internal_ServerError",
            "Sorry, the current permissions prevented the action. "
            "(TableData 81 Gen. Journal Line Insert: Ledgerlink)",
            PermissionError,
            None,
        ),
        (
            404,
            "BadRequest_NotFound",
            "No HTTP resource was found that matches the request URI 'x'.",
            ConfigError,
            None,
        ),
        (404, "BadRequest_NotFound", "Environment 'x' not found.", ConfigError, "environment"),
        (400, "Internal_RecordNotFound", "The G/L Account does not exist.", DataError, None),
    ],
)
def test_every_documented_error_is_typed(status, code, message, kind, field) -> None:
    error = bc_error(response(status, code, message), context=None, journal="J", secrets=[])
    assert type(error) is kind and error.field == field
    assert error.provider_code == code
    assert "CorrelationId" not in error.message.en


def test_a_misspelt_company_or_journal_gets_the_listed_name_it_is_closest_to(bc: Make) -> None:
    company = bc(company="Cronus Norge").test_connection()[3]
    assert (company.status, company.field) == ("failed", "company")
    assert company.message.en.endswith(f"Did you mean “{demo.BC_COMPANY_NAME}”?")
    assert company.message.nb.endswith(f"Mente du «{demo.BC_COMPANY_NAME}»?")
    journal = bc(journal="LEDGERLIN").test_connection()[4]
    assert (journal.status, journal.field) == ("failed", "journal")
    assert journal.message.en.endswith(f"Did you mean “{demo.BC_JOURNAL}”?")
