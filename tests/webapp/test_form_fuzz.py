"""Hostile input over every browser form (the outside review's input probes, kept as a suite).

For each state-changing route of `app.url_map`, a coordinator-admin sends what people and
programs really paste: NUL and other control characters, emoji, right-to-left text, very long
values, numbers where text belongs, empty values. The fields are the form's own (read from its
page) plus a stray one. No answer may be a server error; a value refused for its characters is
named by its field. The API has its own property-based suite (test_openapi_fuzz.py).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webapp.exporting import connected_xledger, final_run
from tests.webapp.wizard_helpers import wait_for_test
from webapp.models import ConnectionTest, ExpenseClaim, SyncRun

NASTY = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "Foren\x00ing",
            "\x1b[31mrød\x1b[0m",
            "\u202eevil\u202c",
            "مرحبا بالعالم",
            "🙂🔑💸",
            "-1",
            "1e309",
            "NaN",
            "12,50",
            "2026-02-30",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "x" * 5000,
        ]
    ),
)

# Routes whose POST ends the signed-in session or sends it elsewhere; probed by other suites.
SKIP = {"auth.logout"}


@pytest.fixture
def admin_world(app, auth, client, make):
    org = make.org("Fuzz-foreningen", slug="fuzz")
    # A platform admin who is also the organisation's coordinator-admin reaches every form.
    make.member(org, "admin@example.org", "coordinator_admin")
    integration = connected_xledger(org)
    draft = make.integration(org, status="draft", name="Utkast")
    claim = make.claim(org)
    run = SyncRun.create(integration=integration, trigger="manual")
    test = ConnectionTest.create(
        integration=integration, credential_version=1, status="passed", fingerprint="f"
    )
    auth.login("admin@example.org")
    from webapp.models import User
    from webapp.services.health import mail

    with app.test_request_context():
        unsubscribe = mail.unsubscribe_token(User.get(User.email == "admin@example.org"))
    ids = {
        "token": unsubscribe,
        "org_slug": org.slug,
        "integration_id": str(integration.id),
        "run_id": str(run.id),
        "test_id": str(test.id),
        "claim_id": str(claim.id),
        "target": "account",
        "org_id": str(org.id),
        "membership_id": str(make.member(org, "ola@example.org").id),
        "rule_id": "0",
        "key_id": "0",
        "delivery_id": "0",
    }
    return ids, str(draft.id), auth.csrf_token(f"/o/{org.slug}/")


def form_routes(app, ids: dict, draft: str) -> list[tuple[str, str, list[str]]]:
    """(endpoint, path, field names) of every browser route that takes a POST."""
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" not in (rule.methods or ()) or rule.endpoint.startswith("api."):
            continue
        if rule.endpoint in SKIP:
            continue
        values = {**ids, "integration_id": draft} if rule.endpoint.startswith("wizard.") else ids
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", values[name], path)
        routes.append((rule.endpoint, path, []))
    return routes


def field_names(client, path: str) -> list[str]:
    """The names of the inputs on the route's own page (when it has one)."""
    return sorted(page_form(client, path))


def page_form(client, path: str) -> dict[str, str]:
    """The route's own form as its page fills it in: input name → value ("" if none)."""
    page = client.get(path)
    if page.status_code != 200:
        return {}
    form: dict[str, str] = {}
    html = page.get_data(as_text=True)
    for tag in re.findall(r"<(?:input|textarea|select)\b[^>]*>", html):
        name = re.search(r'name="([A-Za-z_][\w.\-]*)"', tag)
        if not name or name.group(1) in ("csrf_token", "csrf-token", "viewport"):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="radio"' in tag or 'type="checkbox"' in tag:
            if "checked" not in tag and name.group(1) in form:
                continue
        form.setdefault(name.group(1), value.group(1) if value else "")
    return form


def test_no_form_answers_hostile_input_with_a_server_error(app, client, admin_world):
    ids, draft, token = admin_world
    routes = [
        (endpoint, path, field_names(client, path) + ["name", "value", "stray_field"])
        for endpoint, path, _fields in form_routes(app, ids, draft)
    ]
    assert len(routes) > 30
    failures: list[str] = []
    sent = 0

    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def probe(data):
        nonlocal sent
        for endpoint, path, fields in routes:
            chosen = data.draw(st.lists(st.sampled_from(fields), max_size=4, unique=True))
            form = {name: data.draw(NASTY) for name in chosen}
            response = client.post(path, data={"csrf_token": token, **form})
            sent += 1
            body = response.get_data(as_text=True)
            if response.status_code >= 500:
                failures.append(f"{endpoint} {response.status_code} with {sorted(form)}")
            elif "control character" in body and not any(f"“{n}”" in body for n in form):
                failures.append(f"{endpoint}: refused characters without naming the field")

    # First every field of every form, one at a time, with a NUL byte and an escape character
    # in an otherwise ordinary submission: where such a value once reached PostgreSQL it was
    # a 500; now it is refused naming the field.
    for endpoint, path, _fields in routes:
        filled = page_form(client, path)
        for name in sorted(filled):
            for poison in ("A\x00B", "A\x1bB"):
                form = {**filled, name: poison}
                response = client.post(path, data={"csrf_token": token, **form})
                sent += 1
                body = response.get_data(as_text=True)
                if response.status_code >= 500:
                    failures.append(f"{endpoint} {response.status_code} with {name}={poison!r}")
                elif "control character" in body and f"“{name}”" not in body:
                    failures.append(f"{endpoint}: refused {name} without naming it")
    probe()
    print(f"form fuzz: {sent} hostile posts over {len(routes)} forms")
    assert failures == [], "\n".join(failures[:20])
    assert ExpenseClaim.select().count() >= 1  # the world is still there to probe
    # Jobs the posts started (tests, exports) run in-process: let them end before teardown.
    for test in ConnectionTest.select().where(ConnectionTest.status.in_(("queued", "running"))):
        wait_for_test(test.id)
    for run in SyncRun.select().where(SyncRun.status.in_(("queued", "running"))):
        final_run(run.id, timeout=60)
