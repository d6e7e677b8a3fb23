"""Health and readiness, including a queue that points nowhere."""

from __future__ import annotations

from webapp import create_app


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_with_database_and_real_redis(app_config, redis_url):
    app = create_app({**app_config, "REDIS_URL": redis_url})
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()


def test_readyz_names_the_queue_when_redis_is_down(app_config):
    app = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["down"] == ["queue"]


def test_readyz_names_the_database_when_it_is_down(app_config):
    app = create_app({**app_config, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "database" in response.get_json()["down"]


def test_pages_needing_the_database_show_a_503_page_not_a_trace(app_config):
    app = create_app({**app_config, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    response = app.test_client().get("/auth/login")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "OperationalError" not in body
