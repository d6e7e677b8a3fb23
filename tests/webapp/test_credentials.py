"""The credential form of a saved integration: what it shows, rotation, re-authentication."""

from __future__ import annotations

import pytest

from adapters.errors import AuthError
from adapters.xledger import TOKEN_REFUSED
from sandbox import demo
from tests.webapp.wizard_helpers import DATAVERSE, HTMX, csrf, wait_for_test
from webapp.models import AuditEvent, ConnectionTest, Integration, IntegrationCredential
from webapp.services.integrations import mark_needs_reauth
from webapp.services.providers import adapter_for


@pytest.fixture
def org(auth, make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    return org


@pytest.fixture
def token(client, org):
    return csrf(client, "/o/nbf/")


def connected(org, type_key="xledger", values=None, status="connected") -> Integration:
    """A saved integration as the wizard leaves it: one active credential set."""
    from webapp.vault import get_vault

    values = values or {
        "api_token": demo.XLEDGER_TOKEN,
        "environment": "production",
        "entity_code": "",
    }
    integration = Integration.create(
        organization=org,
        type_key=type_key,
        name="Xledger" if type_key == "xledger" else "Dynamics 365",
        status=status,
        active_credential_version=1,
        wizard_step="save",
    )
    get_vault().seal_set(integration, 1, values)
    return integration


def url(integration: Integration, rest: str = "") -> str:
    return f"/o/nbf/integrations/{integration.id}/credentials{rest}"


def submit(client, token, integration, **values):
    fresh = Integration.get_by_id(integration.id)
    return client.post(url(fresh), data={"csrf_token": token, "version": fresh.version, **values})


def active_values(integration: Integration) -> dict[str, str]:
    from webapp.vault import get_vault

    fresh = Integration.get_by_id(integration.id)
    return get_vault().open_set(fresh, fresh.active_credential_version)


def newest_test(integration: Integration) -> ConnectionTest:
    return wait_for_test(
        ConnectionTest.select()
        .where(ConnectionTest.integration == integration.id)
        .order_by(ConnectionTest.id.desc())
        .get()
        .id
    )


def test_form_shows_plain_values_but_only_when_and_who_for_secrets(client, org):
    integration = connected(org, "dynamics_dataverse", DATAVERSE)
    response = client.get(url(integration, "?lang=en"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f'value="{demo.TENANT_ID}"' in html and f'value="{demo.DATAVERSE_URL}"' in html
    assert demo.CLIENT_SECRET not in html
    assert 'id="saved-client_secret"' in html and "Saved " in html and "Not tested yet." in html
    assert "Replace" in html
    # The replacement input is empty and never offers a stored value for autofill.
    assert 'name="client_secret" type="password" value=""' in html


def test_opened_after_an_authentication_failure_it_explains_what_was_rejected(client, org):
    integration = connected(org)
    # A pass from before the rejection is not shown beside it.
    ConnectionTest.create(
        integration=integration,
        credential_version=integration.active_credential_version,
        fingerprint="x",
        status="passed",
        checks=[],
    )
    mark_needs_reauth(
        integration, AuthError(TOKEN_REFUSED, provider_code="UNAUTHENTICATED", field="api_token")
    )
    html = client.get(url(integration, "?reason=auth&lang=en")).get_data(as_text=True)
    assert 'id="reauth-reason"' in html
    assert "Xledger rejected the saved credentials" in html
    assert "Xledger rejected the API token: it has expired or been revoked." in html
    assert 'href="#field-api_token"' in html
    assert '<details class="secret-replace" open>' in html
    assert "Connection test passed" not in html
    # In Norwegian too (the adapter's message comes in both languages).
    nb = client.get(url(integration, "?reason=auth&lang=nb")).get_data(as_text=True)
    assert "Xledger avviste API-nøkkelen" in nb


def test_successful_rotation_switches_sets_and_deletes_the_old_one(client, org, token, sandbox):
    integration = connected(org)
    mark_needs_reauth(integration, AuthError(TOKEN_REFUSED, field="api_token"))
    new_token = sandbox.new_xledger_token()
    response = submit(
        client, token, integration, api_token=new_token, environment="production", entity_code=""
    )
    assert response.status_code == 303 and "?test=" in response.headers["Location"]
    # The test job runs at once (in-process): read the tested set from its result, since the
    # integration may already have switched to it by now.
    test = newest_test(integration)
    assert test.status == "passed", test.checks
    tested_version = test.credential_version
    assert tested_version not in (None, integration.active_credential_version)
    # The passed set is in use at once (same commit as the result); the old set is gone.
    after = Integration.get_by_id(integration.id)
    assert after.active_credential_version == tested_version
    assert after.pending_credential_version is None
    assert after.status == "connected" and after.reauth_reason is None
    assert active_values(integration)["api_token"] == new_token
    versions = {
        row.set_version
        for row in IntegrationCredential.select().where(
            IntegrationCredential.integration == integration.id
        )
    }
    assert versions == {tested_version}
    assert (
        AuditEvent.select().where(AuditEvent.action == "integration.credentials_rotated").exists()
    )
    page = client.get(url(integration, f"?test={test.id}&lang=en")).get_data(as_text=True)
    assert "The credentials passed the test and are in use." in page
    assert new_token not in page and "Unchanged since the last test." in page


def test_failed_rotation_keeps_the_old_credentials_working(client, org, token, sandbox):
    integration = connected(org)
    submit(
        client,
        token,
        integration,
        api_token="wrong-token-1234567",
        environment="production",
        entity_code="",
    )
    test = newest_test(integration)
    assert test.status == "failed"
    page = client.get(url(integration, f"?test={test.id}&lang=en")).get_data(as_text=True)
    assert "The credentials in use have not changed." in page
    assert "fix=api_token#field-api_token" in page
    assert "not in use: they have not passed a test" in page
    assert "Save the new credentials" not in page

    # Saving anyway is refused, and the old credentials still work against Xledger.
    fresh = Integration.get_by_id(integration.id)
    refused = client.post(
        url(integration, "/save?lang=en"), data={"csrf_token": token, "version": fresh.version}
    )
    assert "passed with exactly these credentials" in refused.get_data(as_text=True)
    assert Integration.get_by_id(integration.id).active_credential_version == 1
    with client.application.app_context():
        checks = adapter_for(integration, active_values(integration)).test_connection()
    assert [c.status for c in checks] == ["passed"] * 5

    discarded = client.post(url(integration, "/discard"), data={"csrf_token": token})
    assert discarded.status_code == 303
    after = Integration.get_by_id(integration.id)
    assert after.pending_credential_version is None and after.active_credential_version == 1
    assert {r.set_version for r in IntegrationCredential.select()} == {1}


def test_unchanged_values_retest_the_saved_set_and_clear_needs_reauth(client, org, token, sandbox):
    integration = connected(org)
    mark_needs_reauth(integration, AuthError(TOKEN_REFUSED, field="api_token"))
    response = submit(
        client, token, integration, api_token="", environment="production", entity_code=""
    )
    assert response.status_code == 303
    test = newest_test(integration)
    assert test.credential_version == 1 and test.status == "passed"
    after = Integration.get_by_id(integration.id)
    assert after.pending_credential_version is None
    assert after.status == "connected" and after.reauth_reason is None
    assert AuditEvent.select().where(AuditEvent.action == "integration.reconnected").exists()


def test_the_status_fragment_stops_polling_when_final(client, org, token, sandbox):
    integration = connected(org)
    started = client.post(
        url(integration),
        data={
            "csrf_token": token,
            "version": integration.version,
            "api_token": "",
            "environment": "production",
        },
        headers=HTMX,
    )
    assert started.status_code == 200
    assert 'id="credentials"' in started.get_data(as_text=True)
    test = newest_test(integration)
    poll = client.get(url(integration, f"/tests/{test.id}?lang=en"), headers=HTMX)
    assert poll.status_code == 286
    assert "The credentials passed the test and are in use." in poll.get_data(as_text=True)
    # The form above the status reloads, as the test may have changed what is in use.
    assert "credentials-changed" in poll.headers["HX-Trigger"]


def test_unreadable_credentials_must_be_entered_again_never_a_500(client, org, token, sandbox):
    integration = connected(org, "dynamics_dataverse", DATAVERSE)
    # A token moved to another row does not decrypt there (associated data).
    rows = {
        r.field_name: r
        for r in IntegrationCredential.select().where(
            IntegrationCredential.integration == integration.id
        )
    }
    IntegrationCredential.update(token=rows["client_secret"].token).where(
        IntegrationCredential.id == rows["tenant_id"].id
    ).execute()
    page = client.get(url(integration, "?lang=en"))
    assert page.status_code == 200
    assert "cannot be read any more and must be entered again" in page.get_data(as_text=True)

    submit(client, token, integration, **{**DATAVERSE, "client_secret": "", "tenant_id": ""})
    # The tenant must be typed again; nothing was tested.
    assert not ConnectionTest.select().exists()
    from webapp.services import checks

    with client.application.test_request_context():
        test = checks.start_test(integration, 1, None)
    test = wait_for_test(test.id)
    assert test.status == "failed"
    failed = next(c for c in test.checks if c["status"] == "failed")
    assert failed["provider_code"] == "vault_unreadable" and failed["field"] == "tenant_id"
    assert Integration.get_by_id(integration.id).status == "needs_reauth"


def test_a_stale_form_is_refused_without_writing_anything(client, org, token):
    integration = connected(org)
    Integration.update(version=Integration.version + 1).where(
        Integration.id == integration.id
    ).execute()
    response = client.post(
        url(integration, "?lang=en"),
        data={"csrf_token": token, "version": integration.version, "api_token": "other-token-123"},
    )
    assert response.status_code == 200
    assert "while you had this page open" in response.get_data(as_text=True)
    assert {r.set_version for r in IntegrationCredential.select()} == {1}


def test_a_draft_is_edited_in_the_wizard(client, org):
    draft = connected(org, status="draft")
    response = client.get(url(draft))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/integrations/{draft.id}/setup/credentials")


def test_coordinator_gets_403_and_other_organisations_404(auth, client, make):
    mine = make.org("Forening A", slug="forening-a")
    other = make.org("Forening B", slug="forening-b")
    make.member(mine, "per@example.org", "coordinator")
    own = connected(mine)
    theirs = connected(other)
    auth.login("per@example.org")
    token = csrf(client, "/o/forening-a/")
    base = f"/o/forening-a/integrations/{own.id}/credentials"
    assert client.get(base).status_code == 403
    assert client.get(f"{base}?reason=auth").status_code == 403
    for path in (base, f"{base}/save", f"{base}/discard"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403
    assert client.get(f"/o/forening-b/integrations/{theirs.id}/credentials").status_code == 404


def test_admin_gets_404_for_another_organisations_integration(auth, client, make):
    mine = make.org("Forening A", slug="forening-a")
    other = make.org("Forening B", slug="forening-b")
    make.member(mine, "ola@example.org", "coordinator_admin")
    theirs = connected(other)
    auth.login("ola@example.org")
    token = csrf(client, "/o/forening-a/")
    base = f"/o/forening-a/integrations/{theirs.id}/credentials"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/tests/1").status_code == 404
    for path in (base, f"{base}/save", f"{base}/discard"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404


def test_the_same_credentials_sent_twice_at_once_are_stored_once(app, org):
    """Finding 5: a double click sealed the set twice in parallel and the second insert hit
    the unique key (a 500); the vault now writes a field's row with an upsert."""
    import threading

    from webapp.db import db
    from webapp.vault import get_vault

    integration = connected(org)
    errors: list[BaseException] = []
    for attempt in range(10):
        barrier = threading.Barrier(2)
        values = {"api_token": f"{demo.XLEDGER_TOKEN}-{attempt}", "environment": "production"}

        def seal(values=values, barrier=barrier) -> None:
            with app.app_context():
                barrier.wait(timeout=10)
                try:
                    get_vault().seal_set(integration, 2, values)
                except BaseException as error:  # noqa: BLE001 - collected for the assertion
                    errors.append(error)
                finally:
                    if not db.is_closed():
                        db.close()

        threads = [threading.Thread(target=seal) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert get_vault().open_set(integration, 2)["api_token"] == values["api_token"]
    assert errors == []
    stored = IntegrationCredential.select().where(
        (IntegrationCredential.integration == integration.id)
        & (IntegrationCredential.set_version == 2)
    )
    assert sorted(row.field_name for row in stored) == ["api_token", "environment"]


@pytest.mark.parametrize(
    ("pasted", "named"),
    [
        (demo.XLEDGER_TOKEN + "🙂", "U+1F642"),
        ("“" + demo.XLEDGER_TOKEN + "”", "LEFT DOUBLE QUOTATION MARK"),
        (demo.XLEDGER_TOKEN[:8] + "\u00a0" + demo.XLEDGER_TOKEN[8:], "NO-BREAK SPACE"),
    ],
)
def test_a_secret_with_a_character_no_key_has_is_refused_at_the_field(
    client, org, token, caplog, pasted, named
):
    """Finding 12: an emoji in a token ended as a UnicodeEncodeError traceback in the log
    and a message blaming the token; now the field says what is wrong before any test."""
    integration = connected(org)
    tests_before = ConnectionTest.select().count()
    response = client.post(
        url(integration) + "?lang=en",
        data={
            "csrf_token": token,
            "version": integration.version,
            "api_token": pasted,
            "environment": "production",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "keys and secrets never contain" in page and named in page
    assert ConnectionTest.select().count() == tests_before
    assert "Traceback" not in caplog.text and "UnicodeEncodeError" not in caplog.text


def test_the_dashboards_test_button_runs_a_fresh_test_and_shows_it(client, org, token, sandbox):
    integration = connected(org)
    old = ConnectionTest.create(
        integration=integration, credential_version=1, status="failed", fingerprint="old"
    )
    dashboard = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    form = f'action="/o/nbf/integrations/{integration.id}/credentials/test"'
    assert form in dashboard and f'id="test-now-{integration.id}"' in dashboard

    response = client.post(url(integration, "/test"), data={"csrf_token": token})

    assert response.status_code == 303
    test = newest_test(integration)
    assert test.id != old.id and test.credential_version == 1
    assert response.headers["Location"].endswith(f"/credentials?test={test.id}")
    assert test.status == "passed"
    page = client.get(response.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert "Connection test passed" in page
    # The saved credentials stay in use; nothing was changed.
    assert Integration.get_by_id(integration.id).active_credential_version == 1
    assert active_values(integration)["api_token"] == demo.XLEDGER_TOKEN
    # Without the form's token it is refused, like every change.
    assert client.post(url(integration, "/test")).status_code == 400
