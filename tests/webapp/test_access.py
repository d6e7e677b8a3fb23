"""Organisation scoping, roles and CSRF on every state change."""

from __future__ import annotations

import re

import pytest

from webapp.models import Membership, Organization


@pytest.fixture
def two_orgs(make):
    a = make.org("Forening A", slug="forening-a")
    b = make.org("Forening B", slug="forening-b")
    make.member(a, "kari@example.org", "coordinator")
    make.member(b, "ola@example.org", "coordinator_admin")
    return a, b


def test_coordinator_of_a_gets_404_for_b(auth, client, two_orgs):
    a, b = two_orgs
    auth.login("kari@example.org")
    assert client.get("/o/forening-a/").status_code == 200
    assert client.get("/o/forening-b/").status_code == 404
    assert client.get("/o/does-not-exist/").status_code == 404


def test_coordinator_cannot_reach_platform_admin(auth, client, two_orgs):
    auth.login("kari@example.org")
    assert client.get("/admin/organizations").status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, two_orgs):
    response = client.get("/o/forening-a/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_member_of_two_orgs_can_switch(auth, client, two_orgs, make):
    a, b = two_orgs
    make.member(b, "kari@example.org", "coordinator")
    auth.login("kari@example.org")
    page = client.get("/o/forening-a/").get_data(as_text=True)
    assert "/o/forening-b/" in page
    assert client.get("/o/forening-b/").status_code == 200
    # The last organisation visited is where "/" goes next time.
    assert client.get("/").headers["Location"].endswith("/o/forening-b/")


def _concrete(rule, org_slug: str) -> str:
    values = {}
    for arg in rule.arguments:
        values[arg] = org_slug if arg == "org_slug" else "1"
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, path)
    return path


def test_every_state_changing_route_refuses_a_request_without_csrf_token(app, auth, client, make):
    org = make.org(slug="csrf-org")
    make.member(org, "admin@example.org", "coordinator_admin")
    auth.login("admin@example.org")
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            response = client.open(_concrete(rule, org.slug), method=method, data={})
            if rule.endpoint.startswith("api."):
                # The host-app API takes no cookies, so no CSRF: a signed-in browser session
                # without an API key is refused outright (DESIGN §11).
                assert response.status_code == 401, (rule.rule, method, response.status_code)
                continue
            if rule.endpoint == "account.unsubscribe":
                # One click from a mail client carries no CSRF token (RFC 8058): the signed
                # link is the key, and a link Ledgerlink did not sign finds nothing.
                assert response.status_code == 404, (rule.rule, method, response.status_code)
                continue
            assert response.status_code == 400, (rule.rule, method, response.status_code)
            assert (
                "form" in response.get_data(as_text=True).lower()
                or "skjema" in response.get_data(as_text=True).lower()
            )
            checked += 1
    assert checked >= 5


def test_platform_admin_creates_org_invites_changes_role_and_removes(auth, client):
    auth.login("admin@example.org")
    token = auth.csrf_token("/admin/organizations")
    bad = client.post("/admin/organizations", data={"csrf_token": token, "name": ""})
    assert bad.status_code == 200
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    created = client.post(
        "/admin/organizations",
        data={
            "csrf_token": token,
            "name": "Hørselshemmedes Landsforbund",
            "time_zone": "Europe/Oslo",
            "default_locale": "nb",
        },
    )
    assert created.status_code == 302
    org = Organization.get(Organization.name == "Hørselshemmedes Landsforbund")
    assert org.slug == "horselshemmedes-landsforbund"
    path = f"/admin/organizations/{org.id}"
    wrong = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "invite",
            "email": "not-an-email",
            "role": "coordinator",
        },
    )
    assert 'id="error-email"' in wrong.get_data(as_text=True)
    assert Membership.select().count() == 0
    client.post(
        path,
        data={
            "csrf_token": token,
            "action": "invite",
            "email": "Per@Example.org",
            "role": "coordinator",
        },
    )
    membership = Membership.get(Membership.email == "per@example.org")
    client.post(
        f"{path}/members/{membership.id}/role",
        data={"csrf_token": token, "role": "coordinator_admin"},
    )
    assert Membership.get_by_id(membership.id).role == "coordinator_admin"
    client.post(f"{path}/members/{membership.id}/remove", data={"csrf_token": token})
    assert Membership.get_or_none(Membership.id == membership.id) is None
