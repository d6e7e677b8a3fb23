"""The setup wizard through the Flask test client: steps, validation, vault, save, htmx."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from sandbox import demo
from tests.webapp.wizard_helpers import (
    DATAVERSE,
    HTMX,
    XLEDGER,
    csrf,
    input_names,
    latest_test,
    wait_for_test,
)
from webapp.db import utcnow
from webapp.models import (
    AuditEvent,
    ConnectionTest,
    FieldMapping,
    Integration,
    IntegrationCredential,
    SyncSchedule,
)
from webapp.services import integrations

BASE = "/o/nbf/integrations"


@pytest.fixture
def org(auth, make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    return org


@pytest.fixture
def token(client, org):
    return csrf(client, f"{BASE}/new")


def start(client, token, type_key="xledger") -> Integration:
    response = client.post(f"{BASE}/new", data={"csrf_token": token, "type_key": type_key})
    assert response.status_code == 303
    integration = Integration.select().order_by(Integration.id.desc()).get()
    assert response.headers["Location"].endswith(
        f"/integrations/{integration.id}/setup/credentials"
    )
    return integration


def step_url(integration: Integration, step: str) -> str:
    return f"{BASE}/{integration.id}/setup/{step}"


def through_credentials(client, token, type_key="xledger", values=None) -> Integration:
    integration = start(client, token, type_key)
    values = values or (XLEDGER if type_key == "xledger" else DATAVERSE)
    response = client.post(
        step_url(integration, "credentials"), data={"csrf_token": token, **values}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return Integration.get_by_id(integration.id)


def through_schedule(client, token, type_key="xledger", values=None) -> Integration:
    integration = through_credentials(client, token, type_key, values)
    assert (
        client.post(step_url(integration, "mapping"), data={"csrf_token": token}).status_code == 303
    )
    assert (
        client.post(step_url(integration, "schedule"), data={"csrf_token": token}).status_code
        == 303
    )
    return Integration.get_by_id(integration.id)


def run_test(client, token, integration: Integration) -> ConnectionTest:
    response = client.post(step_url(integration, "test"), data={"csrf_token": token})
    assert response.status_code == 303
    return wait_for_test(latest_test(integration).id)


# --- type step ---------------------------------------------------------------------------------


def test_type_step_offers_the_three_systems_and_requires_a_choice(client, org, token):
    page = client.get(f"{BASE}/new?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for key in ("xledger", "dynamics_dataverse", "dynamics_bc"):
        assert f'value="{key}"' in html
    assert "Set up integration: step 1 of 6" in html
    refused = client.post(f"{BASE}/new?lang=en", data={"csrf_token": token})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert 'class="error-summary"' in body and 'href="#field-type_key"' in body
    assert "Choose the accounting system your organisation uses." in body
    assert Integration.select().count() == 0


@pytest.mark.parametrize(
    ("type_key", "fields"),
    [
        ("xledger", ["api_token", "environment", "entity_code"]),
        (
            "dynamics_dataverse",
            ["tenant_id", "client_id", "client_secret", "environment_url", "table"],
        ),
        (
            "dynamics_bc",
            ["tenant_id", "client_id", "client_secret", "environment", "company", "journal"],
        ),
    ],
)
def test_choosing_a_type_shows_exactly_its_credential_fields(client, org, token, type_key, fields):
    integration = start(client, token, type_key)
    assert integration.status == "draft"
    html = client.get(step_url(integration, "credentials") + "?lang=en").get_data(as_text=True)
    # … and the secret's end date, optional (issue 14: warnings before it expires).
    assert input_names(html) == [*fields, "valid_until"]
    assert 'type="password"' in html and 'autocomplete="new-password"' in html
    # Each field has a label, and help with a link to where the value is found.
    for name in fields:
        assert f'for="field-{name}"' in html
        assert f'id="hint-{name}"' in html
    assert "Where to find it in" in html and 'target="_blank"' in html


# --- credentials step --------------------------------------------------------------------------


def test_credentials_are_sealed_on_submit_and_never_shown_again(client, org, token):
    integration = through_credentials(client, token)
    assert integration.wizard_step == "mapping"
    version = integration.pending_credential_version
    assert version is not None and integration.active_credential_version is None
    rows = IntegrationCredential.select().where(IntegrationCredential.integration == integration.id)
    assert {r.field_name for r in rows} == {"api_token", "environment", "entity_code"}
    assert all(demo.XLEDGER_TOKEN not in r.token for r in rows)
    entered = AuditEvent.get(AuditEvent.action == "integration.credentials_entered")
    assert entered.fields == ["api_token", "entity_code", "environment"]

    back = client.get(step_url(integration, "credentials") + "?lang=en")
    html = back.get_data(as_text=True)
    assert demo.XLEDGER_TOKEN not in html
    assert (
        "Entered " in html and "not in use until" in html and "by Kari" not in html
    )  # the OIDC mock gives no name: email
    assert "kari@example.org" in html and "Replace" in html
    assert "Not tested yet." in html
    assert back.headers["Cache-Control"] == "no-store"
    # An empty secret keeps the stored one; the non-secret values come back in the form.
    kept = client.post(
        step_url(integration, "credentials"),
        data={"csrf_token": token, "api_token": "", "environment": "demo", "entity_code": "NBF"},
    )
    assert kept.status_code == 303
    from webapp.vault import get_vault

    values = get_vault().open_set(integration, version)
    assert values == {"api_token": demo.XLEDGER_TOKEN, "environment": "demo", "entity_code": "NBF"}
    # Nothing secret in the session cookie either.
    cookie = client.get_cookie("session")
    assert cookie is not None and demo.XLEDGER_TOKEN not in cookie.value


def test_invalid_credentials_re_render_with_errors_and_keep_a_valid_secret(client, org, token):
    integration = start(client, token, "dynamics_dataverse")
    response = client.post(
        step_url(integration, "credentials") + "?lang=en",
        data={**DATAVERSE, "csrf_token": token, "tenant_id": "not a tenant", "client_id": ""},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="error-summary"' in html
    assert 'href="#field-tenant_id"' in html and 'href="#field-client_id"' in html
    assert 'id="error-tenant_id"' in html and 'aria-invalid="true"' in html
    assert "Fill in this field." in html
    # The typed (non-secret) value comes back; the valid secret was sealed, not echoed.
    assert 'value="not a tenant"' in html
    assert demo.CLIENT_SECRET not in html
    assert 'id="saved-client_secret"' in html
    assert Integration.get_by_id(integration.id).wizard_step == "credentials"


def test_a_mask_is_never_accepted_as_a_secret(client, org, token):
    integration = start(client, token)
    response = client.post(
        step_url(integration, "credentials") + "?lang=en",
        data={**XLEDGER, "csrf_token": token, "api_token": "••••••••••"},
    )
    assert response.status_code == 200
    assert "dots or stars cannot be saved" in response.get_data(as_text=True)
    assert (
        not IntegrationCredential.select()
        .where(IntegrationCredential.field_name == "api_token")
        .exists()
    )


def test_htmx_steps_swap_in_place_and_push_the_url(client, org, token):
    integration = start(client, token)
    response = client.post(
        step_url(integration, "credentials"), data={"csrf_token": token, **XLEDGER}, headers=HTMX
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and html.count('id="wizard"') == 1
    assert response.headers["HX-Push-Url"].endswith(f"/{integration.id}/setup/mapping")
    assert "HX-Request" in response.headers["Vary"]
    assert "data-autofocus" in html and 'tabindex="-1"' in html
    # The fragment carries the step's title for the document.
    assert html.lstrip().startswith("<title>")
    page = client.get(step_url(integration, "mapping"))
    assert "<html" in page.get_data(as_text=True)


def test_steps_ahead_of_the_draft_redirect_to_the_furthest_step(client, org, token):
    integration = start(client, token)
    response = client.get(step_url(integration, "test"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/setup/credentials")
    assert client.get(step_url(integration, "type")).status_code == 200


def test_the_default_mapping_takes_only_accounts_the_live_chart_has(client, org, token, sandbox):
    # An entity with its own chart: no 6860, 7150 or 2910. The defaults never invent them:
    # the lookup keeps the standard accounts that exist, the payable account stays empty and
    # the editor asks for it.
    from webapp.services import mappings

    sandbox.settings(xledger_chart="own")
    integration = through_credentials(client, token)
    client.post(step_url(integration, "mapping"), data={"csrf_token": token})
    rows = mappings.stored_rows(integration)
    account = dict(rows["account"].lookup)
    assert account == {"mileage": "7100", "travel": "7140", "office": "6800", "other": "7790"}
    assert rows["account"].lookup_default == "7790"
    assert "balancingAccount" not in rows
    editor = client.get(f"{BASE}/{integration.id}/mappings/?lang=en").get_data(as_text=True)
    assert "Balancing account (payable)" in editor
    row = editor[editor.index('id="row-balancingAccount"') :][:1500]
    assert "Balancing account (payable) is required by Xledger but has no source." in row
    # With the standard chart, the whole NS 4102 template is used.
    sandbox.settings(xledger_chart="standard")
    other = through_credentials(client, token)
    client.post(step_url(other, "mapping"), data={"csrf_token": token})
    assert mappings.stored_rows(other)["balancingAccount"].value == "2910"


def test_changing_the_type_of_a_draft_forgets_the_old_credentials(client, org, token):
    integration = through_credentials(client, token)
    response = client.post(
        step_url(integration, "type"), data={"csrf_token": token, "type_key": "dynamics_dataverse"}
    )
    assert response.status_code == 303
    integration = Integration.get_by_id(integration.id)
    assert integration.type_key == "dynamics_dataverse"
    assert integration.pending_credential_version is None
    assert (
        not IntegrationCredential.select()
        .where(IntegrationCredential.integration == integration.id)
        .exists()
    )


# --- mapping, schedule, test, save -------------------------------------------------------------


def test_whole_wizard_for_xledger_saves_a_connected_integration(client, org, token, sandbox):
    integration = through_credentials(client, token)
    mapping = client.get(step_url(integration, "mapping") + "?lang=en").get_data(as_text=True)
    assert "Posting date" in mapping and "Approval date" in mapping
    client.post(step_url(integration, "mapping"), data={"csrf_token": token})
    assert FieldMapping.select().where(FieldMapping.integration == integration.id).count() > 5
    client.post(step_url(integration, "schedule"), data={"csrf_token": token})
    assert SyncSchedule.get(SyncSchedule.integration == integration.id).kind == "manual"

    save_page = client.get(step_url(integration, "save") + "?lang=en").get_data(as_text=True)
    assert "No passed test for these credentials" in save_page
    assert 'name="version"' not in save_page

    test = run_test(client, token, integration)
    assert test.status == "passed", test.checks
    assert [c["status"] for c in test.checks] == ["passed"] * 5
    page = client.get(f"{step_url(integration, 'test')}/{test.id}?lang=en")
    assert "Connection test passed" in page.get_data(as_text=True)
    assert "Save the integration" in page.get_data(as_text=True)

    integration = Integration.get_by_id(integration.id)
    pending = integration.pending_credential_version
    response = client.post(
        step_url(integration, "save"), data={"csrf_token": token, "version": integration.version}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/o/nbf/")
    saved = Integration.get_by_id(integration.id)
    assert saved.status == "connected"
    assert saved.active_credential_version == pending
    assert saved.pending_credential_version is None
    assert saved.last_test_outcome == "passed"
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert "integration.tested" in actions and actions[-1] == "integration.saved"
    # A saved integration is not a draft: the wizard sends its admin to the credential form.
    again = client.get(step_url(integration, "credentials"))
    assert again.status_code == 303 and again.headers["Location"].endswith(
        f"/integrations/{integration.id}/credentials"
    )


def test_whole_wizard_for_dataverse_over_htmx(client, org, token, sandbox):
    integration = start(client, token, "dynamics_dataverse")
    for step, data in (("credentials", DATAVERSE), ("mapping", {}), ("schedule", {})):
        response = client.post(
            step_url(integration, step), data={"csrf_token": token, **data}, headers=HTMX
        )
        assert response.status_code == 200 and "HX-Push-Url" in response.headers
    started = client.post(step_url(integration, "test"), data={"csrf_token": token}, headers=HTMX)
    html = started.get_data(as_text=True)
    assert started.status_code == 200
    assert html.startswith('<div id="test-status"') or 'id="test-status"' in html
    test = wait_for_test(latest_test(integration).id)
    assert test.status == "passed", test.checks
    poll = client.get(f"{step_url(integration, 'test')}/{test.id}?lang=en", headers=HTMX)
    assert poll.status_code == 286
    body = poll.get_data(as_text=True)
    assert "hx-trigger" not in body
    assert 'hx-swap-oob="innerHTML"' in body and "Connection test passed." in body
    integration = Integration.get_by_id(integration.id)
    saved = client.post(
        step_url(integration, "save"),
        data={"csrf_token": token, "version": integration.version},
        headers=HTMX,
    )
    assert saved.headers["HX-Redirect"].endswith("/o/nbf/")
    assert Integration.get_by_id(integration.id).status == "connected"


def test_save_is_refused_when_the_credentials_changed_after_the_test(client, org, token, sandbox):
    integration = through_schedule(client, token)
    assert run_test(client, token, integration).status == "passed"
    client.post(
        step_url(integration, "credentials"),
        data={
            "csrf_token": token,
            "api_token": "",
            "environment": "production",
            "entity_code": "NBF",
        },
    )
    integration = Integration.get_by_id(integration.id)
    response = client.post(
        step_url(integration, "save") + "?lang=en",
        data={"csrf_token": token, "version": integration.version},
    )
    assert response.status_code == 200
    assert "passed with exactly these credentials" in response.get_data(as_text=True)
    assert Integration.get_by_id(integration.id).status == "draft"


def test_a_failed_check_links_to_the_field_to_fix(client, org, token, sandbox):
    integration = through_schedule(
        client, token, values={**XLEDGER, "api_token": "not-the-right-token-123"}
    )
    test = run_test(client, token, integration)
    assert test.status == "failed"
    page = client.get(f"{step_url(integration, 'test')}/{test.id}?lang=en").get_data(as_text=True)
    assert "Connection test failed" in page
    assert "Xledger rejected the API token" in page
    fix = f"/integrations/{integration.id}/setup/credentials?fix=api_token#field-api_token"
    assert fix in page
    step = client.get(step_url(integration, "credentials") + "?fix=api_token&lang=en")
    html = step.get_data(as_text=True)
    assert 'href="#field-api_token"' in html and 'id="error-api_token"' in html
    assert '<details class="secret-replace" open>' in html
    # Save stays closed.
    assert Integration.get_by_id(integration.id).status == "draft"


# --- the status fragment -----------------------------------------------------------------------


def test_the_status_fragment_polls_until_final_and_reports_an_abandoned_test(client, org, token):
    integration = through_schedule(client, token)
    test = ConnectionTest.create(
        integration=integration,
        credential_version=integration.pending_credential_version,
        fingerprint="x",
        status="running",
        checks=[
            {"key": "address", "label": {"nb": "Adresse", "en": "Address"}, "status": "passed"},
            {"key": "reachable", "label": {"nb": "Nåbar", "en": "Reachable"}, "status": "running"},
            {"key": "ready", "label": {"nb": "Klar", "en": "Ready"}, "status": "waiting"},
        ],
    )
    url = f"{step_url(integration, 'test')}/{test.id}?lang=en"
    polling = client.get(url, headers=HTMX)
    html = polling.get_data(as_text=True)
    assert polling.status_code == 200
    assert 'hx-trigger="every 1s"' in html
    assert "check--running" in html and "check--waiting" in html and "Running" in html
    assert "hx-swap-oob" not in html
    # Without JavaScript the same state is a page with a link to refresh it.
    page = client.get(url).get_data(as_text=True)
    assert "<html" in page and "Refresh status" in page

    ConnectionTest.update(created_at=utcnow() - dt.timedelta(minutes=5)).where(
        ConnectionTest.id == test.id
    ).execute()
    final = client.get(url, headers=HTMX)
    assert final.status_code == 286
    assert "did not finish" in final.get_data(as_text=True)
    assert ConnectionTest.get_by_id(test.id).status == "error"


def test_rate_limit_says_when_to_try_again(app, client, org, token, sandbox):
    app.config["TEST_RATE_LIMIT"] = 2
    integration = through_schedule(client, token)
    for _ in range(2):
        wait_for_test(run_test(client, token, integration).id)
    response = client.post(step_url(integration, "test") + "?lang=en", data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You have started 2 connection tests in the last minute. Try again in" in html
    assert ConnectionTest.select().count() == 2


# --- access ------------------------------------------------------------------------------------


def test_coordinator_gets_403_and_other_organisations_404(auth, client, make):
    mine = make.org("Forening A", slug="forening-a")
    other = make.org("Forening B", slug="forening-b")
    make.member(mine, "per@example.org", "coordinator")
    theirs = make.integration(other, status="draft")
    auth.login("per@example.org")
    assert client.get("/o/forening-a/integrations/new").status_code == 403
    token = csrf(client, "/o/forening-a/")
    refused = client.post(
        "/o/forening-a/integrations/new", data={"csrf_token": token, "type_key": "xledger"}
    )
    assert refused.status_code == 403
    assert Integration.select().where(Integration.organization == mine).count() == 0
    assert client.get("/o/forening-b/integrations/new").status_code == 404
    assert client.get(f"/o/forening-b/integrations/{theirs.id}/setup/type").status_code == 404


def test_admin_cannot_reach_another_organisations_draft_through_their_own(auth, client, make):
    mine = make.org("Forening A", slug="forening-a")
    other = make.org("Forening B", slug="forening-b")
    make.member(mine, "ola@example.org", "coordinator_admin")
    theirs = make.integration(other, status="draft")
    auth.login("ola@example.org")
    assert client.get(f"/o/forening-a/integrations/{theirs.id}/setup/type").status_code == 404
    token = csrf(client, "/o/forening-a/")
    response = client.post(
        f"/o/forening-a/integrations/{theirs.id}/setup/credentials",
        data={"csrf_token": token, **XLEDGER},
    )
    assert response.status_code == 404


def test_starting_a_setup_purges_drafts_abandoned_for_a_day(client, org, token, make):
    abandoned = make.integration(org, status="draft")
    Integration.update(updated_at=utcnow() - dt.timedelta(hours=25)).where(
        Integration.id == abandoned.id
    ).execute()
    integration = start(client, token)
    deadline = time.monotonic() + 10
    while Integration.get_or_none(Integration.id == abandoned.id) is not None:
        assert time.monotonic() < deadline, "the abandoned draft was not purged"
        time.sleep(0.02)
    assert Integration.get_by_id(integration.id).status == "draft"


def test_a_second_integration_of_the_same_system_says_how_claims_are_booked(
    client, org, token, sandbox, make
):
    first = make.integration(org, name="Xledger hovedbok", status="connected")
    integration = through_credentials(client, token)
    client.post(step_url(integration, "mapping"), data={"csrf_token": token})
    client.post(step_url(integration, "schedule"), data={"csrf_token": token})
    save_page = client.get(step_url(integration, "save") + "?lang=en").get_data(as_text=True)
    assert "already has 1 Xledger integration: Xledger hovedbok." in save_page
    assert "Each claim is booked in one ledger by one integration only" in save_page
    norsk = client.get(step_url(integration, "save") + "?lang=nb").get_data(as_text=True)
    assert "Xledger hovedbok" in norsk and "Claim routing" not in norsk
    first.delete_instance()
    alone = client.get(step_url(integration, "save")).get_data(as_text=True)
    assert 'id="same-system"' not in alone


def test_a_step_that_meets_a_background_change_asks_to_look_again(client, org, token, monkeypatch):
    # A connection test or export may bump the integration's version while a step is saved:
    # the coordinator is told so in words (409, or the live region for htmx), never a 500.
    integration = through_credentials(client, token)
    apply_defaults = integrations.apply_default_mapping

    def meanwhile(draft, *args):
        integrations.change(
            Integration.get_by_id(draft.id), {"name": "Endret"}, actor=None, action="test.bump"
        )
        return apply_defaults(draft, *args)

    monkeypatch.setattr(integrations, "apply_default_mapping", meanwhile)
    response = client.post(step_url(integration, "mapping"), data={"csrf_token": token})
    assert response.status_code == 409
    assert "Noen andre endret denne integrasjonen akkurat nå" in response.get_data(as_text=True)
    fragment = client.post(
        step_url(integration, "mapping"), data={"csrf_token": token}, headers=HTMX
    )
    assert fragment.headers["HX-Retarget"] == "#flash"
    assert "Se på den igjen og prøv på nytt" in fragment.get_data(as_text=True)
    # Nothing was lost: the draft is where it was and a second try goes on.
    monkeypatch.setattr(integrations, "apply_default_mapping", apply_defaults)
    assert Integration.get_by_id(integration.id).wizard_step == "mapping"
    assert (
        client.post(step_url(integration, "mapping"), data={"csrf_token": token}).status_code == 303
    )
