"""API keys in the browser: created and shown once, listed without the secret, revoked."""

from __future__ import annotations

import re

from webapp.models import ApiKey, AuditEvent


def test_admin_creates_sees_once_and_revokes(client, auth, org, xledger):
    auth.login("admin@example.org")
    token = auth.csrf_token("/o/nbf/api-keys/")
    created = client.post(
        "/o/nbf/api-keys/",
        data={
            "name": "Utleggsappen",
            "scopes": ["claims:write", "claims:read"],
            "csrf_token": token,
        },
    )
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    secret = re.search(r'value="(ll_live_[^"]+)"', page).group(1)
    assert created.headers["Cache-Control"] == "no-store"

    listing = client.get("/o/nbf/api-keys/").get_data(as_text=True)
    key = ApiKey.get()
    assert key.prefix in listing and "Utleggsappen" in listing
    assert secret not in listing
    assert secret not in key.key_hash and key.prefix == secret[: len(key.prefix)]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/claims", headers=headers).status_code == 200

    revoked = client.post(f"/o/nbf/api-keys/{key.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    assert client.get("/api/v1/claims", headers=headers).status_code == 401
    audited = AuditEvent.select().where(AuditEvent.action.startswith("api_key."))
    assert [e.action for e in audited.order_by(AuditEvent.id)] == [
        "api_key.created",
        "api_key.revoked",
        "api_key.used_after_revoke",
    ]


def test_a_key_needs_a_name_and_a_permission(client, auth, org):
    auth.login("admin@example.org")
    token = auth.csrf_token("/o/nbf/api-keys/")
    page = client.post("/o/nbf/api-keys/", data={"name": " ", "csrf_token": token})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'aria-invalid="true"' in text and 'id="scopes-error"' in text
    assert ApiKey.select().count() == 0


def test_coordinators_and_forged_posts_are_refused(client, auth, org):
    auth.login("kari@example.org")
    assert client.get("/o/nbf/api-keys/").status_code == 403
    auth.logout()
    auth.login("admin@example.org")
    forged = client.post("/o/nbf/api-keys/", data={"name": "x", "scopes": ["claims:read"]})
    assert forged.status_code == 400
    assert ApiKey.select().count() == 0
