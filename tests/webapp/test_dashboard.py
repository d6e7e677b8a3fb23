"""The dashboard, Export now, the run status fragment and the run history, through the views."""

from __future__ import annotations

import re

import pytest

from tests.webapp.exporting import connected_xledger, final_run, schedule
from webapp.db import utcnow
from webapp.models import AuditEvent, ExportItem, Integration, SyncRun
from webapp.services import exports
from webapp.services.integrations import mark_needs_reauth

HX = {"HX-Request": "true"}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "EXPORT_SETTLE_SECONDS": 0.5}


@pytest.fixture
def org(make):
    org = make.org("Blindeforbundet", slug="nbf")
    make.member(org, "admin@example.org", "coordinator_admin")
    make.member(org, "kari@example.org", "coordinator")
    return org


@pytest.fixture
def integration(org, sandbox):
    return connected_xledger(org, sandbox.new_xledger_token())


def csrf(client) -> str:
    page = client.get("/o/nbf/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def runs_of(integration, *statuses):
    for status in statuses:
        SyncRun.create(
            integration=integration,
            trigger="schedule",
            status=status,
            message={"nb": f"nb {status}", "en": f"en {status}"},
            started_at=utcnow(),
            finished_at=utcnow(),
            exported_count=2,
            total_count=2,
        )


def test_card_shows_state_times_schedule_chart_and_actions(auth, client, org, integration, make):
    schedule(integration, "daily", {"time": "02:30"})
    runs_of(integration, "succeeded", "succeeded", "partial", "failed", "succeeded")
    Integration.update(
        last_success_at=utcnow(), last_success_count=12, last_attempt_at=utcnow()
    ).execute()
    auth.login("admin@example.org")

    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)

    card = page[page.index(f'id="card-{integration.id}"') :]
    assert re.search(r'class="status status--connected" id="state-\d+">Connected<', card)
    assert "12 claims" in re.search(r'id="last-success-\d+">(.*?)</dd>', card, re.S).group(1)
    assert "Succeeded" in re.search(r'id="last-attempt-\d+">(.*?)</dd>', card, re.S).group(1)
    assert "<time" in re.search(r'id="next-run-\d+">(.*?)</dd>', card, re.S).group(1)
    assert "Every day at 02:30" in card
    assert 'role="img"' in card
    assert "Last 5 runs: 3 succeeded, 1 partly, 1 failed" in card
    # One bar per run, drawn by outcome: the failed run's bar is the short one.
    assert 'data-runs="5"' in card
    assert re.search(r'<path class="run--failed" d="M\d+ 28h8v12h-8z">', card)
    for label in (
        "Export now",
        "Test connection",
        "Edit field mappings",
        "Rotate credentials",
        "Edit schedule",
        "Pause exports",
        "Run history",
    ):
        assert label in card, label
    assert f"/o/nbf/integrations/{integration.id}/mappings/" in card
    assert f"/o/nbf/integrations/{integration.id}/credentials" in card
    assert 'id="setup-integration"' in page


def test_a_coordinator_sees_everything_but_can_change_nothing(auth, client, org, integration):
    runs_of(integration, "succeeded")
    auth.login("kari@example.org")
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert f'id="card-{integration.id}"' in page and "Run history" in page
    for label in ("export-now-", "Pause exports", "Edit schedule", "Set up integration"):
        assert label not in page
    assert "<form" not in page[page.index('id="integration-cards"') :]
    token = csrf(client)
    base = f"/o/nbf/integrations/{integration.id}"
    for path in (f"{base}/export", f"{base}/pause", f"{base}/resume", f"{base}/schedule"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path
    assert not SyncRun.select().where(SyncRun.trigger == "manual").exists()
    assert client.get(f"{base}/runs").status_code == 200
    assert client.get(f"/o/nbf/runs/{SyncRun.get().id}").status_code == 200


def test_other_organisations_runs_and_integrations_are_not_found(auth, client, make, org, sandbox):
    other = make.org("Andre", slug="andre")
    theirs = connected_xledger(other, sandbox.new_xledger_token())
    runs_of(theirs, "succeeded")
    auth.login("admin@example.org")
    token = csrf(client)
    assert client.get(f"/o/nbf/runs/{SyncRun.get().id}").status_code == 404
    assert client.get(f"/o/nbf/integrations/{theirs.id}/runs").status_code == 404
    assert client.get(f"/o/nbf/integrations/{theirs.id}/summary").status_code == 404
    response = client.post(f"/o/nbf/integrations/{theirs.id}/export", data={"csrf_token": token})
    assert response.status_code == 404


def test_export_now_polls_until_final_then_refreshes_the_card(
    auth, client, org, integration, make, sandbox
):
    for _ in range(2):
        make.claim(org)
    auth.login("admin@example.org")
    token = csrf(client)

    started = client.post(
        f"/o/nbf/integrations/{integration.id}/export?lang=en",
        data={"csrf_token": token},
        headers=HX,
    )

    assert started.status_code in (200, 286)
    body = started.get_data(as_text=True)
    run = SyncRun.get(SyncRun.trigger == "manual")
    assert f'id="run-status-{integration.id}"' in body
    assert "The export has started." in body  # announced once, out of band
    final_run(run.id)
    poll = client.get(f"/o/nbf/runs/{run.id}?follow=1&lang=en", headers=HX)
    assert poll.status_code == 286
    assert poll.headers["HX-Trigger"] == f'{{"run-finished-{integration.id}": true}}'
    assert "2 claims exported to Xledger." in poll.get_data(as_text=True)
    assert "HX-Redirect" not in poll.headers
    summary = client.get(f"/o/nbf/integrations/{integration.id}/summary?lang=en", headers=HX)
    assert summary.get_data(as_text=True).lstrip().startswith(f'<div id="summary-{integration.id}"')
    assert "2 claims" in summary.get_data(as_text=True)
    assert "HX-Request" in summary.headers["Vary"]
    # Outside htmx, the same address is the full dashboard.
    assert "<h1>" in client.get(f"/o/nbf/integrations/{integration.id}/summary").get_data(
        as_text=True
    )


def test_status_fragment_polls_while_the_run_is_under_way(auth, client, org, integration):
    run = SyncRun.create(integration=integration, trigger="manual", status="running", job_id="j")
    SyncRun.update(total_count=10, exported_count=4).execute()
    auth.login("admin@example.org")
    response = client.get(f"/o/nbf/runs/{run.id}?follow=1&lang=en", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in body and "follow=1" in body
    assert "4 of 10 claims" in body and "<progress" in body
    # The dashboard shows the same, polling, for anyone.
    assert 'hx-trigger="every 1s"' in client.get("/o/nbf/").get_data(as_text=True)


def test_export_now_outside_htmx_goes_to_the_run_page(auth, client, org, integration, make):
    make.claim(org)
    auth.login("admin@example.org")
    response = client.post(
        f"/o/nbf/integrations/{integration.id}/export", data={"csrf_token": csrf(client)}
    )
    run = SyncRun.get(SyncRun.trigger == "manual")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/o/nbf/runs/{run.id}")
    final_run(run.id)
    page = client.get(f"/o/nbf/runs/{run.id}?lang=en").get_data(as_text=True)
    assert "<h1>Export" in page and "1 claim exported to Xledger." in page


def test_rejected_credentials_send_the_coordinator_to_the_credential_form(
    auth, client, org, integration, make, sandbox
):
    make.claim(org)
    auth.login("admin@example.org")
    token = csrf(client)
    from webapp.vault import get_vault

    exports_token = get_vault().open_set(integration, 1)["api_token"]
    sandbox.revoke_xledger_token(exports_token)
    schedule(integration, "daily", {"time": "02:30"})

    client.post(
        f"/o/nbf/integrations/{integration.id}/export", data={"csrf_token": token}, headers=HX
    )
    run = final_run(SyncRun.get(SyncRun.trigger == "manual").id)
    assert run.error_kind == "auth"
    poll = client.get(f"/o/nbf/runs/{run.id}?follow=1", headers=HX)
    expected = f"/o/nbf/integrations/{integration.id}/credentials?reason=auth"
    assert poll.headers["HX-Redirect"] == expected
    # Watching passively (the dashboard) does not yank anyone away.
    assert "HX-Redirect" not in client.get(f"/o/nbf/runs/{run.id}", headers=HX).headers

    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    banner = re.search(r'id="reauth-\d+">(.*?)</div>', page, re.S).group(1)
    assert "Xledger rejected the saved credentials" in banner
    assert "rejected the API token" in banner
    button = re.search(
        r'<a class="btn btn--primary" href="([^"]+)" id="fix-credentials-\d+">', page
    )
    assert button.group(1) == expected
    assert re.search(r'status--needs_reauth" id="state-\d+">Needs attention<', page)
    assert "Scheduled exports are skipped until new credentials are saved." in page
    # Export now on an integration that needs new credentials goes straight to the form.
    again = client.post(
        f"/o/nbf/integrations/{integration.id}/export", data={"csrf_token": token}, headers=HX
    )
    assert again.headers["HX-Redirect"] == expected


def test_a_coordinator_sees_the_banner_without_a_button(auth, client, org, integration):
    from adapters.errors import AuthError
    from adapters.xledger import TOKEN_REFUSED

    mark_needs_reauth(integration, AuthError(TOKEN_REFUSED, provider_code="UNAUTHENTICATED"))
    auth.login("kari@example.org")
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "Ask a coordinator administrator" in page
    assert "Enter new credentials" not in page


def test_pause_and_resume(auth, client, org, integration):
    auth.login("admin@example.org")
    token = csrf(client)
    schedule(integration, "interval", {"hours": 6})
    response = client.post(
        f"/o/nbf/integrations/{integration.id}/pause",
        data={"csrf_token": token, "version": integration.version},
    )
    assert response.status_code == 302
    assert Integration.get_by_id(integration.id).status == "paused"
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert re.search(r'status--paused" id="state-\d+">Paused<', page) and "Resume exports" in page
    assert "Scheduled exports are skipped while exports are paused." in page
    assert exports.start_manual(Integration.get_by_id(integration.id)).refused == "paused"
    client.post(f"/o/nbf/integrations/{integration.id}/resume", data={"csrf_token": token})
    assert Integration.get_by_id(integration.id).status == "connected"
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert "integration.paused" in actions and "integration.resumed" in actions


def test_run_history_and_per_claim_failures(auth, client, org, integration, make):
    from webapp.models import ExpenseClaimLine

    good = make.claim(org)
    bad = make.claim(org, claim_number="RR-BAD-1")
    ExpenseClaimLine.update(department="999").where(ExpenseClaimLine.claim == bad).execute()
    run = final_run(exports.start_manual(integration).run.id)
    assert run.status == "partial"
    auth.login("admin@example.org")

    history = client.get(f"/o/nbf/integrations/{integration.id}/runs?lang=en").get_data(
        as_text=True
    )
    row = re.search(rf'<tr id="run-{run.id}".*?</tr>', history, re.S).group(0)
    assert "Partly succeeded" in row and '<td class="num">1</td>' in row
    assert "could not be exported" in row
    detail = client.get(f"/o/nbf/runs/{run.id}?lang=en").get_data(as_text=True)
    failures = detail[detail.index('id="run-failures"') :]
    assert "RR-BAD-1" in failures and "999" in failures
    assert good.claim_number not in failures
    assert ExportItem.get(ExportItem.claim == good).status == "exported"


def test_empty_dashboard_offers_setup_only_to_admins(auth, client, org):
    auth.login("admin@example.org")
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "No accounting system is connected yet." in page
    assert 'href="/o/nbf/integrations/new"' in page


def test_the_run_history_shows_fifty_runs_and_links_to_older_ones(auth, client, org, integration):
    runs_of(integration, *["succeeded"] * 55)
    auth.login("admin@example.org")

    page = client.get(f"/o/nbf/integrations/{integration.id}/runs?lang=en").get_data(as_text=True)

    assert page.count('<tr id="run-') == 50
    assert "The latest 50 exports, newest first" in page
    older = re.search(r'<a href="([^"]+)" id="older-runs">Older exports</a>', page).group(1)
    rest = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert rest.count('<tr id="run-') == 5
    assert "5 older exports, newest first" in rest
    assert 'id="older-runs"' not in rest
    oldest = min(run.id for run in SyncRun.select())
    assert f'id="run-{oldest}"' in rest and f'id="run-{oldest}"' not in page


def test_many_integrations_are_listed_compactly_each_with_a_page_of_its_own(
    app, auth, client, make
):
    from tests.webapp.exporting import connected_xledger
    from webapp.services.health import issues as connection_issues

    org = make.org("Storforeningen", slug="stor")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    few = [connected_xledger(org, name=f"Xledger {n}") for n in range(6)]
    page = client.get("/o/stor/?lang=en").get_data(as_text=True)
    assert 'id="integration-cards"' in page and 'id="integration-list"' not in page
    many = few + [connected_xledger(org, name=f"Xledger {n}") for n in range(6, 20)]
    connection_issues.record_failure(many[3], "auth", None, "check")
    response = client.get("/o/stor/?lang=en")
    page = response.get_data(as_text=True)
    assert 'id="integration-list"' in page and 'id="integration-cards"' not in page
    assert "1 of 20 integrations needs attention." in page
    assert "The accounting system rejected the sign-in, for 1 minute" in page
    assert len(response.data) <= 40 * 1024  # uncompressed, 20 integrations
    one = client.get(f"/o/stor/integrations/{many[3].id}?lang=en").get_data(as_text=True)
    assert f'id="card-{many[3].id}"' in one and f'id="export-now-{many[3].id}"' in one
    assert "Integration: Xledger 3" in one


def test_the_chart_shows_each_integrations_latest_thirty_runs(auth, client, org, integration):
    other = connected_xledger(org, name="Xledger to")
    runs_of(integration, *(["failed"] * 5 + ["succeeded"] * 29 + ["partial"]))
    runs_of(other, "succeeded", "failed")
    auth.login("admin@example.org")

    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)

    first = page[page.index(f'id="card-{integration.id}"') : page.index(f'id="card-{other.id}"')]
    second = page[page.index(f'id="card-{other.id}"') :]
    # The five oldest (failed) runs are beyond the chart's thirty.
    assert "Last 30 runs: 29 succeeded, 1 partly, 0 failed" in first
    assert 'data-runs="30"' in first
    assert "Last 2 runs: 1 succeeded, 0 partly, 1 failed" in second
