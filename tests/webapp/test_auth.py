"""Sign-in through the real OIDC mock provider: PKCE, state, nonce, memberships."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

from tests.conftest import _local_path as _local
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


def test_an_unverified_email_neither_takes_an_invitation_nor_becomes_admin(
    auth, client, make, oidc_provider
):
    """Finding 1: the provider says the address is not verified; nothing is linked."""
    org = make.org()
    make.member(org, "kari@example.org", "coordinator_admin")
    for sub, email in (("intruder-1", "kari@example.org"), ("intruder-2", "admin@example.org")):
        stored = requests.put(
            f"{oidc_provider}/users/{sub}",
            json={"email": email, "email_verified": False},
            timeout=10,
        )
        assert stored.status_code == 204
        response = client.get(_local(auth.authorize(auth.start(), sub)) + "&lang=en")
        assert response.status_code == 403
        assert "e-mail address is not verified" in response.get_data(as_text=True)
    assert User.select().count() == 0
    assert Membership.get(Membership.email == "kari@example.org").user_id is None
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_a_verified_email_still_signs_in(auth, client, make, oidc_provider):
    org = make.org()
    make.member(org, "kari@example.org")
    requests.put(
        f"{oidc_provider}/users/kari-sub",
        json={"email": "kari@example.org", "email_verified": True},
        timeout=10,
    )
    response = client.get(_local(auth.authorize(auth.start(), "kari-sub")))
    assert response.status_code == 302
    assert Membership.get(Membership.email == "kari@example.org").user_id is not None


def test_an_id_token_with_invalid_claims_gives_the_sign_in_page_not_a_500(
    auth, client, app, monkeypatch
):
    """Finding 3: joserfc's InvalidClaimError (wrong audience, expired) is a sign-in failure.

    The mock provider always issues valid tokens, so the library's own error is raised where
    Authlib checks the ID token's claims."""
    from authlib.integrations.flask_client import FlaskOAuth2App
    from joserfc.errors import ExpiredTokenError, InvalidClaimError

    callback = auth.authorize(auth.start(), "kari@example.org")
    for error in (InvalidClaimError("aud"), ExpiredTokenError("exp")):

        def refuse(self, *args, error=error, **kwargs):
            raise error

        monkeypatch.setattr(FlaskOAuth2App, "parse_id_token", refuse)
        response = client.get(_local(callback) + "&lang=en")
        assert response.status_code == 400
        assert "The sign-in could not be verified" in response.get_data(as_text=True)
        callback = auth.authorize(auth.start(), "kari@example.org")


def test_many_unfinished_sign_ins_keep_the_cookie_small_and_the_last_one_works(auth, client, make):
    """Finding 8: every start used to add its state to the cookie until browsers dropped it."""
    org = make.org()
    make.member(org, "kari@example.org")
    for _attempt in range(50):
        authorize_url = auth.start()
    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 2000
    response = client.get(_local(auth.authorize(authorize_url, "kari@example.org")))
    assert response.status_code == 302 and "/auth/" not in response.headers["Location"]
