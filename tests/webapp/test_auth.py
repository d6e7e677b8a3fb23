"""Sign-in through the real OIDC mock provider: PKCE, state, nonce, memberships."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from webapp.models import AuditEvent, Membership, User


def test_authorization_request_uses_pkce_state_and_nonce(auth):
    query = parse_qs(urlparse(auth.start()).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["response_type"] == ["code"]


def test_invited_member_signs_in_and_sees_the_dashboard(auth, client, make):
    org = make.org("Blindeforbundet Øst")
    make.member(org, "kari@example.org", "coordinator_admin")
    response = auth.login("kari@example.org")
    assert response.status_code == 302
    dashboard = client.get(response.headers["Location"], follow_redirects=True)
    assert dashboard.status_code == 200
    page = dashboard.get_data(as_text=True)
    assert "Blindeforbundet Øst" in page
    user = User.get(User.email == "kari@example.org")
    assert Membership.get(Membership.email == "kari@example.org").user_id == user.id
    assert AuditEvent.select().where(AuditEvent.action == "membership.linked").count() == 1


def test_person_without_membership_is_told_to_ask_their_administrator(auth, client):
    response = auth.login("stranger@example.org")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Du har ikke tilgang ennå" in page or "You have no access yet" in page
    assert "administrator" in page


def test_wrong_state_is_refused_with_a_page_and_no_user(auth, client):
    callback = auth.authorize(auth.start(), "kari@example.org")
    tampered = callback.replace("state=", "state=x")
    response = client.get(tampered.split("localhost", 1)[1])
    assert response.status_code == 400
    assert "Start again" in response.get_data(as_text=True) or "Start på nytt" in response.get_data(
        as_text=True
    )
    assert User.select().count() == 0


def test_denied_consent_offers_to_try_again(auth, client):
    callback = auth.authorize(auth.start(), "", action="deny")
    response = client.get(callback.split("localhost", 1)[1])
    assert response.status_code == 400
    assert "/auth/login" in response.get_data(as_text=True)
    assert User.select().count() == 0


def test_platform_admin_comes_from_admin_emails(auth, client):
    response = auth.login("admin@example.org")
    assert User.get(User.email == "admin@example.org").is_platform_admin
    assert (
        client.get(response.headers["Location"])
        .headers["Location"]
        .endswith("/admin/organizations")
    )


def test_logout_needs_csrf_and_ends_the_session(auth, client, make):
    org = make.org()
    make.member(org, "kari@example.org")
    auth.login("kari@example.org")
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 302 and "/o/" in client.get("/").headers["Location"]
    token = auth.csrf_token(f"/o/{org.slug}/")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert "/auth/login" in client.get("/").headers["Location"]


def test_provider_down_gives_a_clear_page(app_config, client):
    from webapp import create_app

    app = create_app({**app_config, "OIDC_ISSUER": "http://127.0.0.1:9"})
    response = app.test_client().get("/auth/login?start=1")
    assert response.status_code == 503
    assert (
        "try again" in response.get_data(as_text=True).lower()
        or "prøv igjen" in response.get_data(as_text=True).lower()
    )
