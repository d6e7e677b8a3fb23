"""The `checks` queue jobs: connection tests through RQ, progress, failures, draft purging."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import time
import zlib

import pytest
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

from sandbox import demo
from tests.webapp.wizard_helpers import DATAVERSE, XLEDGER, wait_for_test
from webapp.db import utcnow
from webapp.models import AuditEvent, ConnectionTest, Integration, IntegrationCredential
from webapp.services import checks


def draft(org, type_key="xledger", values=None, **kw) -> Integration:
    from webapp.vault import get_vault

    integration = Integration.create(
        organization=org,
        type_key=type_key,
        name=type_key,
        status=kw.pop("status", "draft"),
        pending_credential_version=1,
        wizard_step="test",
        **kw,
    )
    get_vault().seal_set(integration, 1, values or XLEDGER)
    return integration


def start(app, integration: Integration) -> ConnectionTest:
    with app.test_request_context():
        return checks.start_test(integration, 1, None)


def test_a_test_shows_its_progress_while_the_job_runs(app, make, sandbox):
    integration = draft(make.org())
    sandbox.set_fault(demo.XLEDGER_TOKEN, "latency", seconds=0.3)
    test = start(app, integration)
    assert [c["status"] for c in test.checks] == ["waiting"] * 5
    deadline = time.monotonic() + 10
    seen = None
    while time.monotonic() < deadline:
        row = ConnectionTest.get_by_id(test.id)
        if row.status == "running":
            seen = row
            break
        time.sleep(0.01)
    assert seen is not None, "the row never showed the test running"
    assert [c["status"] for c in seen.checks] == ["running"] + ["waiting"] * 4
    final = wait_for_test(test.id)
    assert final.status == "passed"
    integration = Integration.get_by_id(integration.id)
    assert integration.last_test_outcome == "passed"
    assert integration.last_test_fingerprint == final.fingerprint
    assert integration.last_test_credential_version == 1
    event = AuditEvent.get(AuditEvent.action == "integration.tested")
    assert event.outcome == "passed" and event.target_id == integration.id


def test_the_job_runs_on_a_real_worker_with_ids_only(app, make, sandbox, redis_url):
    connection = Redis.from_url(redis_url)
    for key in connection.scan_iter("rq:*"):
        connection.delete(key)
    app.config["REDIS_URL"] = redis_url
    from webapp import queue

    queue.init_app(app)
    integration = draft(make.org(), "dynamics_dataverse", DATAVERSE)
    test = start(app, integration)
    job = Job.fetch(test.job_id, connection=connection)
    assert job.args == (integration.id, test.id) and job.kwargs == {}
    assert job.origin == "checks" and job.timeout == 60
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            SimpleWorker([Queue("checks", connection=connection)], connection=connection).work(
                burst=True
            )
    finally:
        for sig, handler in handlers.items():  # the worker installed its own
            signal.signal(sig, handler)
    assert ConnectionTest.get_by_id(test.id).status == "passed"
    # The secret never reached Redis, not even compressed inside a job.
    for key in connection.scan_iter("*"):
        for blob in _redis_values(connection, key):
            for data in (blob, _inflated(blob)):
                assert demo.CLIENT_SECRET.encode() not in (data or b""), key


def _redis_values(connection: Redis, key: bytes) -> list[bytes]:
    kind = connection.type(key).decode()
    values = [key]
    if kind == "string":
        values.append(connection.get(key))
    elif kind == "hash":
        for field, value in connection.hgetall(key).items():
            values += [field, value]
    elif kind == "list":
        values += connection.lrange(key, 0, -1)
    elif kind == "set":
        values += list(connection.smembers(key))
    elif kind == "zset":
        values += [member for member, _score in connection.zrange(key, 0, -1, withscores=True)]
    elif kind == "stream":
        for _id, fields in connection.xrange(key):
            for field, value in fields.items():
                values += [field, value]
    return [v for v in values if v]


def _inflated(blob: bytes) -> bytes | None:
    try:
        return zlib.decompress(blob)
    except zlib.error:
        return None


def test_a_job_that_dies_leaves_the_test_as_not_finished(app, make, monkeypatch):
    from webapp.jobs import checks as job_module

    integration = draft(make.org())
    with app.test_request_context():
        test = ConnectionTest.create(
            integration=integration,
            credential_version=1,
            fingerprint="f",
            status="queued",
            checks=checks.waiting_checks(job_module.get_type("xledger")),
        )

    def explode(*args, **kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(job_module, "adapter_for", explode)
    with app.app_context(), pytest.raises(RuntimeError):
        job_module.test_connection(integration.id, test.id)
    row = ConnectionTest.get_by_id(test.id)
    assert row.status == "error"
    assert {c["status"] for c in row.checks} == {"skipped"}
    # Delivered again, a finished test is left alone.
    with app.app_context():
        assert job_module.test_connection(integration.id, test.id) == "error"


def test_failing_tests_name_the_field_and_log_no_secret(app, make, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    org = make.org()
    expired = sandbox.new_entra_app()
    sandbox.expire_client_secret(expired["client_id"])
    cases = {
        "client_secret": {**DATAVERSE, **expired},
        "tenant_id": {**DATAVERSE, "tenant_id": "0b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10"},
        "environment_url": {**DATAVERSE, "environment_url": "https://nowhere.crm4.dynamics.com"},
    }
    secrets = [demo.CLIENT_SECRET, expired["client_secret"]]
    for field, values in cases.items():
        integration = draft(org, "dynamics_dataverse", values)
        test = wait_for_test(start(app, integration).id)
        assert test.status == "failed"
        failed = next(c for c in test.checks if c["status"] == "failed")
        assert failed["field"] == field, (field, failed)
        assert failed["message"]["nb"] and failed["message"]["en"]
    for secret in secrets:
        assert secret not in caplog.text
        for event in AuditEvent.select():
            assert secret not in event.detail and secret not in str(event.fields)


def test_purge_drafts_deletes_abandoned_drafts_with_their_credentials(app, make):
    org = make.org()
    old = draft(org)
    fresh = draft(org)
    saved = draft(org, status="connected")
    long_ago = utcnow() - dt.timedelta(hours=25)
    Integration.update(updated_at=long_ago).where(Integration.id.in_([old.id, saved.id])).execute()
    result = app.test_cli_runner().invoke(args=["integrations", "purge-drafts"])
    assert result.exit_code == 0, result.output
    assert "purged 1 draft integration(s)" in result.output
    remaining = {i.id for i in Integration.select()}
    assert remaining == {fresh.id, saved.id}
    assert (
        not IntegrationCredential.select()
        .where(IntegrationCredential.integration == old.id)
        .exists()
    )
    assert AuditEvent.select().where(AuditEvent.action == "integration.draft_purged").count() == 1
    from webapp.jobs.checks import purge_drafts

    with app.app_context():
        assert purge_drafts() == 0


def test_new_credentials_changed_during_their_test_stay_pending(app, make):
    from webapp.jobs import checks as job_module
    from webapp.vault import get_vault

    integration = draft(make.org(), status="connected")
    Integration.update(active_credential_version=1, pending_credential_version=2).where(
        Integration.id == integration.id
    ).execute()
    with app.app_context():
        get_vault().seal_set(integration, 2, {**XLEDGER, "api_token": "another-token-123"})
    # The test passed for other values than those stored now.
    test = ConnectionTest.create(
        integration=integration, credential_version=2, fingerprint="old", status="passed"
    )
    with app.app_context():
        job_module._use_rotated_set(Integration.get_by_id(integration.id), test)
    after = Integration.get_by_id(integration.id)
    assert after.active_credential_version == 1 and after.pending_credential_version == 2


def test_the_rate_limit_also_counts_per_person_across_integrations(app, make):
    app.config["TEST_RATE_LIMIT"] = 2
    org = make.org()
    person = make.user("kari@example.org")
    first, second = draft(org), draft(org)
    with app.test_request_context():
        started = [checks.start_test(first, 1, person) for _ in range(2)]
        with pytest.raises(checks.RateLimited) as limited:
            checks.start_test(second, 1, person)
        # Someone else may still test the second integration.
        started.append(checks.start_test(second, 1, make.user("ola@example.org")))
    for test in started:
        wait_for_test(test.id)
    wait_seconds = (limited.value.retry_at - utcnow()).total_seconds()
    assert 55 < wait_seconds <= 60 and limited.value.seconds <= 60


def test_parallel_presses_by_one_person_cannot_pass_the_limit(app, make):
    """Finding 6: requests at the same moment on different integrations all passed the
    per-person count; the person's row is now locked while counting (PostgreSQL)."""
    import threading

    from webapp.db import db

    app.config["TEST_RATE_LIMIT"] = 3
    org = make.org()
    person = make.user("kari@example.org")
    drafts = [draft(org) for _ in range(24)]
    barrier = threading.Barrier(len(drafts))
    outcomes: list[str] = []

    def press(integration: Integration) -> None:
        with app.test_request_context():
            barrier.wait(timeout=10)
            try:
                checks.start_test(integration, 1, person)
                outcomes.append("started")
            except checks.RateLimited:
                outcomes.append("limited")
            finally:
                if not db.is_closed():
                    db.close()

    threads = [threading.Thread(target=press, args=(d,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["limited"] * 21 + ["started"] * 3
    for test in ConnectionTest.select():
        wait_for_test(test.id)
