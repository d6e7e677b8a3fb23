"""Entra token endpoint: success and every error row of ACCOUNTING_APIS.md §2.2."""

from __future__ import annotations

import re

import pytest
import requests

from sandbox import demo
from tests.sandbox.conftest import BC_SCOPE, DV_SCOPE, token_request

GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def assert_aadsts(response, status: int, error: str, code: int, starts: str) -> dict:
    """Check the full Entra error envelope and return the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: {starts}")
    assert re.search(
        rf"\r\nTrace ID: {GUID}\r\nCorrelation ID: {GUID}\r\nTimestamp: "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$",
        description,
    ), description
    assert re.fullmatch(GUID, body["trace_id"]) and re.fullmatch(GUID, body["correlation_id"])
    assert f"Trace ID: {body['trace_id']}" in description
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    return body


def test_client_credentials_token_for_each_resource(sandbox):
    for scope in (BC_SCOPE, DV_SCOPE, f"{demo.DATAVERSE_URL}//.default"):
        response = token_request(sandbox, scope=scope)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
        assert len(body["access_token"]) > 20
        assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}


def test_tenant_domain_and_basic_auth_are_accepted(sandbox):
    response = requests.post(
        f"{sandbox.url}/login.microsoftonline.com/{demo.TENANT_DOMAIN}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": BC_SCOPE},
        auth=(demo.CLIENT_ID, demo.CLIENT_SECRET),
        timeout=5,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("form", "tenant", "status", "error", "code", "starts"),
    [
        (
            {"client_secret": "wrong"},
            demo.TENANT_ID,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID, for a secret added to app "
            f"'{demo.CLIENT_ID}'.",
        ),
        (
            {"client_id": "00000000-1111-2222-3333-444444444444"},
            demo.TENANT_ID,
            400,
            "unauthorized_client",
            700016,
            "Application with identifier '00000000-1111-2222-3333-444444444444' was not found "
            f"in the directory '{demo.TENANT_DISPLAY_NAME}'. This can happen if the application "
            "has not been installed by the administrator of the tenant or consented to by any "
            "user in the tenant. You may have sent your authentication request to the wrong "
            "tenant.",
        ),
        (
            {},
            "11111111-2222-3333-4444-555555555555",
            400,
            "invalid_request",
            90002,
            "Tenant '11111111-2222-3333-4444-555555555555' not found. Check to make sure you "
            "have the correct tenant ID and are signing into the correct cloud. Check with your "
            "subscription administrator, this may happen if there are no active subscriptions "
            "for the tenant.",
        ),
        (
            {},
            "not_a_tenant!",
            400,
            "invalid_request",
            900023,
            "Specified tenant identifier 'not_a_tenant!' is neither a valid DNS name, nor a "
            "valid external domain.",
        ),
        (
            {"scope": "https://api.businesscentral.dynamics.com/user_impersonation"},
            demo.TENANT_ID,
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        ),
        (
            {"scope": f"{BC_SCOPE} {DV_SCOPE}"},
            demo.TENANT_ID,
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid.",
        ),
        (
            {"client_secret": None},
            demo.TENANT_ID,
            400,
            "invalid_request",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        ),
        (
            {"scope": "https://ledgerlink-typo.crm4.dynamics.com/.default"},
            demo.TENANT_ID,
            400,
            "invalid_resource",
            500011,
            "The resource principal named https://ledgerlink-typo.crm4.dynamics.com was not "
            f"found in the tenant named {demo.TENANT_DISPLAY_NAME}.",
        ),
    ],
    ids=[
        "wrong-secret",
        "unknown-client",
        "unknown-tenant",
        "malformed-tenant",
        "bad-scope",
        "mixed-resources",
        "missing-secret",
        "resource-not-in-tenant",
    ],
)
def test_token_error_rows(sandbox, form, tenant, status, error, code, starts):
    assert_aadsts(token_request(sandbox, tenant, **form), status, error, code, starts)


def test_expired_secret_through_the_inspection_api(sandbox, control):
    control.expire_client_secret(demo.CLIENT_ID)
    assert_aadsts(
        token_request(sandbox),
        401,
        "invalid_client",
        7000222,
        f"The provided client secret keys for app '{demo.CLIENT_ID}' are expired. Visit the "
        "Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
        "consider using certificate credentials for added security: https://aka.ms/certCreds.",
    )
    # A wrong secret is still reported as wrong, not as expired.
    assert token_request(sandbox, client_secret="nope").json()["error_codes"] == [7000215]
    control.restore_client_secret(demo.CLIENT_ID)
    assert token_request(sandbox).status_code == 200


def test_expired_secret_fault_for_one_client_only(sandbox, control):
    other = control.new_entra_app()
    control.set_fault(other["client_id"], "expired_secret")
    response = token_request(
        sandbox, client_id=other["client_id"], client_secret=other["client_secret"]
    )
    assert response.json()["error_codes"] == [7000222]
    assert token_request(sandbox).status_code == 200


def test_unknown_tenant_error_value_is_configurable(sandbox, control):
    control.settings(entra_unknown_tenant_error="invalid_tenant")
    response = token_request(sandbox, "nowhere.onmicrosoft.com")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert response.json()["error_codes"] == [90002]


def test_error_uri_follows_the_host_and_correlation_id_is_echoed(sandbox):
    correlation = "12345678-90ab-cdef-1234-567890abcdef"
    response = requests.post(
        f"{sandbox.url}/login.windows.net/{demo.TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": demo.CLIENT_ID,
            "client_secret": "wrong",
            "scope": BC_SCOPE,
        },
        headers={"client-request-id": correlation},
        timeout=5,
    )
    body = response.json()
    assert body["error_uri"] == "https://login.windows.net/error?code=7000215"
    assert body["correlation_id"] == correlation


def test_expires_in_is_configurable(control, sandbox):
    control.settings(token_expires_in=5)
    assert token_request(sandbox).json()["expires_in"] == 5
