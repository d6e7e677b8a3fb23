"""What people type: control characters and oversized fields get a clear answer, never a 500
(finding 4 and 12 of the outside review), on PostgreSQL where a NUL byte once crashed."""

from __future__ import annotations

import pytest

from webapp.models import Membership, Organization

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(auth, client):
    auth.login("admin@example.org")
    return auth.csrf_token("/admin/organizations")


@pytest.mark.parametrize("value", ["Foren\x00ing", "Bell\x07", "Escape\x1b[0m", "C1\x85"])
def test_a_control_character_in_an_organisation_name_names_the_field(client, admin, value):
    response = client.post(
        "/admin/organizations?lang=en",
        data={"csrf_token": admin, "name": value, "time_zone": "Europe/Oslo"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The field “name” contains an invisible control character" in page
    assert Organization.select().count() == 0


def test_over_htmx_the_message_goes_to_the_live_region(client, admin, make):
    org = make.org()
    response = client.post(
        f"/admin/organizations/{org.id}?lang=en",
        data={"csrf_token": admin, "action": "invite", "email": "kari\x00@example.org"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#flash"
    assert 'role="alert"' in response.get_data(as_text=True)
    assert "“email”" in response.get_data(as_text=True)
    assert Membership.select().count() == 0


def test_tabs_and_line_breaks_are_not_control_characters_here(client, admin, make):
    org = make.org()
    response = client.post(
        f"/admin/organizations/{org.id}",
        data={
            "csrf_token": admin,
            "action": "update",
            "name": "Blindeforbundet\t Øst\r\n",
            "time_zone": "Europe/Oslo",
        },
    )
    assert "control character" not in response.get_data(as_text=True)
    assert Organization.get_by_id(org.id).name.startswith("Blindeforbundet")


def test_a_5_mb_field_says_how_much_is_allowed(client, admin):
    huge = "x" * (5 * 1024 * 1024)
    plain = client.post("/admin/organizations?lang=en", data={"csrf_token": admin, "name": huge})
    assert plain.status_code == 413
    assert "larger than 2 MB" in plain.get_data(as_text=True)
    over_htmx = client.post(
        "/admin/organizations?lang=en", data={"csrf_token": admin, "name": huge}, headers=HTMX
    )
    assert over_htmx.status_code == 200 and over_htmx.headers["HX-Retarget"] == "#flash"
    assert "larger than 2 MB" in over_htmx.get_data(as_text=True)
