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
