"""Secrets that expire: the date is entered with the secret, warnings come 30 and 7 days ahead
and on the day (once each, with the clock moved, no sleeps), an expired secret shows as
expired before any call fails, and a rotation clears the warning."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.webapp.health_helpers import ADMIN_EN, ADMIN_NB, PUBLIC, organisation, smtp_settings
from tests.webapp.test_credentials import connected, newest_test, submit, url
from tests.webapp.wizard_helpers import csrf
from webapp.db import utcnow
from webapp.models import Integration, SecretExpiry
from webapp.services.health import expiry, outcomes, probe


@pytest.fixture
def app_config(app_config, mailbox):
    return {**app_config, **smtp_settings(mailbox)}


def test_warnings_at_30_and_7_days_and_on_the_day_once_each(app, sandbox, mailbox):
    nbf = organisation(sandbox)
    integration = nbf.integration
    start = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
    end = dt.date(2027, 2, 13)  # 40 days after the start
    expiry.store(integration, integration.active_credential_version, end, nbf.kari)
    seen: dict[int, list[str]] = {}
    for day in range(45):
        before = len(mailbox.messages)
        # What the daily check does after its call, on each day of the moved clock (and a
        # second time the same day); on the first warning's day, the whole daily check.
        now = start + dt.timedelta(days=day)
        if day == 10:
            assert probe.run_check(integration.id, now) == "passed"
        else:
            outcomes.warn_expiry(integration, now)
        outcomes.warn_expiry(integration, now + dt.timedelta(hours=5))
        new = mailbox.messages[before:]
        if new:
            seen[(end - now.date()).days] = sorted(m["To"] for m in new)
    # One message to each admin at 30 days, 7 days and on the day; nothing in between, and
    # nothing more once the secret has expired (it was said on the day).
    both = sorted([ADMIN_EN, ADMIN_NB])
    assert seen == {30: both, 7: both, 0: both}
    subjects = [m["Subject"] for m in mailbox.to(ADMIN_EN)]
    assert subjects == [
        "The secret for Xledger – NBF expires in 30 days",
        "The secret for Xledger – NBF expires in 7 days",
        "The secret for Xledger – NBF expires today",
    ]
    kari = mailbox.body(mailbox.to(ADMIN_NB)[0])
    assert "gjelder til 13. februar 2027 (utløper om 30 dager)" in kari
    assert f"{PUBLIC}/o/nbf/integrations/{integration.id}/credentials" in kari


def test_the_dashboard_warns_and_shows_an_expired_secret_before_a_call_fails(
    app, auth, client, make, sandbox
):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    integration = connected(org)
    today = expiry.local_today("Europe/Oslo")
    expiry.store(integration, 1, today + dt.timedelta(days=12), None)
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "The secret expires in 12 days" in page
    assert 'data-state="connected"' in page
    SecretExpiry.update(valid_until=today - dt.timedelta(days=1)).execute()
    page = client.get("/o/nbf/?lang=en").get_data(as_text=True)
    assert "The secret expired on" in page and "exports and tests will fail" in page
    assert 'data-state="needs_attention"' in page  # before any call has failed
    assert Integration.get_by_id(integration.id).status == "connected"


def test_the_date_is_entered_with_the_secret_checked_and_a_rotation_clears_it(
    app, auth, client, make, sandbox
):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    token = csrf(client, "/o/nbf/")
    integration = connected(org)
    form = client.get(url(integration, "?lang=en")).get_data(as_text=True)
    assert 'type="date"' in form and "Secret valid until" in form

    values = {"environment": "production", "entity_code": ""}
    bad = submit(client, token, integration, valid_until="31.02.2027", **values)
    assert bad.status_code in (200, 400)
    assert "Enter the date as 31.12.2027" in bad.get_data(as_text=True)
    past = submit(client, token, integration, valid_until="2020-01-01", **values)
    assert "This date has passed" in past.get_data(as_text=True)
    assert SecretExpiry.select().count() == 0

    # The same secret, with its end date (Norwegian typing): stored on the set in use.
    end = utcnow().date() + dt.timedelta(days=200)
    response = submit(client, token, integration, valid_until=end.strftime("%d.%m.%Y"), **values)
    assert response.status_code in (200, 303)
    fresh = Integration.get_by_id(integration.id)
    assert expiry.of_set(fresh, fresh.active_credential_version) == end

    # A new secret without a date: the old date does not carry over.
    new_token = sandbox.new_xledger_token()
    submit(client, token, integration, api_token=new_token, **values)
    test = newest_test(integration)
    assert test.status == "passed"
    rotated = Integration.get_by_id(integration.id)
    assert rotated.active_credential_version != fresh.active_credential_version
    assert expiry.of_set(rotated, rotated.active_credential_version) is None
