"""`python -m sandbox` as a process of its own (what the export benchmark posts to)."""

from __future__ import annotations

import pytest
import requests

from sandbox.client import SandboxClient
from sandbox.testing import sandbox_process


def test_the_sandbox_runs_alone_and_stops_with_the_block():
    with sandbox_process() as url:
        control = SandboxClient(url)
        token = control.new_xledger_token()
        answer = requests.post(
            f"{url}/www.xledger.net/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"token {token}"},
            timeout=5,
        )
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert control.settings()["burst_limit"] is False
        assert [r["status"] for r in control.requests_seen()] == [200]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sandbox/api/settings", timeout=5)


def test_the_burst_limit_can_be_on_from_the_start():
    with sandbox_process(burst_limit=True) as url:
        assert SandboxClient(url).settings()["burst_limit"] is True
