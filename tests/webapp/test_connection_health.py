"""Connection health end to end: the daily check finds a revoked token, opens one issue, mails
each coordinator-admin once in their language over a real SMTP server (aiosmtpd on loopback),
stays quiet on the second failure, mails the recovery, and the unsubscribe link works without
signing in."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

from tests.webapp.exporting import final_run, schedule, wait_for
from tests.webapp.health_helpers import (
    ADMIN_EN,
    ADMIN_NB,
    PUBLIC,
    READER,
    organisation,
    smtp_settings,
)
from webapp import devmail
from webapp.db import utcnow
from webapp.models import (
    ConnectionIssue,
    ExportItem,
    HealthCheck,
    Integration,
    Notification,
    SyncRun,
    SyncSchedule,
    User,
)
from webapp.services import scheduler
from webapp.services.exports import start_manual
from webapp.services.health import checks, notify, outcomes, probe


@pytest.fixture
def app_config(app_config, mailbox):
    return {**app_config, **smtp_settings(mailbox)}


def _daily_check(integration_id: int, after: dt.datetime) -> dt.datetime:
    """Let the scheduler tick at the integration's check time after `after`; returns it."""
    scheduler.tick(after)  # gives every saved integration its check time
    row = HealthCheck.get(HealthCheck.integration == integration_id)
    result = scheduler.tick(row.next_at)
    assert integration_id in result.checks
    return row.next_at


def test_revoked_token_opens_one_issue_mails_each_admin_once_and_recovery_once(
    app, sandbox, mailbox, client
):
    nbf = organisation(sandbox)
    integration = nbf.integration
    sandbox.revoke_xledger_token(nbf.token)
    secret_token = nbf.token

    _daily_check(integration.id, utcnow())
    issue = wait_for(
        lambda: ConnectionIssue.get_or_none(ConnectionIssue.integration == integration.id)
    )
    wait_for(lambda: len(mailbox.messages) >= 2)
    assert issue.kind == "auth" and issue.resolved_at is None
    assert Integration.get_by_id(integration.id).status == "needs_reauth"

    # One message per coordinator-admin, none to the read-only coordinator.
    assert [m["To"] for m in mailbox.messages].count(ADMIN_NB) == 1
    assert [m["To"] for m in mailbox.messages].count(ADMIN_EN) == 1
    assert mailbox.to(READER) == []
    kari, olav = mailbox.to(ADMIN_NB)[0], mailbox.to(ADMIN_EN)[0]
    # In each reader's language.
    assert (
        kari["Subject"] == "Trenger handling: Xledger – NBF – Regnskapssystemet avviste påloggingen"
    )
    assert (
        olav["Subject"]
        == "Action needed: Xledger – NBF – The accounting system rejected the sign-in"
    )
    assert kari["Content-Language"] == "nb" and olav["Content-Language"] == "en"
    kari_body, olav_body = mailbox.body(kari), mailbox.body(olav)
    assert "Skriv inn nye påloggingsopplysninger og test dem." in kari_body
    assert "Enter new credentials and test them." in olav_body
    # A link straight to where it is fixed, and never the secret.
    fix = f"{PUBLIC}/o/nbf/integrations/{integration.id}/credentials?reason=1"
    assert fix in kari_body and fix in olav_body
    for message in (kari, olav):
        assert secret_token not in message.as_string()
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith(f"<{PUBLIC}/unsubscribe/")

    # A second failure the same day counts on the same issue and sends nothing.
    assert probe.run_check(integration.id) == "failed"
    assert (
        ConnectionIssue.select().where(ConnectionIssue.integration == integration.id).count() == 1
    )
    assert ConnectionIssue.get_by_id(issue.id).count == 2
    assert len(mailbox.messages) == 2

    # The token works again: the next check closes the issue and mails the recovery once.
    sandbox.restore_xledger_token(nbf.token)
    assert probe.run_check(integration.id) == "passed"
    fixed = ConnectionIssue.get_by_id(issue.id)
    assert fixed.resolved_at is not None and fixed.resolved_source == "check"
    assert Integration.get_by_id(integration.id).status == "connected"
    assert len(mailbox.messages) == 4
    recovery = mailbox.to(ADMIN_EN)[1]
    assert recovery["Subject"] == "Fixed: Xledger – NBF works again"
    assert "Resolved: The accounting system rejected the sign-in" in mailbox.body(recovery)
    assert mailbox.to(ADMIN_NB)[1]["Subject"] == "Løst: Xledger – NBF virker igjen"
    assert probe.run_check(integration.id) == "passed"
    assert len(mailbox.messages) == 4

    # Unsubscribe with one click (RFC 8058), not signed in.
    link = mailbox.to(ADMIN_EN)[0]["List-Unsubscribe"].strip("<>")
    parts = urlsplit(link)
    response = client.post(f"{parts.path}?{parts.query}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "gets no more e-mail" in response.get_data(as_text=True)
    assert User.get_by_id(nbf.olav.id).notify == "off"
    # The token is revoked again the next day: a new issue, mailed to Kari only.
    sandbox.revoke_xledger_token(nbf.token)
    assert probe.run_check(integration.id, utcnow() + dt.timedelta(days=1)) == "failed"
    assert len(mailbox.to(ADMIN_NB)) == 3 and len(mailbox.to(ADMIN_EN)) == 2
    assert mailbox.to(ADMIN_NB)[-1]["Subject"].startswith("Trenger handling")


def test_unsubscribe_link_asks_first_and_refuses_a_forged_token(app, sandbox, client):
    nbf = organisation(sandbox)
    with app.test_request_context():
        from webapp.services.health import mail

        token = mail.unsubscribe_token(nbf.kari)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "kari@nbf.example" in page.get_data(as_text=True)
    assert User.get_by_id(nbf.kari.id).notify == "immediate"  # a GET changes nothing
    assert client.get(f"/unsubscribe/{token[:-2]}xx").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert User.get_by_id(nbf.kari.id).notify == "off"


def test_a_digest_reader_gets_one_message_a_day_from_seven(app, sandbox, mailbox):
    nbf = organisation(sandbox)
    User.update(notify="digest").where(User.id == nbf.kari.id).execute()
    sandbox.revoke_xledger_token(nbf.token)
    assert probe.run_check(nbf.integration.id) == "failed"
    assert mailbox.to(ADMIN_NB) == [] and len(mailbox.to(ADMIN_EN)) == 1
    assert Notification.get(Notification.user == nbf.kari.id).status == "digest"

    oslo_6 = dt.datetime.combine(utcnow().date() + dt.timedelta(days=1), dt.time(5, 0), dt.UTC)
    assert notify.deliver_digests(oslo_6) == 0  # 06:00 in Oslo (winter): not yet
    assert notify.deliver_digests(oslo_6 + dt.timedelta(hours=1, minutes=5)) == 1
    assert notify.deliver_digests(oslo_6 + dt.timedelta(hours=3)) == 0  # once a day
    (digest,) = mailbox.to(ADMIN_NB)
    assert "Regnskapssystemet avviste påloggingen" in mailbox.body(digest)


def test_seven_days_of_rejected_sign_ins_stop_the_schedule_until_the_credentials_pass(
    app, sandbox, mailbox
):
    nbf = organisation(sandbox)
    integration = nbf.integration
    schedule(integration, "daily", {"time": "02:00"})
    claim_count = 3
    from tests import factories

    for _ in range(claim_count):
        factories.claim(nbf.org, integration=integration)
    sandbox.revoke_xledger_token(nbf.token)
    start = utcnow()
    for day in range(8):
        assert probe.run_check(integration.id, start + dt.timedelta(days=day)) == "failed"
        stopped = SyncSchedule.get(SyncSchedule.integration == integration.id)
        assert (stopped.paused_reason is not None) == (day >= 7), day
    assert not stopped.enabled
    assert "Claims keep waiting" in stopped.paused_reason["en"]
    # Checks and scheduled exports stop trying; nothing is exported or lost.
    later = start + dt.timedelta(days=9)
    assert checks.claim_due(later) == []
    assert probe.run_check(integration.id, later) == "skipped"
    assert scheduler.tick(later).queued == []
    assert ExportItem.select().count() == 0
    # New credentials pass a test: the schedule runs again from its next slot.
    outcomes.succeeded(Integration.get_by_id(integration.id), "test", nbf.kari, later)
    again = SyncSchedule.get(SyncSchedule.integration == integration.id)
    assert again.enabled and again.paused_reason is None and again.next_run_at > later
    issue = ConnectionIssue.get(ConnectionIssue.integration == integration.id)
    assert issue.resolved_by_id == nbf.kari.id


def test_a_scheduled_export_checks_a_stale_connection_first(app, sandbox, mailbox):
    nbf = organisation(sandbox)
    from tests import factories

    factories.claim(nbf.org, integration=nbf.integration)
    sandbox.revoke_xledger_token(nbf.token)
    run = SyncRun.create(integration=nbf.integration, trigger="schedule", status="queued")
    from webapp.jobs.export import run_export

    assert run_export(nbf.integration.id, run.id) == "failed"
    checked = HealthCheck.get(HealthCheck.integration == nbf.integration.id)
    assert checked.last_outcome == "failed"
    finished = SyncRun.get_by_id(run.id)
    assert finished.total_count == 0  # stopped before any claim was sent
    assert "rejected the saved credentials" in finished.message["en"]
    (issue,) = ConnectionIssue.select()
    assert issue.kind == "auth" and issue.source == "check" and issue.count == 1


def test_an_export_refused_for_the_token_opens_the_issue(app, sandbox, mailbox):
    nbf = organisation(sandbox)
    from tests import factories

    factories.claim(nbf.org, integration=nbf.integration)
    sandbox.revoke_xledger_token(nbf.token)
    started = start_manual(nbf.integration, nbf.kari)
    assert final_run(started.run.id).error_kind == "auth"
    issue = wait_for(lambda: ConnectionIssue.get_or_none(ConnectionIssue.source == "export"))
    assert issue.kind == "auth"
    wait_for(lambda: len(mailbox.messages) == 2)


def test_a_provider_briefly_down_is_mailed_about_only_when_it_lasts_and_an_export_heals_it(
    app, sandbox, mailbox
):
    nbf = organisation(sandbox)
    from adapters.errors import TransientError
    from adapters.types import Text
    from tests import factories

    down = TransientError(Text("Nede.", "Down."), provider_code="connect")
    now = utcnow() - dt.timedelta(hours=2)
    outcomes.failed(nbf.integration, down, "check", now)
    assert mailbox.messages == []
    assert Integration.get_by_id(nbf.integration.id).status == "connected"
    outcomes.failed(nbf.integration, down, "check", now + dt.timedelta(minutes=70))
    assert len(mailbox.messages) == 2
    assert "could not be reached" in mailbox.to(ADMIN_EN)[0]["Subject"]

    factories.claim(nbf.org, integration=nbf.integration)
    started = start_manual(nbf.integration, nbf.kari)
    assert final_run(started.run.id).status == "succeeded"
    issue = wait_for(
        lambda: ConnectionIssue.get_or_none(ConnectionIssue.resolved_at.is_null(False))
    )
    assert issue.kind == "unreachable" and issue.resolved_source == "export"
    assert issue.resolved_by_id == nbf.kari.id
    wait_for(lambda: len(mailbox.messages) == 4)


def test_daily_checks_spread_over_the_day():
    """1,000 integrations: no hour of the day gets more than twice its share of checks."""
    midnight = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    hours = [checks.first_slot(i, midnight).hour for i in range(1, 1001)]
    per_hour = [hours.count(h) for h in range(24)]
    assert min(per_hour) > 0 and max(per_hour) <= 2 * 1000 / 24
    assert checks.first_slot(7, midnight) == checks.first_slot(7, midnight + dt.timedelta(hours=1))


def test_each_person_chooses_how_often_and_in_which_language(app, auth, client, make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator")
    auth.login("kari@example.org")
    page = client.get("/account/notifications?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="notify" value="digest"' in html and "Language of the e-mail" in html
    from tests.webapp.wizard_helpers import csrf

    token = csrf(client, "/account/notifications")
    bad = client.post(
        "/account/notifications", data={"csrf_token": token, "notify": "hourly", "locale": "de"}
    )
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "Choose how often you want e-mail" in text and "Choose Norwegian, English" in text
    saved = client.post(
        "/account/notifications", data={"csrf_token": token, "notify": "digest", "locale": "en"}
    )
    assert saved.status_code == 303
    kari = User.get(User.email == "kari@example.org")
    assert (kari.notify, kari.locale) == ("digest", "en")
    # Without the CSRF token nothing changes.
    assert client.post("/account/notifications", data={"notify": "off"}).status_code == 400
    assert User.get_by_id(kari.id).notify == "digest"


def test_a_mail_server_that_is_down_delays_the_message_but_does_not_lose_it(app, sandbox, mailbox):
    nbf = organisation(sandbox)
    app.config["SMTP_PORT"] = devmail.free_port()  # nothing listens there
    sandbox.revoke_xledger_token(nbf.token)
    assert probe.run_check(nbf.integration.id) == "failed"
    waiting = list(Notification.select())
    assert len(waiting) == 2 and {n.status for n in waiting} == {"queued"}
    assert {n.attempts for n in waiting} == {1}
    assert notify.any_waiting(utcnow() + dt.timedelta(minutes=2))
    app.config["SMTP_PORT"] = mailbox.port  # back up
    assert notify.deliver_pending(utcnow() + dt.timedelta(minutes=2)) == 2
    assert {n.status for n in Notification.select()} == {"sent"}
    assert sorted(m["To"] for m in mailbox.messages) == sorted([ADMIN_EN, ADMIN_NB])
