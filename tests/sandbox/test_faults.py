"""Injected faults: each kind, per identity, set and cleared through the inspection API."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox import demo
from sandbox.client import SandboxClient
from sandbox.testing import running_sandbox
from tests.sandbox.conftest import access_token, bc_url, bearer, dv_url, token_request, xledger

TYPENAME = "{ __typename }"


def test_status_fault_for_n_requests_then_normal(sandbox, control):
    control.set_fault(demo.XLEDGER_TOKEN, "status", count=2, status=502)
    statuses = [xledger(sandbox, TYPENAME).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert control.faults() == []


def test_rate_limit_fault_has_retry_after(sandbox, control):
    control.set_fault(demo.CLIENT_ID, "rate_limit", count=1, retry_after=7)
    token_response = token_request(sandbox)
    assert token_response.status_code == 429
    assert token_response.headers["Retry-After"] == "7"

    token = access_token(sandbox)
    control.set_fault(demo.CLIENT_ID, "rate_limit", count=1, retry_after=2)
    response = requests.get(bc_url(sandbox, "companies"), headers=bearer(token), timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "Application_TooManyRequests"


def test_latency_fault_delays_only_its_target(sandbox, control):
    other = control.new_xledger_token()
    control.set_fault(demo.XLEDGER_TOKEN, "latency", count=1, seconds=0.3)
    started = time.monotonic()
    assert xledger(sandbox, TYPENAME, token=other).status_code == 200
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    assert "data" in xledger(sandbox, TYPENAME).json()
    assert time.monotonic() - started >= 0.3


def test_timeout_fault_outlasts_the_client_read_timeout():
    # A sandbox of its own: the sleeping request finishes after this test has moved on.
    with running_sandbox() as sandbox:
        control = SandboxClient(sandbox.url)
        token = access_token(sandbox, scope=f"{demo.DATAVERSE_URL}/.default")
        control.set_fault(token, "timeout", count=1, seconds=0.6)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(token), timeout=(2, 0.2))
        ok = requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(token), timeout=5)
        assert ok.status_code == 200


def test_xledger_timeout_says_query_timed_out(sandbox, control):
    control.set_fault(demo.XLEDGER_TOKEN, "timeout", count=1, seconds=0.05)
    body = xledger(sandbox, TYPENAME).json()
    assert body == {"errors": [{"message": "Your query timed out."}]}


def test_redirect_fault_points_at_another_host(sandbox, control):
    control.set_fault(demo.TENANT_ID, "redirect", count=1, location="https://evil.example")
    response = requests.post(
        f"{sandbox.url}/login.microsoftonline.com/{demo.TENANT_ID}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://evil.example/login.microsoftonline")


def test_revoked_fault_on_an_access_token(sandbox, control):
    token = access_token(sandbox)
    control.set_fault(token, "revoked")
    assert (
        requests.get(bc_url(sandbox, "companies"), headers=bearer(token), timeout=5).status_code
        == 401
    )
    fresh = access_token(sandbox)
    assert (
        requests.get(bc_url(sandbox, "companies"), headers=bearer(fresh), timeout=5).status_code
        == 200
    )


def test_faults_by_host_and_wildcard(sandbox, control):
    control.set_fault("demo.xledger.net", "status", count=1, status=500)
    assert xledger(sandbox, TYPENAME, host="www.xledger.net").status_code == 200
    assert xledger(sandbox, TYPENAME, host="demo.xledger.net").status_code == 500
    control.set_fault("*", "status", count=1)
    assert token_request(sandbox).status_code == 503


def test_clear_faults_per_target(sandbox, control):
    other = control.new_xledger_token()
    control.set_fault(demo.XLEDGER_TOKEN, "status")
    control.set_fault(other, "status")
    assert control.clear_faults(other) == 1
    assert xledger(sandbox, TYPENAME, token=other).status_code == 200
    assert xledger(sandbox, TYPENAME).status_code == 503
    assert control.clear_faults() == 1
    assert xledger(sandbox, TYPENAME).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"target": "x", "kind": "explode"},
        {"kind": "status"},
        {"target": "x", "kind": "status", "status": 404},
        {"target": "x", "kind": "latency", "seconds": "soon"},
        {"target": "x", "kind": "latency", "colour": "red"},
        {"target": "x", "kind": "status", "count": 0},
    ],
)
def test_bad_fault_requests_are_refused(sandbox, body):
    response = requests.post(f"{sandbox.url}/_sandbox/api/faults", json=body, timeout=5)
    assert response.status_code == 400
    assert "error" in response.json()


def test_revoked_fault_on_an_xledger_token(sandbox, control):
    other = control.new_xledger_token()
    control.set_fault(other, "revoked", count=1)
    body = xledger(sandbox, TYPENAME, token=other).json()
    assert body["errors"][0]["code"] == "UNAUTHENTICATED"
    assert "data" in xledger(sandbox, TYPENAME).json()
    assert "data" in xledger(sandbox, TYPENAME, token=other).json()


def test_fault_targets_match_case_insensitively(sandbox, control):
    control.set_fault(demo.CLIENT_ID.upper(), "status", count=1)
    assert token_request(sandbox).status_code == 503
