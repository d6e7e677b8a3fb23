"""Sessions end (finding 2 of the outside review): on sign-out, everywhere and for copied
cookies too; after 30 idle minutes; after 12 hours at most. The clock is moved, not waited on."""

from __future__ import annotations

import time

import pytest

from webapp.models import AuditEvent


@pytest.fixture
def signed_in(auth, client, make):
    org = make.org("Blindeforbundet", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    assert auth.login("kari@example.org").status_code == 302
    assert client.get("/o/nbf/").status_code == 200
    return "/o/nbf/"


def sent_to_sign_in(response) -> bool:
    return response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(app, auth, client, signed_in):
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value, domain="localhost")
    assert copy.get(signed_in).status_code == 200
    assert auth.logout().status_code == 302
    assert sent_to_sign_in(copy.get(signed_in))
    assert sent_to_sign_in(client.get(signed_in))
    assert AuditEvent.select().where(AuditEvent.action == "user.signed_out").count() == 1


def test_a_session_idle_for_more_than_30_minutes_is_over(client, signed_in):
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 29 * 60
    assert client.get(signed_in).status_code == 200  # and the visit counts as activity
    with client.session_transaction() as session:
        assert time.time() - session["seen_at"] < 60
        session["seen_at"] = time.time() - 31 * 60
    assert sent_to_sign_in(client.get(signed_in))


def test_no_session_outlives_12_hours_however_active(client, signed_in):
    with client.session_transaction() as session:
        session["signed_in_at"] = time.time() - 11.9 * 3600
    assert client.get(signed_in).status_code == 200
    with client.session_transaction() as session:
        session["signed_in_at"] = time.time() - 12.1 * 3600
    assert sent_to_sign_in(client.get(signed_in))


def test_the_limits_come_from_configuration(app, client, signed_in):
    app.config["SESSION_IDLE_MINUTES"] = 5
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 6 * 60
    assert sent_to_sign_in(client.get(signed_in))


def test_a_cookie_from_before_sessions_had_times_is_over(client, signed_in):
    with client.session_transaction() as session:
        del session["signed_in_at"]
    assert sent_to_sign_in(client.get(signed_in))
