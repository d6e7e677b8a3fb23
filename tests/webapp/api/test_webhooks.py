"""Webhooks to a real local receiver: signed, retried until it answers, guarded in production."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from webapp.db import db
from webapp.models import OutboxEvent, WebhookDelivery, WebhookEndpoint
from webapp.services import webhooks


class Receiver:
    """An HTTP server on loopback that fails the first `failures` requests."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                failing = len(receiver.requests) <= receiver.failures
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ledgerlink"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver(failures=2)
    yield server
    server.close()


def test_failing_twice_then_delivered_signed_on_the_third_try(app, org, receiver):
    app.config["WEBHOOK_RETRY_SCHEDULE"] = (0, 0, 0)
    endpoint, secret = webhooks.create_endpoint(org, receiver.url, ["claim.exported"])
    with db.atomic():
        event = webhooks.emit(org.id, "claim.exported", {"claim_id": 7, "ledger_reference": "B-1"})
    tries = 0
    while len(receiver.requests) < 3 and tries < 5:
        webhooks.deliver_due()
        tries += 1
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    payload = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert payload["type"] == "claim.exported"
    assert payload["data"] == {"claim_id": 7, "ledger_reference": "B-1"}
    assert headers["webhook-id"] == event.message_id
    attempts = list(
        WebhookDelivery.select()
        .where(WebhookDelivery.endpoint == endpoint.id)
        .order_by(WebhookDelivery.attempt)
    )
    assert [(a.attempt, a.status, a.status_code) for a in attempts] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "succeeded", 204),
    ]
    # Nothing more is due: each event reaches the receiver until it says yes, then stops.
    assert webhooks.deliver_due() == 0


def test_only_subscribed_endpoints_get_the_event(app, org, receiver):
    webhooks.create_endpoint(org, receiver.url, ["claim.failed"])
    webhooks.emit(org.id, "claim.exported", {"claim_id": 1})
    assert WebhookDelivery.select().count() == 0
    assert OutboxEvent.select().count() == 1


def test_private_addresses_are_refused_in_production(app, org, receiver):
    endpoint, _secret = webhooks.create_endpoint(org, receiver.url, ["claim.exported"])
    app.config["ENV_NAME"] = "production"
    with pytest.raises(webhooks.EndpointProblem):
        webhooks.create_endpoint(org, receiver.url, ["claim.exported"])
    endpoint.url = receiver.url.replace("http://", "https://")
    endpoint.save()
    webhooks.emit(org.id, "claim.exported", {"claim_id": 1})
    webhooks.deliver_due()
    assert receiver.requests == []
    attempt = WebhookDelivery.get(WebhookDelivery.attempt == 1)
    assert attempt.status == "failed" and attempt.status_code is None
    assert "internal or reserved" in attempt.error


def test_an_unknown_event_type_is_a_programming_error(org):
    with pytest.raises(ValueError):
        webhooks.emit(org.id, "claim.eaten", {})


def test_admin_registers_an_endpoint_sees_attempts_and_resends(client, auth, org, receiver):
    auth.login("admin@example.org")
    token = auth.csrf_token("/o/nbf/webhooks/")
    bad = client.post(
        "/o/nbf/webhooks/", data={"url": "ftp://x", "events": ["claim.failed"], "csrf_token": token}
    )
    assert bad.status_code == 200 and 'id="url-error"' in bad.get_data(as_text=True)
    created = client.post(
        "/o/nbf/webhooks/",
        data={"url": receiver.url, "events": ["claim.failed"], "csrf_token": token},
    )
    assert created.status_code == 201
    assert "whsec_" in created.get_data(as_text=True)
    webhooks.emit(org.id, "claim.failed", {"claim_id": 3})
    webhooks.deliver_due()
    page = client.get("/o/nbf/webhooks/").get_data(as_text=True)
    assert "whsec_" not in page
    assert "HTTP 500" in page
    first = WebhookDelivery.get(WebhookDelivery.attempt == 1)
    resent = client.post(f"/o/nbf/webhooks/attempts/{first.id}/resend", data={"csrf_token": token})
    assert resent.status_code == 302
    assert WebhookDelivery.select().where(WebhookDelivery.attempt == 1).count() == 2


def test_export_outcomes_become_events_and_move_updated_at(app, org, xledger, receiver):
    from tests.webapp.api.conftest import claim
    from webapp.models import ExpenseClaim
    from webapp.services import claims
    from webapp.services.claims.schema import ClaimIn

    webhooks.create_endpoint(org, receiver.url, ["claim.exported", "claim.failed"])
    [a, b] = [
        s.claim for s in claims.ingest(org, [ClaimIn.model_validate(claim(x)) for x in ("a", "b")])
    ]
    before = ExpenseClaim.get_by_id(a.id).updated_at
    with db.atomic():
        written = claims.recorded_outcomes(
            org.id,
            xledger.id,
            [(a.id, "exported", "BILAG-1"), (b.id, "failed", "mapping"), (b.id, "pending", None)],
        )
    assert written == 2
    assert ExpenseClaim.get_by_id(a.id).updated_at > before
    events = {e.event_type: e.payload["data"] for e in OutboxEvent.select()}
    assert events["claim.exported"]["ledger_reference"] == "BILAG-1"
    assert events["claim.exported"]["external_id"] == "a"
    assert events["claim.failed"]["error_code"] == "mapping"
    assert WebhookDelivery.select().count() == 2


def test_an_export_tells_the_host_app_what_was_booked(app, make, sandbox, receiver):
    """A real export to the sandbox writes one claim.exported per claim with the item."""
    from tests.webapp.exporting import bulk_claims, connected_xledger, final_run
    from webapp.services import exports

    org = make.org("Webhook-foreningen")
    integration = connected_xledger(org, sandbox.new_xledger_token())
    webhooks.create_endpoint(org, receiver.url, ["claim.exported"])
    claim_ids = bulk_claims(org, 3)
    run = final_run(exports.start_manual(integration).run.id)
    assert run.exported_count == 3
    rows = list(OutboxEvent.select().order_by(OutboxEvent.id))
    events = [e.payload["data"] for e in rows]
    assert sorted(e["claim_id"] for e in events) == sorted(claim_ids)
    assert all(e["integration_id"] == integration.id and e["ledger_reference"] for e in events)
    # Every event has its attempts at the endpoint (the run kicked the delivery job).
    assert {d.event_id for d in WebhookDelivery.select()} == {e.id for e in rows}
    from tests.webapp.exporting import wait_for

    wait_for(
        lambda: (
            not WebhookDelivery.select()
            .where(
                (WebhookDelivery.attempt == 1) & WebhookDelivery.status.in_(("pending", "sending"))
            )
            .exists()
        ),
        timeout=30,
    )


def test_an_integration_that_needs_a_coordinator_and_recovers_is_announced(app, make, receiver):
    from adapters.errors import AuthError
    from adapters.types import Text
    from webapp.services import integrations

    org = make.org("Varsel-foreningen")
    integration = make.integration(org, status="connected")
    webhooks.create_endpoint(
        org, receiver.url, ["integration.needs_attention", "integration.recovered"]
    )
    rejected = AuthError(Text("Nøkkelen ble avvist.", "The token was rejected."), field="api_token")
    integration = integrations.mark_needs_reauth(integration, rejected)
    integrations.change(
        integration, {"status": "connected"}, actor=None, action="integration.saved"
    )
    kinds = [e.event_type for e in OutboxEvent.select().order_by(OutboxEvent.id)]
    assert kinds == ["integration.needs_attention", "integration.recovered"]
    data = OutboxEvent.select().first().payload["data"]
    assert data == {
        "integration_id": integration.id,
        "name": integration.name,
        "type": "xledger",
        "status": "needs_reauth",
    }
    assert "avvist" not in str(data) and "rejected" not in str(data)
    # The change kicked the delivery job (in-process here): let its first attempts finish.
    from tests.webapp.exporting import wait_for

    wait_for(
        lambda: (
            not WebhookDelivery.select()
            .where(
                (WebhookDelivery.attempt == 1) & WebhookDelivery.status.in_(("pending", "sending"))
            )
            .exists()
        ),
        timeout=30,
    )


def test_vault_rotation_covers_webhook_signing_secrets(app, org, receiver):
    """A key still sealing a webhook secret cannot be retired; rewrap moves the secret to the
    new key and signing goes on with the same secret."""
    from webapp.services.webhooks.endpoints import secret_of
    from webapp.vault import KeyringError, get_vault

    endpoint, secret = webhooks.create_endpoint(org, receiver.url, ["claim.exported"])
    vault = get_vault()
    old = vault.active_key_id
    vault.rotate()
    assert vault.token_counts().get(old) == 1
    with pytest.raises(KeyringError, match="still used by 1 token"):
        vault.retire(old)
    result = vault.rewrap()
    assert result.rewrapped == 1 and result.failed == 0
    vault.retire(old)
    assert secret_of(WebhookEndpoint.get_by_id(endpoint.id)) == secret
