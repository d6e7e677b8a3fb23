"""A run's page lists every claim it handled, kept after later runs; a failed claim can be
sent again through the one integration it is routed to; an empty run is not a sync."""

from __future__ import annotations

import pytest

from tests.webapp.exporting import connected_xledger, final_run
from tests.webapp.test_exports import export_now
from tests.webapp.wizard_helpers import csrf
from webapp.models import ExpenseClaim, ExpenseClaimLine, ExportItem, Integration
from webapp.models_runs import RunClaim

ADMIN = "kari@example.org"


@pytest.fixture
def org(make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, ADMIN, "coordinator_admin")
    return org


@pytest.fixture
def token(auth, client, org):
    auth.login(ADMIN)
    return csrf(client, "/o/nbf/")


def bad_department(claim) -> None:
    ExpenseClaimLine.update(department="999").where(ExpenseClaimLine.claim == claim).execute()


def test_the_run_page_keeps_every_claim_after_a_later_run_books_the_failed_one(
    client, org, token, make, sandbox
):
    integration = connected_xledger(org, sandbox.new_xledger_token())
    good = make.claim(org, claim_number="RR-GOOD")
    bad = make.claim(org, claim_number="RR-BAD")
    bad_department(bad)
    first = export_now(integration)
    assert (first.exported_count, first.failed_count) == (1, 1)

    page = client.get(f"/o/nbf/runs/{first.id}?lang=en").get_data(as_text=True)
    exported = page[page.index('id="run-exported"') : page.index('id="run-failures"')]
    voucher = ExportItem.get(ExportItem.claim == good.id).external_id
    assert "RR-GOOD" in exported and voucher in exported
    failures = page[page.index('id="run-failures"') :]
    assert "RR-BAD" in failures and "999" in failures and f'id="send-again-{bad.id}"' in failures

    # Fixed and sent again: a new run of the same integration books it.
    ExpenseClaimLine.update(department="200").where(ExpenseClaimLine.claim == bad).execute()
    response = client.post(
        f"/o/nbf/runs/{first.id}/claims/{bad.id}/send-again", data={"csrf_token": token}
    )
    assert response.status_code == 303
    second_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert final_run(second_id).exported_count == 1
    item = ExportItem.get(ExportItem.claim == bad.id)
    assert (item.status, item.run_id) == ("exported", second_id)

    # The first run still lists both claims as it left them, and says the bad one was
    # booked later, by which export.
    page = client.get(f"/o/nbf/runs/{first.id}?lang=en").get_data(as_text=True)
    failures = page[page.index('id="run-failures"') :]
    assert "RR-BAD" in failures and f"Exported later, voucher {item.external_id}" in failures
    assert f'id="send-again-{bad.id}"' not in failures
    assert "RR-GOOD" in page[page.index('id="run-exported"') : page.index('id="run-failures"')]
    assert RunClaim.select().where(RunClaim.claim == bad.id).count() == 2

    # Sending a booked claim again is refused: one ledger, once.
    client.post(f"/o/nbf/runs/{first.id}/claims/{bad.id}/send-again", data={"csrf_token": token})
    refused = client.get(f"/o/nbf/runs/{first.id}?lang=en").get_data(as_text=True)
    assert "is already booked" in refused


def test_send_again_goes_through_the_integration_the_claim_is_routed_to_now(
    client, org, token, make, sandbox
):
    first = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger – NBF")
    other = connected_xledger(org, sandbox.new_xledger_token(), name="Xledger – Nord")
    claim = make.claim(org, claim_number="RR-MOVE")
    bad_department(claim)
    run = export_now(first)
    assert run.failed_count == 1
    ExpenseClaimLine.update(department="200").where(ExpenseClaimLine.claim == claim).execute()
    ExpenseClaim.update(integration=other.id).where(ExpenseClaim.id == claim.id).execute()

    response = client.post(
        f"/o/nbf/runs/{run.id}/claims/{claim.id}/send-again", data={"csrf_token": token}
    )
    again = final_run(int(response.headers["Location"].rstrip("/").split("/")[-1]))
    assert again.integration_id == other.id
    item = ExportItem.get(ExportItem.claim == claim.id)
    assert (item.status, item.integration_id) == ("exported", other.id)
    assert ExportItem.select().where(ExportItem.claim == claim.id).count() == 1


def test_an_empty_run_is_a_check_not_a_successful_sync(client, org, token, make, sandbox):
    integration = connected_xledger(org, sandbox.new_xledger_token())
    make.claim(org)
    export_now(integration)
    synced = Integration.get_by_id(integration.id)
    empty = export_now(integration)
    assert (empty.status, empty.total_count) == ("succeeded", 0)
    after = Integration.get_by_id(integration.id)
    assert after.last_success_at == synced.last_success_at and after.last_success_count == 1
    assert after.last_attempt_at > synced.last_success_at
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "Last checked" in page and "no new claims" in page
    card = page[page.index(f'id="last-success-{integration.id}"') :]
    assert "1 claim" in card[:400]
