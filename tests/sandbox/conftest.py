"""Fixtures: a fresh sandbox on a loopback port per test, and helpers to call its fakes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import demo
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import running_sandbox

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
DV_SCOPE = f"{demo.DATAVERSE_URL}/.default"


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def sandbox(shared_sandbox: SandboxServer) -> SandboxServer:
    """The session's sandbox, back at its demo start (a reset is far cheaper than a restart)."""
    shared_sandbox.state.clock = time.monotonic
    shared_sandbox.state.reset()
    return shared_sandbox


@pytest.fixture
def control(sandbox: SandboxServer) -> SandboxClient:
    return SandboxClient(sandbox.url)


def xledger(
    sandbox: SandboxServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = demo.XLEDGER_TOKEN,
    host: str = "www.xledger.net",
    scheme: str = "token",
) -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.post(
        f"{sandbox.url}/{host}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=10,
    )


def token_request(
    sandbox: SandboxServer, tenant: str = demo.TENANT_ID, **form: str | None
) -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": demo.CLIENT_ID,
        "client_secret": demo.CLIENT_SECRET,
        "scope": BC_SCOPE,
        **form,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post(
        f"{sandbox.url}/login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        data=data,
        timeout=10,
    )


def access_token(sandbox: SandboxServer, scope: str = BC_SCOPE, **form: str) -> str:
    response = token_request(sandbox, scope=scope, **form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bc_url(
    sandbox: SandboxServer,
    path: str = "",
    *,
    tenant: str = demo.TENANT_ID,
    environment: str = demo.BC_ENVIRONMENT,
) -> str:
    return f"{sandbox.url}/{demo.BC_HOST}/v2.0/{tenant}/{environment}/api/v2.0/{path}"


def company_url(sandbox: SandboxServer, path: str = "") -> str:
    return bc_url(sandbox, f"companies({demo.BC_COMPANY_ID})/{path}")


def dv_url(sandbox: SandboxServer, path: str = "", host: str = demo.DATAVERSE_HOST) -> str:
    return f"{sandbox.url}/{host}/api/data/v9.2/{path}"


def real_to_sandbox(sandbox: SandboxServer, url: str) -> str:
    """What an adapter does in sandbox mode: https://{host}/{path} → {base}/{host}/{path}."""
    assert url.startswith("https://"), url
    return f"{sandbox.url}/{url.removeprefix('https://')}"
