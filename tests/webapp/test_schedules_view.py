"""The schedule form: live preview of the next three runs, field errors, nothing saved on error."""

from __future__ import annotations

import re

import pytest

from webapp.models import AuditEvent, SyncSchedule

HX = {"HX-Request": "true"}


@pytest.fixture
def org(make):
    org = make.org("Blindeforbundet", slug="nbf")
    make.member(org, "admin@example.org", "coordinator_admin")
    make.member(org, "kari@example.org", "coordinator")
    return org


@pytest.fixture
def integration(org, make):
    return make.integration(org, status="connected")


def csrf(client) -> str:
    page = client.get("/o/nbf/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def test_form_shows_every_kind_and_the_preview_wiring(auth, client, integration):
    auth.login("admin@example.org")
    page = client.get(f"/o/nbf/integrations/{integration.id}/schedule?lang=en").get_data(
        as_text=True
    )
    for kind in ("manual", "interval", "daily", "weekly", "cron"):
        assert f'value="{kind}"' in page
    assert 'hx-trigger="change, keyup changed delay:300ms"' in page
    assert 'hx-params="not csrf_token"' in page
    assert "Europe/Oslo" in page
    assert 'id="preview-manual"' in page  # no schedule yet: manual


def test_preview_shows_the_next_three_runs_in_the_organisations_time_zone(
    auth, client, integration
):
    auth.login("admin@example.org")
    response = client.get(
        f"/o/nbf/integrations/{integration.id}/schedule/preview"
        "?kind=weekly&weekly_time=06:00&days=mon&days=thu&lang=en",
        headers=HX,
    )
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="schedule-preview"')
    runs = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', body)
    assert len(runs) == 3
    assert all(label.split()[0] in ("Monday", "Thursday") for _iso, label in runs)
    assert all(label.endswith("at 06:00") for _iso, label in runs)
    # 06:00 in Oslo is 05:00 or 04:00 UTC depending on daylight saving time.
    assert all(iso[11:16] in ("05:00", "04:00") for iso, _label in runs)
    assert "Every Monday and Thursday at 06:00" in body
    assert "HX-Request" in response.headers["Vary"]


def test_preview_explains_what_is_wrong_while_typing(auth, client, integration):
    auth.login("admin@example.org")
    body = client.get(
        f"/o/nbf/integrations/{integration.id}/schedule/preview?kind=cron&cron=61+*+*+*+*&lang=en",
        headers=HX,
    ).get_data(as_text=True)
    assert 'id="preview-problem"' in body
    assert "minute field" in body
    assert "<time" not in body


def test_invalid_values_show_field_errors_and_save_nothing(auth, client, integration):
    auth.login("admin@example.org")
    token = csrf(client)
    url = f"/o/nbf/integrations/{integration.id}/schedule?lang=en"
    response = client.post(url, data={"csrf_token": token, "kind": "cron", "cron": "0 25 * * *"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="error-summary"' in body and 'href="#field-cron"' in body
    assert re.search(r'id="field-cron"[^>]*aria-invalid="true"', body)
    assert 'aria-describedby="hint-cron error-cron"' in body
    assert "hour field" in body
    assert 'value="0 25 * * *"' in body  # what was typed is kept

    bad_time = client.post(
        url, data={"csrf_token": token, "kind": "daily", "daily_time": "25:00"}
    ).get_data(as_text=True)
    assert re.search(r'id="field-daily_time"[^>]*aria-invalid="true"', bad_time)
    no_days = client.post(
        url, data={"csrf_token": token, "kind": "weekly", "weekly_time": "06:00"}
    ).get_data(as_text=True)
    assert 'id="error-days"' in no_days
    assert not SyncSchedule.select().exists()


def test_a_valid_schedule_is_saved_with_its_next_run(auth, client, integration):
    auth.login("admin@example.org")
    response = client.post(
        f"/o/nbf/integrations/{integration.id}/schedule?lang=en",
        data={
            "csrf_token": csrf(client),
            "kind": "weekly",
            "weekly_time": "6.00",
            "days": ["mon", "fri"],
            "daily_time": "ignored",
        },
    )
    assert response.status_code == 302
    row = SyncSchedule.get(SyncSchedule.integration == integration)
    assert (row.kind, row.expression) == ("weekly", {"time": "06:00", "days": [0, 4]})
    assert row.time_zone == "Europe/Oslo" and row.next_run_at is not None
    assert AuditEvent.get(AuditEvent.action == "schedule.saved").target_id == integration.id
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "is saved: Every Monday and Friday at 06:00" in page
    # The form opens with what was saved.
    form = client.get(f"/o/nbf/integrations/{integration.id}/schedule").get_data(as_text=True)
    assert re.search(r'value="weekly" id="kind-weekly"\s+checked', form)
    assert 'value="06:00"' in form


def test_a_coordinator_reads_the_schedule_but_cannot_change_it(auth, client, integration):
    auth.login("kari@example.org")
    page = client.get(f"/o/nbf/integrations/{integration.id}/schedule?lang=en").get_data(
        as_text=True
    )
    assert "Coordinator administrators can:" in page
    assert 'id="schedule-form"' not in page
    response = client.post(
        f"/o/nbf/integrations/{integration.id}/schedule",
        data={"csrf_token": csrf(client), "kind": "manual"},
    )
    assert response.status_code == 403
    assert not SyncSchedule.select().exists()
