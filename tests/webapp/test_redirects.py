"""Where links and redirects may lead: only this site; deep links survive sign-in; HSTS."""

from __future__ import annotations

import re

import pytest

from tests.conftest import _local_path
from webapp.urls import local_path, safe_next


@pytest.mark.parametrize(
    "target",
    [
        "/o/demo/integrations/3/credentials",
        "/o/demo/?lang=en",
        "/auth/signed-out",
    ],
)
def test_paths_on_this_site_are_kept(target):
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\tevil",
        "/\x00/evil.example",
        "evil.example",
        "javascript:alert(1)",
    ],
)
def test_anything_that_could_leave_the_site_is_refused(target):
    assert safe_next(target) is None
    assert local_path(target or "") == "/"


def test_the_language_switch_on_a_404_never_links_off_site(client):
    response = client.get("/%5Cevil.example")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    links = re.findall(r'href="([^"]*lang=[^"]*)"', page)
    assert links, "the 404 page has a language switch"
    for link in links:
        assert link.startswith("/?") or safe_next(link.replace("&amp;", "&")) == link.replace(
            "&amp;", "&"
        ), link
        assert not link.startswith(("//", "/\\", "/%5C"))


def test_a_deep_link_is_where_sign_in_ends(auth, client, make):
    org = make.org("Blindeforbundet Øst")
    make.member(org, "kari@example.org", "coordinator_admin")
    deep = f"/o/{org.slug}/claims/?status=failed"
    first = client.get(deep)
    assert first.status_code == 302 and "/auth/login" in first.headers["Location"]
    login = client.get(_local_path(first.headers["Location"]))
    assert login.status_code == 200  # the sign-in page, with the deep link kept
    start = client.get("/auth/login?start=1")
    callback = auth.authorize(start.headers["Location"], "kari@example.org")
    done = client.get(_local_path(callback))
    assert done.status_code == 302
    assert done.headers["Location"].endswith(deep)


def test_hsts_is_sent_where_the_configuration_asks(app, client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    app.config["HSTS"] = "max-age=31536000; includeSubDomains"
    headers = client.get("/healthz").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
