"""Fixtures: one sandbox for the whole module tree, reset before each test, and adapters
pointed at it with small timeouts and a sleep that records instead of waiting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.base import AdapterSettings
from adapters.business_central import BusinessCentralAdapter
from adapters.dataverse import DataverseAdapter
from adapters.entra import TokenCache
from adapters.http import HttpOptions
from adapters.xledger import XledgerAdapter
from sandbox import demo
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.testing import running_sandbox

ENTRA = {
    "tenant_id": demo.TENANT_ID,
    "client_id": demo.CLIENT_ID,
    "client_secret": demo.CLIENT_SECRET,
}
XLEDGER = {"api_token": demo.XLEDGER_TOKEN, "environment": "demo", "entity_code": "NBF"}
DATAVERSE = {**ENTRA, "environment_url": demo.DATAVERSE_URL, "table": demo.DATAVERSE_TABLE}
BC = {
    **ENTRA,
    "environment": demo.BC_ENVIRONMENT,
    "company": demo.BC_COMPANY_NAME,
    "journal": demo.BC_JOURNAL,
}


class Sleeps(list[float]):
    """Stands in for time.sleep: remembers each wait, returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxClient]:
    client = SandboxClient(sandbox.url)
    client.reset()
    yield client
    client.reset()


@pytest.fixture
def settings(sandbox: SandboxServer) -> AdapterSettings:
    return AdapterSettings(
        sandbox_url=sandbox.url,
        connect_timeout=1.0,
        read_timeout=2.0,
        max_attempts=3,
        max_retry_seconds=3.0,
        backoff_base=0.01,
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def tokens() -> TokenCache:
    # A cache per test: the sandbox forgets its tokens on reset, and tests count token calls.
    return TokenCache()


@pytest.fixture
def options(sleeps: Sleeps) -> HttpOptions:
    return HttpOptions(sleep=sleeps, jitter=lambda: 0.0)


@pytest.fixture
def xledger(
    control: SandboxClient, settings: AdapterSettings, options: HttpOptions
) -> Callable[..., XledgerAdapter]:
    def make(settings: AdapterSettings = settings, **credentials: Any) -> XledgerAdapter:
        return XledgerAdapter({**XLEDGER, **credentials}, settings, options=options)

    return make


@pytest.fixture
def dataverse(
    control: SandboxClient, settings: AdapterSettings, options: HttpOptions, tokens: TokenCache
) -> Callable[..., DataverseAdapter]:
    def make(settings: AdapterSettings = settings, **credentials: Any) -> DataverseAdapter:
        return DataverseAdapter(
            {**DATAVERSE, **credentials}, settings, options=options, tokens=tokens
        )

    return make


@pytest.fixture
def bc(
    control: SandboxClient, settings: AdapterSettings, options: HttpOptions, tokens: TokenCache
) -> Callable[..., BusinessCentralAdapter]:
    def make(settings: AdapterSettings = settings, **credentials: Any) -> BusinessCentralAdapter:
        return BusinessCentralAdapter(
            {**BC, **credentials}, settings, options=options, tokens=tokens
        )

    return make


def statuses(results: list) -> dict[str, str]:
    return {r.key: r.status for r in results}


def seen(control: SandboxClient, api: str) -> list[dict[str, Any]]:
    return [r for r in control.requests_seen() if r["api"] == api]
