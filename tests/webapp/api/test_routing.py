"""One ledger per claim: routing on arrival, moving, the default set on the dashboard."""

from __future__ import annotations

import pytest

from tests.webapp.api.conftest import claim
from webapp.models import AuditEvent, ExpenseClaim, ExportItem, Organization, SyncRun
from webapp.services import claims
from webapp.services.claims.schema import ClaimIn


@pytest.fixture
def two(org, make, xledger):
    dataverse = make.integration(org, "dataverse", status="connected", name="Dataverse")
    return xledger, dataverse


def store(org, external_id, **changes):
    [stored] = claims.ingest(org, [ClaimIn.model_validate(claim(external_id, **changes))])
    return stored.claim


def test_explicit_then_rule_then_default(org, two):
    xledger, dataverse = two
    claims.add_rule(org, dataverse, department="300")
    claims.add_rule(org, dataverse, project="P9")
    assert store(org, "a", integration=dataverse.id).integration_id == dataverse.id
    assert store(org, "b", department="300").integration_id == dataverse.id
    assert store(org, "c", project="P9").integration_id == dataverse.id
    assert store(org, "d", department="200").integration_id == xledger.id


def test_more_specific_rule_wins(org, two):
    xledger, dataverse = two
    claims.add_rule(org, dataverse, department="300")
    claims.add_rule(org, xledger, department="300", project="P1")
    assert store(org, "a", department="300", project="P1").integration_id == xledger.id
    assert store(org, "b", department="300", project="P2").integration_id == dataverse.id


def test_without_a_default_the_claim_needs_attention(client, org, two, bearer):
    claims.set_default(org, None)
    created = client.post("/api/v1/claims", json=claim("x"), headers=bearer).get_json()
    assert created["integration"] is None
    assert created["status"] == "needs_attention"
    assert created["next_step"]


def test_another_organisations_integration_is_refused(org, make):
    other = make.org("Annen", slug="annen")
    theirs = make.integration(other, status="connected")
    with pytest.raises(claims.IngestProblem) as caught:
        store(org, "a", integration=theirs.id)
    assert caught.value.errors[0][0] == "/integration"


def test_move_until_exported_and_audited(org, two):
    xledger, dataverse = two
    moved = store(org, "a")
    run = SyncRun.create(integration=xledger, trigger="manual", status="failed")
    ExportItem.create(integration=xledger, claim=moved, run=run, reference="LL-1", status="failed")
    claims.move(moved, dataverse)
    assert ExpenseClaim.get_by_id(moved.id).integration_id == dataverse.id
    # The failed attempt no longer holds the claim: the new integration may book it.
    assert ExportItem.select().where(ExportItem.claim == moved.id).count() == 0
    assert AuditEvent.get(AuditEvent.action == "claim.moved").target_id == moved.id

    booked = store(org, "b")
    ExportItem.create(
        integration=xledger, claim=booked, run=run, reference="LL-2", status="exported"
    )
    with pytest.raises(claims.RoutingError):
        claims.move(booked, dataverse)
    assert ExpenseClaim.get_by_id(booked.id).integration_id == xledger.id


def test_routed_to_lists_only_the_integrations_unbooked_claims(org, two):
    xledger, dataverse = two
    mine = store(org, "a")
    store(org, "b", integration=dataverse.id)
    booked = store(org, "c")
    run = SyncRun.create(integration=xledger, trigger="manual", status="succeeded")
    ExportItem.create(
        integration=xledger, claim=booked, run=run, reference="LL-3", status="exported"
    )
    assert [c.id for c in claims.routed_to(xledger)] == [mine.id]
    counts = claims.counts_by_integration(org.id)
    assert counts[xledger.id] == {"waiting": 1, "exported": 1, "failed": 0}
    assert counts[dataverse.id]["waiting"] == 1


def test_admin_sets_the_default_on_the_dashboard(client, auth, org, two):
    xledger, dataverse = two
    auth.login("admin@example.org")
    page = client.get("/o/nbf/").get_data(as_text=True)
    assert 'id="default-integration-select"' in page
    token = auth.csrf_token("/o/nbf/")
    response = client.post(
        "/o/nbf/routing/default", data={"integration": str(dataverse.id), "csrf_token": token}
    )
    assert response.status_code == 302
    assert Organization.get_by_id(org.id).default_integration_id == dataverse.id
    assert AuditEvent.get(AuditEvent.action == "organization.default_integration")
    forged = client.post("/o/nbf/routing/default", data={"integration": str(xledger.id)})
    assert forged.status_code == 400
    assert Organization.get_by_id(org.id).default_integration_id == dataverse.id


def test_a_coordinator_cannot_set_the_default(client, auth, org, two):
    auth.login("kari@example.org")
    assert 'id="default-integration-select"' not in client.get("/o/nbf/").get_data(as_text=True)
    token = auth.csrf_token("/o/nbf/")
    response = client.post(
        "/o/nbf/routing/default", data={"integration": str(two[1].id), "csrf_token": token}
    )
    assert response.status_code == 403


def test_claims_page_filters_and_moves_a_claim(client, auth, org, two):
    xledger, dataverse = two
    waiting = store(org, "utl-ventende")
    booked = store(org, "utl-bokfort")
    run = SyncRun.create(integration=xledger, trigger="manual", status="succeeded")
    ExportItem.create(
        integration=xledger,
        claim=booked,
        run=run,
        reference="LL-9",
        status="exported",
        external_id="BILAG-77",
    )
    auth.login("admin@example.org")
    page = client.get("/o/nbf/claims/").get_data(as_text=True)
    assert "BILAG-77" in page and f'id="move-{waiting.id}"' in page
    assert f'id="move-{booked.id}"' not in page
    only_booked = client.get("/o/nbf/claims/?status=exported").get_data(as_text=True)
    assert waiting.claim_number not in only_booked and "BILAG-77" in only_booked
    token = auth.csrf_token("/o/nbf/claims/")
    moved = client.post(
        f"/o/nbf/routing/claims/{waiting.id}",
        data={"integration": str(dataverse.id), "csrf_token": token},
    )
    assert moved.status_code == 302
    assert ExpenseClaim.get_by_id(waiting.id).integration_id == dataverse.id
    refused = client.post(
        f"/o/nbf/routing/claims/{booked.id}",
        data={"integration": str(dataverse.id), "csrf_token": token},
    )
    assert refused.status_code == 302
    assert ExpenseClaim.get_by_id(booked.id).integration_id == xledger.id


def test_admin_adds_and_removes_a_rule_on_the_rules_page(client, auth, org, two):
    xledger, dataverse = two
    auth.login("admin@example.org")
    token = auth.csrf_token("/o/nbf/routing/")
    empty = client.post(
        "/o/nbf/routing/rules", data={"integration": str(dataverse.id), "csrf_token": token}
    )
    assert empty.status_code == 200 and 'id="rule-error"' in empty.get_data(as_text=True)
    added = client.post(
        "/o/nbf/routing/rules",
        data={"department": "300", "integration": str(dataverse.id), "csrf_token": token},
    )
    assert added.status_code == 302
    assert store(org, "r", department="300").integration_id == dataverse.id
    rule = claims.routing.RoutingRule.get()
    assert "Dataverse" in client.get("/o/nbf/routing/").get_data(as_text=True)
    client.post(f"/o/nbf/routing/rules/{rule.id}/remove", data={"csrf_token": token})
    assert store(org, "s", department="300").integration_id == xledger.id


def test_dashboard_counts_claims_per_integration(client, auth, org, two):
    xledger, dataverse = two
    store(org, "a")
    store(org, "b", integration=dataverse.id)
    claims.set_default(org, None)
    store(org, "c")
    auth.login("admin@example.org")
    page = client.get("/o/nbf/").get_data(as_text=True)
    table = page[page.index('id="claim-counts"') :]
    assert '<th scope="row">Xledger hovedbok</th><td>1</td><td>0</td><td>0</td>' in table
    assert '<th scope="row">Dataverse</th><td>1</td>' in table
    assert "<td>1</td><td>0</td><td>0</td></tr>" in table.split("Dataverse", 1)[1]
