"""The claims API over HTTP: batches, idempotency, duplicates, keys, scopes, organisations."""

from __future__ import annotations

import json

import pytest

from tests.webapp.api.conftest import claim
from webapp.models import (
    ApiKey,
    AuditEvent,
    ExpenseClaim,
    ExpenseClaimLine,
    ExportItem,
    SyncRun,
)
from webapp.services import api_keys


def post(client, body, headers, **extra):
    return client.post("/api/v1/claims", json=body, headers={**headers, **extra})


def test_a_batch_is_stored_routed_and_described(client, bearer, xledger):
    batch = {"claims": [claim(f"exp-{n}") for n in range(3)]}
    response = post(client, batch, bearer)
    assert response.status_code == 201, response.get_json()
    results = response.get_json()["results"]
    assert [r["result"] for r in results] == ["created"] * 3
    first = results[0]["claim"]
    assert first["status"] == "queued"
    assert first["integration"] == {"id": xledger.id, "name": "Xledger hovedbok", "type": "xledger"}
    assert first["total"] == "514.50"
    assert first["line_count"] == 2
    assert ExpenseClaim.select().count() == 3
    stored = ExpenseClaim.get(ExpenseClaim.external_id == "exp-0")
    assert stored.integration_id == xledger.id
    assert stored.claimant_number == "4711"
    mileage = ExpenseClaimLine.get(
        (ExpenseClaimLine.claim == stored) & (ExpenseClaimLine.expense_type == "mileage")
    )
    assert (str(mileage.km), str(mileage.rate), str(mileage.amount)) == ("50.00", "3.30", "165.00")
    assert "Set-Cookie" not in response.headers


def test_replay_with_the_same_key_gives_the_first_answer_and_no_new_claims(client, bearer):
    body = {"claims": [claim("exp-1"), claim("exp-2")]}
    first = post(client, body, bearer, **{"Idempotency-Key": "batch-2026-11-03"})
    again = post(client, body, bearer, **{"Idempotency-Key": "batch-2026-11-03"})
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ExpenseClaim.select().count() == 2


def test_same_key_with_another_body_is_a_problem(client, bearer):
    post(client, claim("exp-1"), bearer, **{"Idempotency-Key": "k-1"})
    response = post(client, claim("exp-2"), bearer, **{"Idempotency-Key": "k-1"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("idempotency-key-reused")
    assert ExpenseClaim.select().count() == 1


def test_resend_without_a_key_finds_the_claim_by_external_id(client, bearer):
    first = post(client, claim("exp-7"), bearer)
    again = post(client, claim("exp-7"), bearer)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    batch = post(client, {"claims": [claim("exp-7"), claim("exp-8")]}, bearer)
    assert [r["result"] for r in batch.get_json()["results"]] == ["existing", "created"]
    assert ExpenseClaim.select().count() == 2


def test_a_revoked_key_is_refused_and_audited(client, org, key, bearer):
    stored = ApiKey.get(ApiKey.key_hash == api_keys.digest(key))
    api_keys.revoke(org, stored.id)
    response = post(client, claim(), bearer)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "trukket tilbake" in response.get_json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions == ["api_key.created", "api_key.revoked", "api_key.used_after_revoke"]
    assert ExpenseClaim.select().count() == 0


def test_no_key_or_a_wrong_key_is_401(client):
    assert client.get("/api/v1/claims").status_code == 401
    wrong = {"Authorization": "Bearer ll_live_not-a-key"}
    assert client.get("/api/v1/claims", headers=wrong).status_code == 401


def test_a_key_without_the_scope_gets_403(client, org, xledger):
    _key, secret = api_keys.create(org, "Bare lesing", ["claims:read"])
    response = post(client, claim(), {"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert response.get_json()["type"].endswith("insufficient-scope")
    assert "claims:write" in response.get_json()["detail"]


def test_another_organisations_claim_is_404(client, bearer, make):
    other = make.org("Annen forening", slug="annen")
    theirs = make.claim(other)
    response = client.get(f"/api/v1/claims/{theirs.id}", headers=bearer)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    listed = client.get("/api/v1/claims", headers=bearer).get_json()
    assert listed["data"] == []


def test_status_and_ledger_reference_come_from_the_export(client, bearer, xledger, make):
    created = post(client, claim("exp-9"), bearer).get_json()
    sync = SyncRun.create(integration=xledger, trigger="manual", status="succeeded")
    ExportItem.create(
        integration=xledger,
        claim=created["id"],
        run=sync,
        reference=f"LL-{created['id']}",
        status="exported",
        external_id="BILAG-4711",
    )
    shown = client.get(f"/api/v1/claims/{created['id']}", headers=bearer).get_json()
    assert shown["status"] == "exported"
    assert shown["ledger_reference"] == "BILAG-4711"
    assert shown["exported_at"] is not None
    exported = client.get("/api/v1/claims?status=exported", headers=bearer).get_json()
    assert [c["id"] for c in exported["data"]] == [created["id"]]
    assert client.get("/api/v1/claims?status=failed", headers=bearer).get_json()["data"] == []


def test_cursor_pages_are_stable_and_complete(client, bearer):
    post(client, {"claims": [claim(f"exp-{n:02d}") for n in range(7)]}, bearer)
    seen, cursor = [], None
    while True:
        url = "/api/v1/claims?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=bearer).get_json()
        seen += [c["external_id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"exp-{n:02d}" for n in range(7)]
    assert len(seen) == 7


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (
            claim(lines=[{"date": "2026-11-02", "expense_type": "x", "amount": 12.5}]),
            "/lines/0/amount",
        ),
        (claim(claimant={"name": "Kari", "number": "01017012345"}), "/claimant/number"),
        (claim(approved_at="03.11.2026"), "/approved_at"),
        (claim(surprise=True), "/surprise"),
        (claim(integration=999999), "/integration"),
        ({"claims": [claim("a"), claim("a")]}, "/claims/1/external_id"),
    ],
)
def test_invalid_fields_are_problems_with_pointers(client, bearer, body, pointer):
    response = post(client, body, bearer)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert pointer in [e["pointer"] for e in problem["errors"]]
    assert ExpenseClaim.select().count() == 0


def test_an_identity_number_gets_a_clear_norwegian_pointer(client, bearer):
    body = claim(claimant={"name": "Kari", "number": "010170 12345"})
    problem = post(client, body, bearer).get_json()
    [error] = problem["errors"]
    assert error["pointer"] == "/claimant/number"
    assert "fødselsnummer" in error["detail"]


def test_errors_follow_accept_language(client, bearer):
    body = claim(surprise=1)
    nb = post(client, body, bearer).get_json()
    en = post(client, body, bearer, **{"Accept-Language": "en"}).get_json()
    assert nb["detail"] != en["detail"]
    assert en["errors"][0]["detail"].startswith("Unknown field")


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"external_id": "\xff\xfe"}', "application/json", 400),
        (b'{"external_id": "a\\u0000b"}', "application/json", 400),
        (b'{"external_id": "\\ud800"}', "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b"external_id=1", "application/x-www-form-urlencoded", 415),
        (b"[" * 100000, "application/json", 400),
    ],
)
def test_unreadable_bodies_are_problems_never_500(client, bearer, data, content_type, status):
    response = client.post(
        "/api/v1/claims", data=data, headers={**bearer, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"


def test_a_body_over_the_limit_is_413(app, client, bearer):
    app.config["API_MAX_BODY"] = 1000
    response = client.post(
        "/api/v1/claims",
        data=json.dumps(claim(purpose="x" * 2000)),
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_rate_limit_answers_429_with_retry_after(app, client, bearer):
    app.config["API_RATE_LIMIT"] = 2
    # Five requests span at most two one-minute windows, so one window sees a third.
    responses = [client.get("/api/v1/claims", headers=bearer) for _ in range(5)]
    assert responses[0].status_code == 200
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert limited[0].mimetype == "application/problem+json"
    assert 1 <= int(limited[0].headers["Retry-After"]) <= 60


def test_unknown_api_address_is_a_problem(client, bearer):
    response = client.get("/api/v1/nothing", headers=bearer)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert client.delete("/api/v1/claims", headers=bearer).mimetype == "application/problem+json"


def test_openapi_document_validates(client):
    from openapi_spec_validator import validate

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "POST /api/v1/claims" in page.get_data(as_text=True)


@pytest.fixture
def redis_app_config(app_config, redis_url):
    return {**app_config, "REDIS_URL": redis_url, "API_RATE_LIMIT": 2}


@pytest.fixture
def redis_app(redis_app_config):
    from webapp import create_app

    return create_app(redis_app_config)


def test_rate_limit_is_counted_in_redis_when_configured(redis_app, org, key, redis_url):
    from redis import Redis

    client = redis_app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    responses = [client.get("/api/v1/claims", headers=headers) for _ in range(5)]
    assert any(r.status_code == 429 for r in responses)
    counters = Redis.from_url(redis_url).keys(f"ledgerlink:api-rate:{key[:16]}:*")
    assert counters
