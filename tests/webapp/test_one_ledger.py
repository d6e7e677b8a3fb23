"""One ledger per claim: two integrations on the same Xledger entity book each claim once."""

from __future__ import annotations

import pytest
from peewee import IntegrityError

from tests.webapp.exporting import bulk_claims, connected_xledger, final_run, ledger_references
from webapp.db import db
from webapp.mapping import reference_for
from webapp.models import ExpenseClaim, ExportItem, Integration, Organization, SyncRun
from webapp.services import exports
from webapp.services.claims import routing


def export_now(integration: Integration) -> SyncRun:
    started = exports.start_manual(Integration.get_by_id(integration.id))
    assert started.run is not None, started.refused
    return final_run(started.run.id)


def bookings(sandbox, claim_ids: list[int], *integrations: Integration) -> dict[int, int]:
    """How many vouchers the sandbox ledger holds for each claim, whichever integration."""
    counts = ledger_references(sandbox)
    return {
        claim_id: sum(counts[reference_for(i.id, claim_id)] for i in integrations)
        for claim_id in claim_ids
    }


def test_a_second_integration_on_the_same_ledger_books_nothing_twice(app, make, sandbox):
    org = make.org()
    token = sandbox.new_xledger_token()
    first = connected_xledger(org, token, name="Xledger")
    second = connected_xledger(org, token, name="Xledger (kopi)")
    assert Organization.get_by_id(org.id).default_integration_id == first.id
    claim_ids = bulk_claims(org, 12)

    # The copy exports first: nothing is routed to it, so it books nothing.
    assert export_now(second).exported_count == 0
    assert export_now(first).exported_count == 12
    assert export_now(second).exported_count == 0
    assert export_now(first).exported_count == 0

    assert set(bookings(sandbox, claim_ids, first, second).values()) == {1}
    assert ExportItem.select().count() == 12
    assert {c.integration_id for c in ExpenseClaim.select()} == {first.id}


def test_claims_routed_to_each_integration_are_booked_by_it_alone(app, make, sandbox):
    org = make.org()
    token = sandbox.new_xledger_token()
    first = connected_xledger(org, token, name="Avdeling Øst")
    second = connected_xledger(org, token, name="Avdeling Vest")
    claim_ids = bulk_claims(org, 10)
    assert export_now(second).exported_count == 0  # routing happens on arrival, not here
    for claim in ExpenseClaim.select().where(ExpenseClaim.id.in_(claim_ids[5:])):
        routing.move(claim, second)

    assert export_now(first).exported_count == 5
    assert export_now(second).exported_count == 5

    assert set(bookings(sandbox, claim_ids, first, second).values()) == {1}
    by_integration = {i.claim_id: i.integration_id for i in ExportItem.select()}
    assert [by_integration[c] for c in claim_ids] == [first.id] * 5 + [second.id] * 5


def test_a_claim_moved_after_a_failed_export_is_booked_once_by_its_new_integration(
    app, make, sandbox
):
    org = make.org()
    first = connected_xledger(org, sandbox.new_xledger_token(), name="Gammel")
    second = connected_xledger(org, sandbox.new_xledger_token(), name="Ny")
    (claim_id,) = bulk_claims(org, 1)
    ExportItem.create(
        integration=first,
        claim=claim_id,
        run=SyncRun.create(integration=first, trigger="manual", status="failed"),
        reference=reference_for(first.id, claim_id),
        status="failed",
        error={"nb": "Konto finnes ikke", "en": "Account does not exist", "code": "x"},
    )
    routing.move(ExpenseClaim.get_by_id(claim_id), second)

    assert export_now(second).exported_count == 1
    item = ExportItem.get(ExportItem.claim == claim_id)
    assert (item.integration_id, item.status) == (second.id, "exported")
    assert bookings(sandbox, [claim_id], first, second) == {claim_id: 1}


def test_the_database_refuses_a_second_item_for_a_claim(app, make, sandbox):
    org = make.org()
    first = connected_xledger(org, sandbox.new_xledger_token(), name="A")
    second = connected_xledger(org, sandbox.new_xledger_token(), name="B")
    (claim_id,) = bulk_claims(org, 1)
    run = SyncRun.create(integration=first, trigger="manual", status="running")
    ExportItem.create(
        integration=first, claim=claim_id, run=run, reference="LL-a", status="pending"
    )
    other = SyncRun.create(integration=second, trigger="manual", status="running")
    with pytest.raises(IntegrityError), db.atomic():
        ExportItem.create(
            integration=second, claim=claim_id, run=other, reference="LL-b", status="pending"
        )
