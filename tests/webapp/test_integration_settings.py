"""Naming, archiving, restoring and deleting an integration (issue 16)."""

from __future__ import annotations

import pytest
from flask import g

from tests.webapp.exporting import connected_xledger, schedule
from tests.webapp.test_exports import export_now
from tests.webapp.wizard_helpers import csrf
from webapp.models import AuditEvent, ExportItem, Integration, SyncRun, SyncSchedule, User
from webapp.services import scheduler

ADMIN = "kari@example.org"
READER = "ola@example.org"


@pytest.fixture
def org(make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, ADMIN, "coordinator_admin")
    make.member(org, READER, "coordinator")
    return org


@pytest.fixture
def admin(auth, client, org):
    auth.login(ADMIN)
    return csrf(client, "/o/nbf/")


def settings_url(integration: Integration, action: str = "") -> str:
    return f"/o/nbf/integrations/{integration.id}/settings{action}"


def test_rename_gives_the_integration_a_name_that_tells_it_apart(client, org, admin):
    first = connected_xledger(org, name="Xledger – NBF")
    second = connected_xledger(org, name="Xledger")
    page = client.get(settings_url(second) + "?lang=en").get_data(as_text=True)
    assert 'id="field-name"' in page and 'value="Xledger"' in page

    refused = client.post(
        settings_url(second, "/name") + "?lang=en",
        data={"csrf_token": admin, "name": " xledger – nbf ", "version": second.version},
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "is already called" in html
    assert 'href="#field-name"' in html
    assert Integration.get_by_id(second.id).name == "Xledger"

    done = client.post(
        settings_url(second, "/name"),
        data={"csrf_token": admin, "name": "Xledger – region Nord", "version": second.version},
    )
    assert done.status_code == 303
    assert Integration.get_by_id(second.id).name == "Xledger – region Nord"
    assert Integration.get_by_id(first.id).name == "Xledger – NBF"
    dashboard = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "Xledger – region Nord" in dashboard and "Xledger – NBF" in dashboard
    assert AuditEvent.get(AuditEvent.action == "integration.renamed").fields == ["name"]


def test_archive_keeps_the_history_and_stops_exports_and_the_schedule(
    client, org, admin, make, sandbox
):
    integration = connected_xledger(org, sandbox.new_xledger_token())
    claim = make.claim(org)
    run = export_now(integration)
    assert run.status == "succeeded"
    schedule(integration, "daily", {"time": "02:00"})
    integration = Integration.get_by_id(integration.id)

    page = client.get(settings_url(integration) + "?lang=en").get_data(as_text=True)
    assert "cannot be deleted" in page and 'id="delete-integration"' not in page
    response = client.post(
        settings_url(integration, "/archive"),
        data={"csrf_token": admin, "version": integration.version},
    )
    assert response.status_code == 303

    archived = Integration.get_by_id(integration.id)
    assert archived.status == "archived"
    stored = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert not stored.enabled and stored.next_run_at is None
    # History and the voucher numbers stay.
    item = ExportItem.get(ExportItem.claim == claim.id)
    assert item.status == "exported" and item.external_id
    assert SyncRun.get_by_id(run.id).exported_count == 1
    dashboard = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert 'id="archived"' in dashboard and f'id="card-{integration.id}"' not in dashboard
    history = client.get(f"/o/nbf/integrations/{integration.id}/runs?lang=en")
    assert history.status_code == 200
    # Nothing exports any more, on request or on schedule.
    refused = client.post(
        f"/o/nbf/integrations/{integration.id}/export", data={"csrf_token": admin}
    )
    assert SyncRun.select().where(SyncRun.integration == integration.id).count() == 1
    assert refused.status_code in (200, 302, 303)
    assert scheduler.tick().queued == []
    # And the integration cannot be deleted: its claims were booked.
    client.post(settings_url(integration, "/delete"), data={"csrf_token": admin})
    assert Integration.get_or_none(Integration.id == integration.id) is not None


def test_restore_brings_an_archived_integration_back_paused_with_its_schedule(client, org, admin):
    integration = connected_xledger(org)
    schedule(integration, "interval", {"hours": 6})
    integration = Integration.get_by_id(integration.id)
    client.post(
        settings_url(integration, "/archive"),
        data={"csrf_token": admin, "version": integration.version},
    )
    integration = Integration.get_by_id(integration.id)
    page = client.get(settings_url(integration) + "?lang=en").get_data(as_text=True)
    assert "This integration is archived" in page
    client.post(
        settings_url(integration, "/restore"),
        data={"csrf_token": admin, "version": integration.version},
    )
    assert Integration.get_by_id(integration.id).status == "paused"
    stored = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert stored.enabled and stored.next_run_at is not None


def test_an_integration_that_never_exported_can_be_deleted(client, org, admin, make):
    integration = connected_xledger(org)
    make.claim(org)  # routed to it, never exported
    page = client.get(settings_url(integration) + "?lang=en").get_data(as_text=True)
    assert 'id="delete-integration"' in page
    response = client.post(settings_url(integration, "/delete"), data={"csrf_token": admin})
    assert response.status_code == 303
    assert Integration.get_or_none(Integration.id == integration.id) is None
    assert AuditEvent.get(AuditEvent.action == "integration.deleted").target_id == integration.id


def test_a_read_only_coordinator_sees_the_name_and_who_can_change_it(auth, client, org, make):
    integration = connected_xledger(org, name="Xledger – NBF")
    make.member(org, "per@example.org", "coordinator_admin")
    auth.login(ADMIN)  # signed in once: known by name from then on
    User.update(display_name="Kari Nordmann").where(User.email == ADMIN).execute()
    auth.logout()
    g.pop("csrf_token", None)  # Flask-WTF keeps the old session's token on `g`
    auth.login(READER)
    token = csrf(client, "/o/nbf/")
    page = client.get(settings_url(integration) + "?lang=en").get_data(as_text=True)
    assert 'id="name-value"' in page and "Xledger – NBF" in page
    # Named: the admin who has signed in by name, the other by e-mail address.
    assert "Coordinator administrators can: Kari Nordmann, per@example.org." in page
    assert 'id="field-name"' not in page and 'id="archive-integration"' not in page
    for action in ("/name", "/archive", "/delete"):
        response = client.post(settings_url(integration, action), data={"csrf_token": token})
        assert response.status_code == 403
    assert Integration.get_by_id(integration.id).status == "connected"
