"""Shared fixtures: a real PostgreSQL database and Redis database per run, the OIDC mock
provider, the app, and `auth` to sign in through the real OpenID Connect flow."""

from __future__ import annotations

import os
import re
import signal
from urllib.parse import urljoin

import pytest
import requests
from oidc_provider_mock import User as OidcUser
from oidc_provider_mock import run_server_in_thread

from tests import factories, services

os.environ.setdefault("LEDGERLINK_ENV", "testing")


def _stop_gracefully(signum, frame):
    # pytest tears down on KeyboardInterrupt; a run ended with SIGTERM (a CI time-out, `kill`)
    # then still drops its database, releases its Redis number and stops its servers.
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _stop_gracefully)


@pytest.fixture(scope="session")
def postgres_url():
    services.ensure_postgres()
    with services.postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url():
    services.ensure_redis()
    with services.redis_database() as url:
        yield url


@pytest.fixture(scope="session")
def oidc_provider():
    """The oidc-provider-mock server on loopback; yields its issuer URL."""
    users = [
        OidcUser(
            sub="admin@example.org", claims={"email": "admin@example.org", "name": "Ada Admin"}
        ),
    ]
    with run_server_in_thread(port=0, require_nonce=True, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="session")
def sandbox_server():
    """The accounting sandbox on loopback for the whole run (burst limit off)."""
    from sandbox.testing import running_sandbox

    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server):
    """A client for the sandbox's inspection API, reset before and after each test (faults
    and tenant variations never reach the next test)."""
    from sandbox.client import SandboxClient

    client = SandboxClient(sandbox_server.url)
    client.reset()
    yield client
    client.reset()


@pytest.fixture(scope="session")
def migrated(postgres_url):
    """Apply the migrations once per run."""
    from webapp.db import init_database
    from webapp.migrate import upgrade

    database = init_database(postgres_url)
    with database.connection_context():
        upgrade(database)
    return postgres_url


def _truncate_all(database) -> None:
    from webapp.models import MODELS
    from webapp.models_runs import MODELS as RUNS

    names = ", ".join(f'"{m._meta.table_name}"' for m in MODELS + RUNS)
    with database.connection_context():
        database.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def app_config(migrated, oidc_provider, sandbox_server, tmp_path):
    return {
        "ENV_NAME": "testing",
        "TESTING": True,
        "DATABASE_URL": migrated,
        "REDIS_URL": None,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-for-testing",
        "OIDC_ISSUER": oidc_provider,
        "OIDC_CLIENT_ID": "ledgerlink-test",
        "OIDC_CLIENT_SECRET": "ledgerlink-test-secret",
        "ADMIN_EMAILS": ["admin@example.org"],
        "VAULT_KEYRING_FILE": str(tmp_path / "vault-keyring.json"),
        "SERVER_NAME": "localhost",
        "SANDBOX_URL": sandbox_server.url,
        # Small retry budget so failure paths finish quickly in tests.
        "ADAPTER_CONNECT_TIMEOUT": 2.0,
        "ADAPTER_READ_TIMEOUT": 5.0,
        "ADAPTER_MAX_ATTEMPTS": 2,
        "ADAPTER_MAX_RETRY_SECONDS": 2.0,
        "ADAPTER_BACKOFF_BASE": 0.05,
        "AUTO_MIGRATE": False,
    }


@pytest.fixture
def app(app_config):
    from webapp import create_app
    from webapp.db import db

    application = create_app(app_config)
    yield application
    # In-process jobs a test started must not run into the truncation below (a deadlock).
    queue = application.extensions.get("queue")
    if queue is not None:
        queue.close()
    if not db.is_closed():
        db.close()
    _truncate_all(db.obj)


@pytest.fixture
def auth(client, oidc_provider):
    return AuthActions(client, oidc_provider)


class AuthActions:
    """Sign in through the real OIDC flow: our app ↔ the mock provider over loopback."""

    def __init__(self, client, issuer: str) -> None:
        self.client = client
        self.issuer = issuer

    def start(self) -> str:
        """Begin sign-in; returns the provider's authorization URL."""
        response = self.client.get("/auth/login?start=1")
        assert response.status_code == 302, response.data
        return response.headers["Location"]

    def authorize(self, authorize_url: str, email: str, action: str | None = None) -> str:
        """Answer the provider's form as the person would; returns our callback URL."""
        data = {"action": action} if action else {"sub": email}
        response = requests.post(authorize_url, data=data, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), response.text[:500]
        return urljoin(authorize_url, response.headers["Location"])

    def login(self, email: str):
        callback = self.authorize(self.start(), email)
        return self.client.get(_local_path(callback))

    def logout(self):
        return self.client.post("/auth/logout", data={"csrf_token": self.csrf_token()})

    def csrf_token(self, path: str = "/auth/signed-out") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, "page has no CSRF token"
        return match.group(1)


def _local_path(url: str) -> str:
    """Strip scheme and host so the test client can follow our own callback."""
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.fixture
def make(app):
    """Model factories bound to the test database (see tests/factories.py)."""
    return factories
