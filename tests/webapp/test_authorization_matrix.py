"""Every route × every kind of visitor, generated from `app.url_map` (the outside review's
authorisation probes, kept as a permanent suite).

Each endpoint has one row in ACCESS; a route added without a row fails the suite until
someone decides who may use it. State-changing routes are probed only by those who must be
refused (with a valid CSRF token, so the refusal is the authorisation's, not CSRF's), so the
matrix never changes the data it probes.
"""

from __future__ import annotations

import re

import pytest
from flask import g

from tests.webapp.exporting import connected_xledger
from webapp.models import (
    ApiKey,
    ConnectionTest,
    Membership,
    OutboxEvent,
    RoutingRule,
    SyncRun,
    WebhookDelivery,
    WebhookEndpoint,
)

# Who may use an endpoint.
PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # anyone signed in
MEMBER = "member"  # members of the organisation (read-only coordinators too)
ORG_ADMIN = "org admin"  # the organisation's coordinator-admins
PLATFORM = "platform admin"  # platform admins (ADMIN_EMAILS)
API = "api"  # an API key, never a browser session

ACCESS = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "pwa.manifest": PUBLIC,
    "pwa.offline": PUBLIC,
    "pwa.service_worker": PUBLIC,
    "auth.login": PUBLIC,
    "auth.callback": PUBLIC,
    "auth.signed_out": PUBLIC,
    "api.openapi_json": PUBLIC,
    "api.reference": PUBLIC,
    "home.index": SIGNED_IN,
    "auth.no_access": PUBLIC,  # a page of text: whom to ask for access
    "auth.logout": SIGNED_IN,
    "account.notifications": SIGNED_IN,  # one's own e-mail settings
    # The link in every e-mail: no sign-in, the signed token names the person (RFC 8058).
    "account.unsubscribe": PUBLIC,
    "connection.history": MEMBER,
    "api.create_claims": API,
    "api.list_claims": API,
    "api.show_claim": API,
    "admin.organizations": PLATFORM,
    "admin.organization": PLATFORM,
    "admin.member_role": PLATFORM,
    "admin.member_remove": PLATFORM,
    "dashboard.home": MEMBER,
    "dashboard.summary": MEMBER,
    "dashboard.integration": MEMBER,
    "runs.index": MEMBER,
    "runs.show": MEMBER,
    "claims.index": MEMBER,
    "mappings.index": MEMBER,
    "mappings.row": MEMBER,
    "mappings.preview": MEMBER,
    "mappings.payload": MEMBER,
    "mappings.reference": MEMBER,
    "schedules.edit": MEMBER,
    "schedules.preview": MEMBER,
    "settings.show": MEMBER,  # read-only coordinators see the name and who can change it
    "settings.rename": ORG_ADMIN,
    "settings.archive": ORG_ADMIN,
    "settings.restore": ORG_ADMIN,
    "settings.delete": ORG_ADMIN,
    "credentials.edit": ORG_ADMIN,  # credential pages are for those who may change them
    "credentials.test_status": ORG_ADMIN,
    "dashboard.pause": ORG_ADMIN,
    "dashboard.resume": ORG_ADMIN,
    "runs.create": ORG_ADMIN,
    "runs.send_again": ORG_ADMIN,
    "mappings.edit": ORG_ADMIN,
    "mappings.save": ORG_ADMIN,
    "mappings.install": ORG_ADMIN,
    "mappings.refresh": ORG_ADMIN,
    "credentials.save": ORG_ADMIN,
    "credentials.retest": ORG_ADMIN,
    "credentials.discard": ORG_ADMIN,
    "api_keys.index": ORG_ADMIN,
    "api_keys.create": ORG_ADMIN,
    "api_keys.revoke": ORG_ADMIN,
    "routing.rules": ORG_ADMIN,
    "routing.add_rule": ORG_ADMIN,
    "routing.remove_rule": ORG_ADMIN,
    "routing.set_default": ORG_ADMIN,
    "routing.move_claim": ORG_ADMIN,
    "claims_import.start": ORG_ADMIN,
    "claims_import.template": ORG_ADMIN,
    "claims_import.preview": ORG_ADMIN,
    "claims_import.confirm": ORG_ADMIN,
    "webhooks.index": ORG_ADMIN,
    "webhooks.create": ORG_ADMIN,
    "webhooks.resend": ORG_ADMIN,
    "wizard.start": ORG_ADMIN,
    "wizard.type": ORG_ADMIN,
    "wizard.credentials": ORG_ADMIN,
    "wizard.mapping": ORG_ADMIN,
    "wizard.schedule": ORG_ADMIN,
    "wizard.test": ORG_ADMIN,
    "wizard.run_test": ORG_ADMIN,
    "wizard.test_status": ORG_ADMIN,
    "wizard.save": ORG_ADMIN,
    "wizard.discard": ORG_ADMIN,
}

VISITORS = ("anonymous", "other organisation", "coordinator", "coordinator-admin", "platform")
EMAILS = {
    "other organisation": "ola@annen.example.org",
    "coordinator": "frivillig@example.org",
    "coordinator-admin": "kari@example.org",
    "platform": "admin@example.org",
}
ALLOWED = "allowed"


# Answers other than the access class implies, with the reason.
SPECIAL = {
    # Without a sign-in under way the callback explains that the link has expired.
    "auth.callback": "status 400",
    # A token Ledgerlink did not sign answers like a page that does not exist.
    "account.unsubscribe": "hidden",
}


def expected(access: str, visitor: str, method: str, endpoint: str = "") -> str:
    """What a visitor gets: allowed, login, hidden (404), forbidden (403) or unauthorised."""
    if endpoint in SPECIAL:
        return SPECIAL[endpoint]
    if access == PUBLIC:
        return ALLOWED
    if access == API:
        return "unauthorised"
    if visitor == "anonymous":
        return "login"
    if access == SIGNED_IN:
        return ALLOWED
    if access == PLATFORM:
        return ALLOWED if visitor == "platform" else "hidden"
    if visitor in ("other organisation", "platform"):
        return "hidden"  # another organisation's pages answer like pages that do not exist
    if visitor == "coordinator-admin":
        return ALLOWED
    if access == MEMBER and method == "GET":
        return ALLOWED
    return "forbidden"


def outcome(response) -> str:
    status, location = response.status_code, response.headers.get("Location", "")
    if status in (301, 302, 303) and "/auth/login" in location:
        return "login"
    return {401: "unauthorised", 403: "forbidden", 404: "hidden"}.get(
        status, ALLOWED if status < 400 or status == 409 else f"status {status}"
    )


@pytest.fixture
def world(app, make):
    """Organisation A with one of everything, and organisation B for the outsider."""
    a = make.org("Organisasjon A", slug="org-a")
    b = make.org("Organisasjon B", slug="org-b")
    make.member(a, EMAILS["coordinator"], "coordinator")
    make.member(a, EMAILS["coordinator-admin"], "coordinator_admin")
    make.member(b, EMAILS["other organisation"], "coordinator_admin")
    integration = connected_xledger(a)
    draft = make.integration(a, status="draft", name="Utkast")
    claim = make.claim(a)
    endpoint = WebhookEndpoint.create(
        organization=a, url="https://hooks.example.org/x", secret_token="x"
    )
    event = OutboxEvent.create(organization=a, message_id="msg_matrix", event_type="claim.exported")
    ids = {
        "org_slug": a.slug,
        "org_id": str(a.id),
        "integration_id": str(integration.id),
        "run_id": str(SyncRun.create(integration=integration, trigger="manual").id),
        "test_id": str(
            ConnectionTest.create(
                integration=integration, credential_version=1, status="passed", fingerprint="f"
            ).id
        ),
        "claim_id": str(claim.id),
        "membership_id": str(Membership.get(Membership.email == EMAILS["coordinator"]).id),
        "rule_id": str(
            RoutingRule.create(organization=a, integration=integration, department="1").id
        ),
        "key_id": str(
            ApiKey.create(organization=a, name="k", prefix="ll_live_matrix", key_hash="0" * 64).id
        ),
        "delivery_id": str(WebhookDelivery.create(event=event, endpoint=endpoint, attempt=1).id),
        "target": "account",
        "token": "not-a-signed-token",
        "filename": "css/app.css",
    }
    return ids, {"draft": str(draft.id)}


def concrete(rule, ids: dict, drafts: dict) -> str:
    values = dict(ids)
    if rule.endpoint.startswith("wizard."):
        values["integration_id"] = drafts["draft"]
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", values[name], path)
    return path


def test_every_route_has_a_row_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(ACCESS) == set(), "new routes need an access row"
    assert set(ACCESS) - endpoints == set(), "rows of routes that no longer exist"


def test_every_route_answers_every_visitor_as_the_matrix_says(app, auth, client, world):
    ids, drafts = world
    surprises, probes = [], 0
    for visitor in VISITORS:
        with client.session_transaction() as session:
            session.clear()
        # The test's app context outlives requests, and Flask-WTF caches the token on `g`.
        g.pop("csrf_token", None)
        if visitor != "anonymous":
            auth.login(EMAILS[visitor])
        token = auth.csrf_token("/auth/signed-out")
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            access = ACCESS[rule.endpoint]
            path = concrete(rule, ids, drafts)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                want = expected(access, visitor, method, rule.endpoint)
                if method != "GET" and (want == ALLOWED or rule.endpoint == "auth.logout"):
                    continue  # allowed changes are the feature tests' business, not the probe's
                data = {"csrf_token": token} if method != "GET" else None
                got = outcome(client.open(path, method=method, data=data))
                probes += 1
                if got != want:
                    surprises.append(f"{visitor:18} {method:4} {rule.rule}: {got}, expected {want}")
    assert surprises == [], "\n".join(surprises)
    print(
        f"authorisation matrix: {probes} probes, {len(ACCESS)} endpoints × {len(VISITORS)} visitors"
    )
    assert probes > 300
