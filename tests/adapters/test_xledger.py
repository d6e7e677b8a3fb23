"""Xledger adapter against the sandbox over loopback HTTP."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest

from adapters.errors import (
    AddressError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
    TransientError,
)
from adapters.types import Voucher
from adapters.xledger import XledgerAdapter, xledger_error
from sandbox.client import SandboxClient
from tests.adapters.conftest import XLEDGER, Sleeps, seen, statuses
from tests.adapters.stub import connection, stub_server

Make = Callable[..., XledgerAdapter]
DAY = datetime.date(2026, 2, 17)


@pytest.fixture
def token(control: SandboxClient) -> str:
    # A token per test, so that the process-wide burst limiter of one test never slows
    # another.
    return control.new_xledger_token()


@pytest.fixture
def make(xledger: Make, token: str) -> Make:
    def build(**kwargs) -> XledgerAdapter:
        return xledger(**{"api_token": token, **kwargs})

    return build


def voucher(number: int, *amounts: str, account: str = "7140", **extra) -> Voucher:
    lines = [
        {"postedDate": DAY, "account": account, "amount": Decimal(a), "text": f"Line {i}", **extra}
        for i, a in enumerate(amounts)
    ]
    total = sum(Decimal(a) for a in amounts)
    lines.append({"postedDate": DAY, "balancingAccount": "2910", "amount": -total})
    return Voucher(number, f"LL-X-{number}", number, lines)


# -- test connection ---------------------------------------------------------------------------


@pytest.mark.parametrize("entity_code", ["NBF", ""])
def test_all_checks_pass(make: Make, entity_code: str) -> None:
    results = make(entity_code=entity_code).test_connection()
    assert [r.key for r in results] == [
        "address",
        "reachable",
        "authenticated",
        "authorised",
        "ready",
    ]
    assert all(r.status == "passed" for r in results), [r.message for r in results]


def test_address_fails_for_an_unknown_environment(make: Make) -> None:
    results = make(environment="staging").test_connection()
    assert statuses(results)["address"] == "failed"
    assert results[0].field == "environment"
    assert [r.status for r in results[1:]] == ["skipped"] * 4


def test_reachable_fails_when_nothing_listens(make: Make, settings) -> None:
    closed = replace(settings, sandbox_url="http://127.0.0.1:1")
    results = make(settings=closed).test_connection()
    assert statuses(results)["reachable"] == "failed"
    assert results[1].provider_code == "connect"
    assert results[1].hint is not None


def test_authenticated_fails_for_a_malformed_token(make: Make) -> None:
    result = make(api_token="token with spaces").test_connection()[2]
    assert (result.status, result.field, result.provider_code) == (
        "failed",
        "api_token",
        "BAD_TOKEN_FORMAT",
    )


@pytest.mark.parametrize("mode", ["errors", "401"])
def test_authenticated_fails_for_a_revoked_token(
    make: Make, control: SandboxClient, token: str, mode: str
) -> None:
    control.settings(xledger_unknown_token=mode)
    control.revoke_xledger_token(token)
    result = make().test_connection()[2]
    assert (result.status, result.field) == ("failed", "api_token")
    assert "revoked" in result.message.en and "trukket tilbake" in result.message.nb
    assert "API-nøkler" in result.message.nb


def test_authorised_fails_for_an_entity_the_token_cannot_reach(make: Make) -> None:
    results = make(entity_code="OTHER").test_connection()
    assert statuses(results) == {
        "address": "passed",
        "reachable": "passed",
        "authenticated": "passed",
        "authorised": "failed",
        "ready": "skipped",
    }
    assert results[3].field == "entity_code"


def test_ready_fails_for_an_empty_chart_of_accounts(make: Make, settings) -> None:
    def answer(method, path, body):
        root = body["query"].split("{", 2)[1].split("(")[0].strip()
        nodes = {"entities": [{"dbId": "1", "code": "NBF", "description": "NBF"}]}
        return 200, {}, {"data": {root: connection(*nodes.get(root, []))}}

    with stub_server(answer) as url:
        results = make(settings=replace(settings, sandbox_url=url)).test_connection()
    assert statuses(results)["ready"] == "failed"
    assert results[4].provider_code == "empty_chart"


# -- reference data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "count", "code"),
    [
        ("account", 14, "7140"),
        ("tax_code", 4, "11"),
        ("project", 3, "P200"),
        ("dimension", 4, "300"),
    ],
)
def test_reference_data_reads_every_page(
    make: Make, control: SandboxClient, kind: str, count: int, code: str
) -> None:
    adapter = make()
    adapter.page_size = 3
    items = adapter.reference_data(kind)
    assert len(items) == count
    assert code in {i.code for i in items}
    assert all(i.kind == kind and i.description for i in items)


def test_reference_data_without_read_access(make: Make, control: SandboxClient, token: str) -> None:
    # A list the token may not read is skipped with a note, never an error or an empty chart.
    control.set_fault(token, "no_read_scope")
    adapter = make()
    assert adapter.reference_data("account") == []
    [note] = adapter.notes
    assert (note.key, note.provider_code) == ("account", "FORBIDDEN")
    assert note.message.en.startswith("Accounts were not checked: the API token may not read")
    assert note.message.nb.startswith("Kontoer ble ikke kontrollert: API-nøkkelen kan ikke lese")


# -- export ----------------------------------------------------------------------------------


def test_export_and_find_exported_round_trip(make: Make, control: SandboxClient) -> None:
    adapter = make()
    good = voucher(1, "100.5", "20", glObject1="100", project="P100", taxRule="0")
    bad = voucher(2, "10", account="9999")
    results = adapter.export([good, bad])
    assert [r.reference for r in results] == [good.reference, bad.reference]
    assert results[0].ok and results[0].external_id
    assert not results[1].ok and results[1].provider_code == "GL_IMPORT_ERROR"
    # In the coordinator's words, not Xledger's sentence.
    assert results[1].error.en == (
        "Xledger refused the voucher: The account 9999 does not exist in Xledger. Correct the "
        "field mapping or the claim and send again."
    )
    assert results[1].error.nb.startswith(
        "Xledger avviste bilaget: Kontoen 9999 finnes ikke i Xledger."
    )

    items = control.ledger()["xledger"]["import_items"]
    first = next(i for i in items if i["extIdentifier"] == good.reference)
    assert first["amount"] == "100.50" and first["postedDate"] == "2026-02-17"
    assert first["trRegNumber"] == 1 and first["transactionSource"] == {"code": "GL"}
    assert first["account"]["code"] == "7140" and first["glObject1"]["code"] == "100"
    assert first["owner"] == {"code": "NBF"}
    credit = [i for i in items if i["extIdentifier"] == good.reference][-1]
    assert credit["account"]["code"] == "2910" and credit["amount"] == "-120.50"

    found = adapter.find_exported([good.reference, bad.reference, "LL-X-unknown"])
    assert found == {good.reference: results[0].external_id}


def test_a_resent_voucher_after_errors_counts_once_fixed(make: Make) -> None:
    adapter = make()
    broken = voucher(3, "10", account="9999")
    assert not adapter.export([broken])[0].ok
    fixed = replace(broken, lines=voucher(3, "10").lines)
    result = adapter.export([fixed])[0]
    # Rows of the earlier attempt's errors do not condemn the fixed one.
    assert result.ok
    assert adapter.find_exported([fixed.reference]) == {fixed.reference: result.external_id}


def test_a_prepared_batch_is_stored_as_an_unprepared_one(
    make: Make, control: SandboxClient
) -> None:
    # An export run prepares the next batch while the one before is in flight.
    batch = [
        voucher(5, "100.5", "20", glObject1="100", project="P100", taxRule="0"),
        voucher(6, "7.25", text="Ærlig «sitat» \\ og\tfane"),
    ]

    def stored() -> list[dict]:
        items = control.ledger()["xledger"]["import_items"]
        return [{k: v for k, v in i.items() if k not in ("createdAt", "modifiedAt")} for i in items]

    assert all(r.ok for r in make().export(batch))
    unprepared = stored()
    control.reset()
    adapter = make(api_token=control.new_xledger_token())
    adapter.prepare(batch)
    assert all(r.ok for r in adapter.export(batch))
    assert stored() == unprepared


def test_work_prepared_for_another_voucher_object_is_not_sent(
    make: Make, control: SandboxClient
) -> None:
    adapter = make()
    broken = voucher(8, "10", account="9999")
    adapter.prepare([broken])
    fixed = replace(broken, lines=voucher(8, "10").lines)  # same reference, new lines
    assert adapter.export([fixed])[0].ok
    accounts = {i["account"]["code"] for i in control.ledger()["xledger"]["import_items"]}
    assert accounts == {"7140", "2910"}


def test_unbalanced_voucher_is_refused_before_sending(make: Make, control: SandboxClient) -> None:
    lopsided = voucher(4, "10")
    lopsided.lines[-1]["amount"] = Decimal("-9")
    result = make().export([lopsided])[0]
    assert not result.ok and result.provider_code == "not_sent"
    assert "balance" in result.error.en
    assert control.ledger()["xledger"]["import_items"] == []


def test_more_than_500_lines_are_split_without_splitting_a_voucher(
    make: Make, control: SandboxClient
) -> None:
    vouchers = [voucher(n, *["1.00"] * 199) for n in (10, 11, 12)]  # 200 lines each
    results = make().export(vouchers)
    assert all(r.ok for r in results)
    items = control.ledger()["xledger"]["import_items"]
    assert len(items) == 600
    calls: dict[str, set[int]] = {}
    for item in items:
        calls.setdefault(item["createdAt"], set()).add(item["trRegNumber"])
    sizes = sorted(sum(1 for i in items if i["createdAt"] == c) for c in calls)
    assert sizes == [200, 400]
    for numbers in calls.values():
        for n in numbers:
            assert sum(1 for i in items if i["trRegNumber"] == n) == 200
    assert len(control.ledger()["xledger"]["vouchers"]) == 3


# -- errors and retries --------------------------------------------------------------------------


def test_rate_limit_is_retried_after_retry_after(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    control.set_fault(token, "rate_limit", count=1, retry_after=2)
    assert len(make().reference_data("project")) == 3
    assert sleeps == [2.0]
    assert [r["status"] for r in seen(control, "xledger")] == [429, 200]


def test_a_wait_beyond_the_budget_is_handed_back(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    control.set_fault(token, "rate_limit", count=1, retry_after=30)
    with pytest.raises(TransientError) as caught:
        make().reference_data("project")
    assert caught.value.retry_after == 30.0
    assert sleeps == []


def test_server_errors_are_retried_a_bounded_number_of_times(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    control.set_fault(token, "status", status=503)
    with pytest.raises(TransientError) as caught:
        make().reference_data("project")
    assert caught.value.provider_code == "503"
    assert len(seen(control, "xledger")) == 3
    assert sleeps == [0.005, 0.01]


def test_burst_error_code_is_transient_with_xledgers_wait(
    make: Make, control: SandboxClient, sleeps: Sleeps
) -> None:
    control.settings(burst_limit=True, burst_max_requests=1)
    adapter = make()
    adapter.reference_data("project")
    with pytest.raises(TransientError) as caught:
        adapter.reference_data("project")
    assert caught.value.provider_code == "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"
    assert caught.value.retry_after == 5.0


def test_burst_limiter_keeps_30_quick_calls_under_the_limit(
    make: Make, control: SandboxClient
) -> None:
    control.settings(burst_limit=True)
    adapter = make()
    for _ in range(30):
        adapter.reference_data("project")
    assert {r["status"] for r in seen(control, "xledger")} == {200}
    assert control.ledger()["xledger"]["import_errors"] == []


def test_insufficient_credits_hands_back_the_reset_time(
    make: Make, control: SandboxClient, token: str, sleeps: Sleeps
) -> None:
    control.set_fault(token, "credits", reset_at="2099-01-01T00:00:00.000Z")
    with pytest.raises(TransientError) as caught:
        make().reference_data("account")
    assert caught.value.provider_code == "BAD_REQUEST.INSUFFICIENT_CREDITS"
    assert caught.value.retry_after > 3600
    # The run says until when, in local time; the message names no time (and never UTC).
    assert "UTC" not in caught.value.message.en and "2099" not in caught.value.message.nb
    assert caught.value.details == {"reset_at": "2099-01-01T00:00:00+00:00"}
    assert sleeps == []


def test_query_timeout_is_retried(make: Make, control: SandboxClient, token: str) -> None:
    control.set_fault(token, "timeout", count=1, seconds=0)
    assert len(make().reference_data("project")) == 3


def test_a_mutation_that_timed_out_is_not_repeated(
    make: Make, control: SandboxClient, token: str, settings
) -> None:
    control.set_fault(token, "timeout", count=1, seconds=1.0)
    adapter = make(settings=replace(settings, read_timeout=0.3))
    with pytest.raises(TransientError) as caught:
        adapter.export([voucher(20, "5")])
    assert caught.value.provider_code == "timeout"
    assert len(seen(control, "xledger")) <= 1


def test_redirect_to_another_host_is_refused(
    make: Make, control: SandboxClient, token: str
) -> None:
    control.set_fault(token, "redirect", location="https://evil.example.net")
    with pytest.raises(AddressError) as caught:
        make().reference_data("account")
    assert caught.value.provider_code == "redirect"
    assert "evil.example.net" in caught.value.message.en


@pytest.mark.parametrize(
    ("error", "status", "kind", "code", "field"),
    [
        (
            {"message": "Too many requests", "code": "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"},
            200,
            TransientError,
            "BAD_REQUEST.BURST_RATE_LIMIT_REACHED",
            None,
        ),
        (
            {"message": "Too many requests", "code": "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED"},
            200,
            TransientError,
            "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED",
            None,
        ),
        (
            {
                "message": "Not enough credits",
                "code": "BAD_REQUEST.INSUFFICIENT_CREDITS",
                "extensions": {"resetAt": "soon"},
            },
            200,
            TransientError,
            "BAD_REQUEST.INSUFFICIENT_CREDITS",
            None,
        ),
        ({"message": "Your query timed out."}, 200, TransientError, "QUERY_TIMEOUT", None),
        (
            {
                "message": 'Bad format for API Token. Expected header: "Authorization: token '
                '<your-token>"'
            },
            200,
            AuthError,
            "BAD_TOKEN_FORMAT",
            "api_token",
        ),
        (
            {"message": "Invalid or expired API token", "code": "UNAUTHENTICATED"},
            401,
            AuthError,
            "UNAUTHENTICATED",
            "api_token",
        ),
        (
            {"message": "Cannot query field `foo` on type `Query`"},
            200,
            ConfigError,
            "GRAPHQL_VALIDATION",
            None,
        ),
        (
            {"message": "Argument has invalid value", "extensions": {"code": "INVALID_VALUE"}},
            200,
            DataError,
            "INVALID_VALUE",
            None,
        ),
        (
            {"message": "Bad", "extensions": {"code": "ARGUMENTS_OF_CORRECT_TYPE"}},
            200,
            DataError,
            "ARGUMENTS_OF_CORRECT_TYPE",
            None,
        ),
        (
            {
                "message": "Too many inputs: at most 500 per call",
                "code": "BAD_REQUEST.TOO_MANY_INPUTS",
            },
            200,
            DataError,
            "BAD_REQUEST.TOO_MANY_INPUTS",
            None,
        ),
        (
            {
                "message": "Access denied: the API token has no read access to Accounts",
                "code": "FORBIDDEN",
            },
            200,
            PermissionError,
            "FORBIDDEN",
            "api_token",
        ),
    ],
)
def test_every_documented_error_maps_to_a_typed_error(error, status, kind, code, field) -> None:
    mapped = xledger_error(error, status, ["secret"])
    assert type(mapped) is kind
    assert (mapped.provider_code, mapped.field) == (code, field)
    assert mapped.message.nb and mapped.message.en and mapped.message.nb != mapped.message.en


def test_non_2xx_without_errors_is_an_error(make: Make, settings) -> None:
    with stub_server(lambda m, p, b: (502, {}, None)) as url:
        with pytest.raises(TransientError):
            make(settings=replace(settings, sandbox_url=url)).reference_data("account")
    with stub_server(lambda m, p, b: (404, {}, {"message": "nope"})) as url:
        with pytest.raises(ConfigError):
            make(settings=replace(settings, sandbox_url=url)).reference_data("account")


def test_demo_token_works_on_the_production_host_too(xledger: Make) -> None:
    assert xledger(**{**XLEDGER, "environment": "production"}).reference_data("project")


def test_a_refused_call_is_split_so_good_vouchers_go_through(make: Make, settings) -> None:
    # Xledger refuses a whole mutation for one bad value; the adapter then sends one voucher
    # at a time. The stub refuses any call that contains the bad voucher's number.
    calls = []

    def answer(method, path, body):
        if "addGLImportItems" in body["query"]:
            numbers = {i["node"]["trRegNumber"] for i in body["variables"]["inputs"]}
            calls.append(sorted(numbers))
            if 31 in numbers:
                error = {"message": "Bad value", "extensions": {"code": "INVALID_VALUE"}}
                return 200, {}, {"errors": [error]}
            edges = [
                {"clientId": i["clientId"], "node": {"dbId": str(n)}}
                for n, i in enumerate(body["variables"]["inputs"], start=1)
            ]
            return 200, {}, {"data": {"addGLImportItems": {"edges": edges}}}
        return 200, {}, {"data": {"glImportItemErrors": connection()}}

    with stub_server(answer) as url:
        results = make(settings=replace(settings, sandbox_url=url)).export(
            [voucher(30, "1"), voucher(31, "2"), voucher(32, "3")]
        )
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].provider_code == "INVALID_VALUE"
    assert calls == [[30, 31, 32], [30], [31], [32]]
