"""Business Central tenants that differ from the demo one (ACCOUNTING_APIS §8), each switched
on in the sandbox: least-privilege permission sets, read-only apps, several journals, and an
environment that does not exist."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from adapters.business_central import BusinessCentralAdapter
from adapters.errors import PermissionError
from adapters.types import Voucher
from sandbox.client import SandboxClient

Make = Callable[..., BusinessCentralAdapter]
DAY = dt.date(2026, 2, 17)


def voucher(number: int, **extra) -> Voucher:
    lines = [
        {"postingDate": DAY, "accountNumber": "7140", "amount": Decimal("80"), **extra},
        {"postingDate": DAY, "balancingAccountNumber": "2910", "amount": Decimal("-80")},
    ]
    return Voucher(number, f"LL-T-{number}", number, lines)


def checks(adapter: BusinessCentralAdapter) -> dict:
    return {r.key: r for r in adapter.test_connection()}


def test_least_privilege_passes_the_check_and_proves_it_can_write(
    bc: Make, control: SandboxClient
) -> None:
    control.settings(bc_permission_set="least")
    results = checks(bc())
    assert {r.status for r in results.values()} == {"passed"}
    ready = results["ready"].message
    assert ready.en == (
        "The journal LEDGERLINK exists and the app can write lines to it (a test line was made "
        "and deleted again)."
    )
    assert ready.nb.startswith("Kladden LEDGERLINK finnes, og appen kan skrive linjer i den")
    assert control.ledger()["business_central"]["journal_lines"] == []  # nothing left behind


def test_least_privilege_exports_without_the_enrichments_and_says_so(
    bc: Make, control: SandboxClient
) -> None:
    control.settings(bc_permission_set="least")
    adapter = bc()
    results = adapter.export([voucher(1, department="100", project="P100", taxCode="INGEN")])
    assert [r.ok for r in results] == [True]
    entries = control.ledger()["business_central"]["general_ledger_entries"]
    assert len(entries) == 2 and all(e["dimensions"] == [] for e in entries)
    notes = {n.key: n for n in adapter.notes}
    assert set(notes) == {"tax_code", "dimensions"}
    assert notes["dimensions"].message.en == (
        "Departments and projects (dimensions) were left out: the app may not read them in "
        "Business Central. Give the app permission on Dimension (348), Dimension Value (349), "
        "Dimension Set Entry (480) on the Microsoft Entra Applications page to include them."
    )
    assert notes["tax_code"].message.nb.startswith("Mva-grupper ble ikke brukt: appen har ikke")
    assert notes["tax_code"].provider_code == "Internal_ServerError"
    assert notes["tax_code"].details["correlation_id"]
    # Read back by document number, as generalLedgerEntry allows.
    assert adapter.find_exported(["LL-T-1", "LL-T-9"]) == {"LL-T-1": "LL-T-1"}


def test_an_app_that_cannot_read_posted_entries_fails_the_check_naming_the_table(
    bc: Make, control: SandboxClient
) -> None:
    control.settings(bc_permission_set="no_ledger_read")
    ready = checks(bc())["ready"]
    assert ready.status == "failed"
    assert ready.message.en.startswith("The app may not read G/L Entry (table 17) in Business")
    assert ready.message.nb.startswith("Appen har ikke lov til å lese G/L Entry (tabell 17)")
    assert "Microsoft Entra Applications page" in ready.message.en
    assert "CorrelationId" not in ready.message.en and "Sorry" not in ready.message.en


def test_a_read_only_app_fails_the_check_before_its_first_export(
    bc: Make, control: SandboxClient
) -> None:
    control.settings(bc_permission_set="read_only")
    ready = checks(bc())["ready"]
    assert ready.status == "failed"
    assert ready.message.en.startswith(
        "The app may not insert Gen. Journal Line (table 81) in Business Central."
    )
    assert ready.message.nb.startswith("Appen har ikke lov til å opprette Gen. Journal Line")
    with pytest.raises(PermissionError):
        bc().export([voucher(2)])
    assert control.ledger()["business_central"]["general_ledger_entries"] == []


@pytest.mark.parametrize("journals", ["filtered", "unfiltered"])
def test_the_journal_entered_is_the_one_used_whatever_the_server_returns(
    bc: Make, control: SandboxClient, journals: str
) -> None:
    control.settings(bc_journals=journals)
    adapter = bc()
    assert adapter.export([voucher(3)])[0].ok
    posted = control.ledger()["business_central"]["general_ledger_entries"]
    assert {e["documentNumber"] for e in posted} == {"LL-T-3"}
    listing = control.requests_seen()
    assert any("journals(" in r.get("path", "") for r in listing)
    journal = next(
        j for j in adapter._all(adapter._company_url("journals")) if j["code"] == "LEDGERLINK"
    )
    assert adapter.journal_id() == journal["id"]


@pytest.mark.parametrize(
    ("journals", "known"),
    [("filtered", "GENERELT, LEDGERLINK"), ("unfiltered", "GENERELT, KASSE, LEDGERLINK")],
)
def test_a_journal_not_in_the_company_offers_the_ones_there(
    bc: Make, control: SandboxClient, journals: str, known: str
) -> None:
    control.settings(bc_journals=journals)
    ready = checks(bc(journal="REISE"))["ready"]
    assert (ready.status, ready.field) == ("failed", "journal")
    assert ready.message.en.endswith(f"Journals in the company: {known}.")
    assert ready.message.nb.endswith(f"Kladder i selskapet: {known}.")


@pytest.mark.parametrize("answer", ["named", "plain"])
def test_an_unknown_environment_is_named_an_environment_problem(
    bc: Make, control: SandboxClient, answer: str
) -> None:
    control.settings(bc_unknown_environment=answer)
    failed = checks(bc(environment="produktion"))["authorised"]
    assert (failed.status, failed.field) == ("failed", "environment")
    assert failed.message.en.startswith("The environment does not exist in Business Central.")
    assert failed.message.nb.startswith("Fant ikke miljøet i Business Central.")
