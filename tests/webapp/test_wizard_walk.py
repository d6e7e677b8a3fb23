"""Issue 16's wizard: the schedule chosen in its step and saved with the integration, the
name given on creation, and saving straight from a passed test."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.webapp.test_wizard import BASE, run_test, start, step_url, through_credentials
from tests.webapp.wizard_helpers import csrf
from webapp.db import utcnow
from webapp.models import AuditEvent, Integration, SyncSchedule


@pytest.fixture
def org(auth, make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    return org


@pytest.fixture
def token(client, org):
    return csrf(client, f"{BASE}/new")


def _to_schedule(client, token) -> Integration:
    integration = through_credentials(client, token)
    client.post(step_url(integration, "mapping"), data={"csrf_token": token})
    return Integration.get_by_id(integration.id)


def test_a_new_integration_is_named_after_its_system_and_the_organisation(client, org, token):
    first = start(client, token)
    assert first.name == "Xledger – Norges Blindeforbund"
    second = start(client, token)
    assert second.name == "Xledger – Norges Blindeforbund (2)"
    page = client.get(f"{BASE}/new?lang=en").get_data(as_text=True)
    assert "Continue setting up Xledger – Norges Blindeforbund (2)" in page


def test_the_schedule_step_offers_every_kind_with_usual_values_filled_in(client, org, token):
    integration = _to_schedule(client, token)
    html = client.get(step_url(integration, "schedule") + "?lang=en").get_data(as_text=True)
    assert 'id="field-kind" checked' in html  # on request only, until chosen otherwise
    for kind in ("interval", "daily", "weekly", "cron"):
        assert f'value="{kind}" id="kind-{kind}"' in html
    assert 'name="daily_time" id="field-daily_time" value="02:00"' in html
    assert "Use this schedule and continue" in html


def test_a_schedule_chosen_in_the_wizard_starts_when_the_integration_is_saved(
    client, org, token, sandbox
):
    integration = _to_schedule(client, token)
    response = client.post(
        step_url(integration, "schedule"),
        data={"csrf_token": token, "kind": "daily", "daily_time": "02:30"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/setup/test")
    stored = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert (stored.kind, stored.expression) == ("daily", {"time": "02:30"})

    test = run_test(client, token, integration)
    status = client.get(f"{step_url(integration, 'test')}/{test.id}?lang=en")
    html = status.get_data(as_text=True)
    # Saving is offered right in the passed test, with the name and the schedule in words.
    assert 'id="save-integration"' in html and 'name="name"' in html
    assert "every day at 02:30" in html.lower()

    before = utcnow()
    integration = Integration.get_by_id(integration.id)
    response = client.post(
        step_url(integration, "save"),
        data={"csrf_token": token, "version": integration.version, "name": "Xledger – NBF"},
    )
    assert response.status_code == 303
    saved = Integration.get_by_id(integration.id)
    assert (saved.status, saved.name) == ("connected", "Xledger – NBF")
    stored = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert stored.enabled and stored.next_run_at > before
    assert stored.next_run_at - before <= dt.timedelta(days=1)
    dashboard = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "Xledger – NBF is connected and scheduled" in dashboard
    assert AuditEvent.select().where(AuditEvent.action == "integration.renamed").count() == 1


def test_a_wrong_time_keeps_the_coordinator_on_the_schedule_step(client, org, token):
    integration = _to_schedule(client, token)
    response = client.post(
        step_url(integration, "schedule") + "?lang=en",
        data={"csrf_token": token, "kind": "daily", "daily_time": "25:00"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="error-summary"' in html and 'href="#field-daily_time"' in html
    assert 'id="kind-daily" checked' in html
    assert Integration.get_by_id(integration.id).wizard_step == "schedule"
    assert not SyncSchedule.select().where(SyncSchedule.integration == integration.id).exists()


def test_a_name_already_in_use_is_refused_when_saving(client, org, token, sandbox):
    other = start(client, token)
    integration = _to_schedule(client, token)
    client.post(step_url(integration, "schedule"), data={"csrf_token": token, "kind": "manual"})
    run_test(client, token, integration)
    integration = Integration.get_by_id(integration.id)
    response = client.post(
        step_url(integration, "save") + "?lang=en",
        data={"csrf_token": token, "version": integration.version, "name": other.name.upper()},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "is already called" in html and 'href="#field-name"' in html
    assert Integration.get_by_id(integration.id).status == "draft"


def test_the_secret_id_pasted_as_the_secret_is_caught_at_its_field(client, org, token):
    from tests.webapp.wizard_helpers import DATAVERSE

    integration = start(client, token, "dynamics_dataverse")
    response = client.post(
        step_url(integration, "credentials") + "?lang=en",
        data={
            "csrf_token": token,
            **DATAVERSE,
            "client_secret": "0b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10",
            "tenant_id": "https://login.microsoftonline.com/" + DATAVERSE["tenant_id"],
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="error-client_secret"' in html and "looks like the secret&#39;s ID" in html
    assert f"Did you mean {DATAVERSE['tenant_id']}?" in html


def test_the_summary_and_mapping_show_words_not_internal_values(client, org, token):
    integration = _to_schedule(client, token)
    mapping = client.get(step_url(integration, "mapping") + "?lang=en").get_data(as_text=True)
    assert "Mileage allowance (mileage) → 7100" in mapping
    client.post(step_url(integration, "schedule"), data={"csrf_token": token, "kind": "manual"})
    summary = client.get(step_url(integration, "save") + "?lang=en").get_data(as_text=True)
    assert "Production (www.xledger.net)" in summary
    assert "<dd>production</dd>" not in summary.replace("\n", "").replace(" ", "")
