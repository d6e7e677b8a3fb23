"""Dataverse adapter against the sandbox over loopback HTTP."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.dataverse import DataverseAdapter, dataverse_error
from adapters.errors import AuthError, ConfigError, DataError, PermissionError, TransientError
from adapters.types import Voucher
from sandbox import demo
from sandbox.client import SandboxClient
from tests.adapters.conftest import Sleeps, seen, statuses

Make = Callable[..., DataverseAdapter]
DAY = datetime.date(2026, 2, 17)


def voucher(number: int, *amounts: str) -> Voucher:
    lines = [
        {
            "ll_date": DAY,
            "ll_accountnumber": "7140",
            "amount": Decimal(a),
            "ll_description": f"Line {i}",
            "ll_department": "100",
            "ll_vouchernumber": f"C-{number}",
        }
        for i, a in enumerate(amounts)
    ]
    total = sum(Decimal(a) for a in amounts)
    lines.append({"ll_date": DAY, "ll_balancingaccount": "2910", "amount": -total})
    return Voucher(number, f"LL-D-{number}", number, lines)


def records(control: SandboxClient) -> list[dict]:
    return control.ledger()["dataverse"][demo.DATAVERSE_HOST][demo.DATAVERSE_TABLE]


def test_all_checks_pass(dataverse: Make) -> None:
    results = dataverse().test_connection()
    assert all(r.status == "passed" for r in results), [r.message for r in results]


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com", "http://ledgerlink-demo.crm4.dynamics.com", "https://10.0.0.1"],
)
def test_address_fails_for_a_non_dynamics_url(dataverse: Make, url: str) -> None:
    results = dataverse(environment_url=url).test_connection()
    assert statuses(results)["address"] == "failed"
    assert results[0].field == "environment_url"


def test_address_fails_for_a_bad_table_name(dataverse: Make) -> None:
    results = dataverse(table="ll_x?$top=1").test_connection()
    assert (results[0].status, results[0].field) == ("failed", "table")


def test_reachable_fails_when_nothing_listens(dataverse: Make, settings) -> None:
    results = dataverse(
        settings=replace(settings, sandbox_url="http://127.0.0.1:1")
    ).test_connection()
    assert statuses(results)["reachable"] == "failed"


def test_authenticated_fails_for_a_wrong_secret(dataverse: Make) -> None:
    results = dataverse(client_secret="wrong-secret-value").test_connection()
    assert statuses(results)["authenticated"] == "failed"
    assert results[2].field == "client_secret"


def test_authorised_fails_when_the_app_is_not_an_application_user(
    dataverse: Make, control: SandboxClient
) -> None:
    control.set_fault(demo.CLIENT_ID, "not_registered")
    results = dataverse().test_connection()
    assert statuses(results)["authorised"] == "failed"
    assert (results[3].field, results[3].provider_code) == ("client_id", "0x80072560")
    assert "Application users" in results[3].message.en
    assert results[4].status == "skipped"


def test_ready_fails_for_a_missing_table(dataverse: Make) -> None:
    # Found (or not) through metadata, which needs no privilege on the table itself.
    results = dataverse(table="ll_nosuchtable").test_connection()
    assert statuses(results)["ready"] == "failed"
    assert (results[4].field, results[4].provider_code) == ("table", "table")
    assert results[4].message.en.startswith("The table ll_nosuchtable does not exist")


def test_ready_fails_without_read_privilege(dataverse: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "no_privilege")
    result = dataverse().test_connection()[4]
    assert (result.status, result.provider_code) == ("failed", "0x80040220")
    assert "prvReadll_expenseline" in result.message.en


def test_reference_data_is_empty_for_the_hlf_table(dataverse: Make, control: SandboxClient) -> None:
    assert dataverse().reference_data("account") == []
    assert seen(control, "dataverse") == []


def test_export_and_find_exported_round_trip(dataverse: Make, control: SandboxClient) -> None:
    adapter = dataverse()
    vouchers = [voucher(1, "100.5", "20"), voucher(2, "7")]
    results = adapter.export(vouchers)
    assert all(r.ok and r.external_id for r in results)
    rows = records(control)
    assert len(rows) == 5
    first = rows[0]
    assert first["ll_reference"] == "LL-D-1" and first["ll_amount"] == 100.5
    assert first["ll_date"] == "2026-02-17" and first["ll_accountnumber"] == "7140"
    assert rows[2]["ll_balancingaccount"] == "2910" and rows[2]["ll_amount"] == -120.5
    assert rows[2]["ll_vouchernumber"] == "C-1"  # the voucher-level field reaches every line
    found = adapter.find_exported(["LL-D-1", "LL-D-2", "LL-D-3"])
    assert found == {"LL-D-1": results[0].external_id, "LL-D-2": results[1].external_id}


def test_find_exported_follows_next_links_and_skips_incomplete_vouchers(
    dataverse: Make, control: SandboxClient
) -> None:
    control.settings(dataverse_page_size=2)
    adapter = dataverse()
    adapter.export([voucher(n, "1", "2") for n in range(3, 6)])
    # A voucher whose balancing line never arrived: one lone expense line.
    adapter.api.request(
        "POST",
        adapter._url(demo.DATAVERSE_TABLE),
        classify=adapter._classifier("table"),
        json={"ll_reference": "LL-D-half", "ll_amount": 5.0},
    )
    found = adapter.find_exported(["LL-D-3", "LL-D-4", "LL-D-5", "LL-D-half"])
    assert sorted(found) == ["LL-D-3", "LL-D-4", "LL-D-5"]


def test_throttling_is_retried_with_retry_after(
    dataverse: Make, control: SandboxClient, sleeps: Sleeps
) -> None:
    control.set_fault(demo.DATAVERSE_HOST, "rate_limit", count=1, retry_after=2)
    assert dataverse().export([voucher(6, "3")])[0].ok
    assert sleeps == [2.0]
    assert len(records(control)) == 2


def test_a_server_error_on_create_is_not_repeated(
    dataverse: Make, control: SandboxClient, sleeps: Sleeps
) -> None:
    adapter = dataverse()
    adapter._table_definition()  # the token and the table's metadata first
    control.set_fault(demo.DATAVERSE_HOST, "status", count=1, status=500)
    with pytest.raises(TransientError):
        adapter.export([voucher(7, "3")])
    assert sleeps == []


def test_a_revoked_app_is_an_auth_error_after_one_renewal(
    dataverse: Make, control: SandboxClient
) -> None:
    adapter = dataverse()
    adapter.entra.token()
    control.set_fault(demo.CLIENT_ID, "revoked")
    with pytest.raises(AuthError) as caught:
        adapter.find_exported(["LL-D-1"])
    assert caught.value.field == "tenant_id"
    assert len(seen(control, "entra")) == 2


def test_missing_create_privilege_stops_the_export(dataverse: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "no_privilege")
    with pytest.raises(PermissionError) as caught:
        dataverse().export([voucher(8, "1")])
    assert "prvCreate" in caught.value.message.en


def response(status: int, code: str | None, message: str = ""):
    import json

    import requests

    built = requests.Response()
    built.status_code = status
    body = {"error": {"code": code, "message": message}} if code else None
    built._content = json.dumps(body).encode() if body else b""
    return built


@pytest.mark.parametrize(
    ("status", "code", "table", "kind", "field"),
    [
        (401, None, False, AuthError, "tenant_id"),
        (403, "0x80072560", False, PermissionError, "client_id"),
        (403, "0x80095ffc", False, PermissionError, "client_id"),
        (403, "0x80040220", True, PermissionError, None),
        (404, "0x8006088a", True, ConfigError, "table"),
        (404, "0x8006088a", False, ConfigError, "environment_url"),
        (429, "0x80072322", True, TransientError, None),
        (503, None, True, TransientError, None),
        (400, "0x80060891", True, DataError, None),
    ],
)
def test_every_documented_error_is_typed(status, code, table, kind, field) -> None:
    error = dataverse_error(
        response(status, code, "Principal user is missing prvCreatell_x privilege"),
        table=table,
        table_name="ll_expenselines",
        secrets=[],
    )
    assert type(error) is kind and error.field == field
    assert error.message.nb and error.message.en


def test_redirect_elsewhere_fails_the_check(dataverse: Make, control: SandboxClient) -> None:
    control.set_fault(demo.DATAVERSE_HOST, "redirect", location="https://login.evil.example")
    result = dataverse().test_connection()[3]
    assert (result.status, result.provider_code) == ("failed", "redirect")
