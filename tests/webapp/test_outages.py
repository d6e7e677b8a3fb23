"""Redis out of reach (finding 10): pages answer with a clear state, nothing is left queued or
orphaned, and the app works again by itself when Redis answers. The outage is real: the queue
points at a loopback port where nothing listens, then back at this run's Redis."""

from __future__ import annotations

import pytest

from tests.webapp.test_wizard import BASE, step_url, through_credentials
from tests.webapp.wizard_helpers import csrf, wait_for_test
from webapp.models import ConnectionTest, Integration

NOWHERE = "redis://127.0.0.1:9/0"  # the discard port: nothing answers there


@pytest.fixture
def org(auth, make):
    org = make.org("Norges Blindeforbund", slug="nbf")
    make.member(org, "kari@example.org", "coordinator_admin")
    auth.login("kari@example.org")
    return org


def use_redis(app, url: str | None) -> None:
    from webapp import queue

    app.config["REDIS_URL"] = url
    queue.init_app(app)


def test_with_redis_down_a_test_leaves_nothing_queued_and_works_once_it_is_back(
    app, client, org, redis_url
):
    token = csrf(client, f"{BASE}/new")
    use_redis(app, NOWHERE)
    integration = through_credentials(client, token)  # a setup still starts and goes on
    for step in ("mapping", "schedule"):
        client.post(step_url(integration, step), data={"csrf_token": token})
    response = client.post(step_url(integration, "test") + "?lang=en", data={"csrf_token": token})
    assert response.status_code == 503
    assert "cannot reach its database or job queue" in response.get_data(as_text=True)
    assert ConnectionTest.select().count() == 0
    assert Integration.get_by_id(integration.id).status == "draft"

    use_redis(app, None)  # back: in-process jobs, as in the embedded default
    response = client.post(step_url(integration, "test"), data={"csrf_token": token})
    assert response.status_code == 303
    test = wait_for_test(ConnectionTest.get().id)
    assert test.status == "passed", test.checks


def use_database(url: str) -> None:
    from webapp.db import db, open_database

    if not db.is_closed():
        db.close()
    db.initialize(open_database(url))


def test_with_postgresql_unreachable_pages_say_so_and_recover_when_it_answers(app, client, org):
    real = app.config["DATABASE_URL"]
    use_database("postgresql://postgres@127.0.0.1:9/ledgerlink")  # nothing listens there
    try:
        assert client.get("/healthz").status_code == 200  # does no I/O
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "database" in ready.get_data(as_text=True).lower()
        page = client.get("/o/nbf/?lang=en")
        assert page.status_code == 503
        assert "cannot reach its database or job queue" in page.get_data(as_text=True)
    finally:
        use_database(real)
    assert client.get("/o/nbf/").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_connections_ended_by_a_postgresql_restart_are_replaced(app, client, org):
    """A restart ends every open connection: a request that finds its connection dead says
    "temporarily unavailable" (never a 500), and the next one works on a new connection."""
    import psycopg

    from tests.services import PG_ADMIN_URL
    from webapp.db import db

    assert client.get("/o/nbf/").status_code == 200
    db.connect(reuse_if_open=True)  # held open, as a long request or a worker would
    name = app.config["DATABASE_URL"].rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    assert ended, "no connection of the app was open to end"
    statuses = [client.get("/o/nbf/").status_code for _ in range(3)]
    assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
    assert statuses.count(503) <= 1, statuses
