"""Dataverse tenants that differ from the demo one (ACCOUNTING_APIS §8), each switched on in
the sandbox: a least-privilege role that may create but not read, and a table with or without
an alternate key on the per-line key column."""

from __future__ import annotations

from collections.abc import Callable

from adapters.dataverse import KEY_COLUMN, DataverseAdapter
from sandbox.client import SandboxClient
from tests.adapters.conftest import statuses
from tests.adapters.test_dataverse import records, voucher

Make = Callable[..., DataverseAdapter]


def test_create_only_with_an_alternate_key_is_ready_and_writes_each_line_once(
    dataverse: Make, control: SandboxClient
) -> None:
    control.settings(dataverse_role="create_only", dataverse_alternate_key="line_key")
    results = dataverse().test_connection()
    assert set(statuses(results).values()) == {"passed"}
    ready = results[4].message
    assert ready.en == (
        "The table ll_expenselines exists, and its alternate key on ll_linekey makes sure each "
        "line is written once."
    )
    assert ready.nb.startswith("Tabellen ll_expenselines finnes, og den alternative nøkkelen")

    adapter = dataverse()
    first = adapter.export([voucher(1, "100", "20")])
    assert [r.ok for r in first] == [True]
    assert adapter.carried
    # An interrupted run cannot read back; it asks nothing and sends again: the key answers.
    assert adapter.find_exported(["LL-D-1"]) == {}
    again = dataverse().export([voucher(1, "100", "20")])
    assert [r.ok for r in again] == [True]
    rows = records(control)
    assert sorted(r[KEY_COLUMN] for r in rows) == ["LL-D-1#0", "LL-D-1#1", "LL-D-1#2"]
    assert {r["ll_reference"] for r in rows} == {"LL-D-1"}


def test_create_only_without_a_key_fails_the_check_saying_what_to_grant_or_create(
    dataverse: Make, control: SandboxClient
) -> None:
    control.settings(dataverse_role="create_only")
    ready = dataverse().test_connection()[4]
    assert (ready.status, ready.provider_code) == ("failed", "0x80040220")
    en, nb = ready.message.en, ready.message.nb
    assert en.startswith("The table ll_expenselines has no alternate key on the column ll_linekey")
    assert "Create an alternate key on ll_linekey (Power Apps → Tables → the table → Keys)" in en
    assert "Read (prvReadll_expenseline)" in en
    assert "Application users → the app → Security roles" in en
    assert nb.startswith("Tabellen ll_expenselines har ingen alternativ nøkkel på kolonnen")
    assert "Applikasjonsbrukere → appen → Sikkerhetsroller" in nb
    assert "http" not in en and "{" not in en


def test_a_readable_table_without_a_key_passes_and_says_a_key_would_help(
    dataverse: Make, control: SandboxClient
) -> None:
    ready = dataverse().test_connection()[4]
    assert ready.status == "passed"
    assert ready.message.en == (
        "The table ll_expenselines exists and is readable. (An alternate key on ll_linekey "
        "would make read access unnecessary.)"
    )


def test_with_a_key_and_read_the_readback_still_finds_complete_claims(
    dataverse: Make, control: SandboxClient
) -> None:
    control.settings(dataverse_alternate_key="line_key")
    adapter = dataverse()
    assert adapter.export([voucher(2, "40")])[0].ok
    found = adapter.find_exported(["LL-D-2", "LL-D-3"])
    assert list(found) == ["LL-D-2"]
