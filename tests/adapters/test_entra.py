"""Entra client-credentials tokens: caching, renewal and every §2.2 refusal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import requests

from adapters.dataverse import DataverseAdapter
from adapters.entra import TokenCache, entra_error
from adapters.errors import AuthError, ConfigError, PermissionError, TransientError
from sandbox import demo
from sandbox.client import SandboxClient
from tests.adapters.conftest import seen

Make = Callable[..., DataverseAdapter]


def token_calls(control: SandboxClient) -> int:
    return len(seen(control, "entra"))


def test_one_token_serves_many_calls_and_adapters(dataverse: Make, control: SandboxClient) -> None:
    assert all(r.status == "passed" for r in dataverse().test_connection())
    dataverse().find_exported(["LL-1"])
    dataverse().find_exported(["LL-2"])
    assert token_calls(control) == 1


def test_token_is_renewed_shortly_before_it_expires(
    control: SandboxClient, settings, options
) -> None:
    now = [0.0]
    tokens = TokenCache(clock=lambda: now[0])
    adapter = DataverseAdapter(
        {
            "tenant_id": demo.TENANT_ID,
            "client_id": demo.CLIENT_ID,
            "client_secret": demo.CLIENT_SECRET,
            "environment_url": demo.DATAVERSE_URL,
            "table": demo.DATAVERSE_TABLE,
        },
        settings,
        options=options,
        tokens=tokens,
    )
    adapter.find_exported(["LL-1"])
    now[0] = 3599 - 61  # still more than a minute left
    adapter.find_exported(["LL-1"])
    assert token_calls(control) == 1
    now[0] = 3599 - 59  # within the last minute: renew
    adapter.find_exported(["LL-1"])
    assert token_calls(control) == 2


def test_a_token_the_api_refuses_is_renewed_once(dataverse: Make, control: SandboxClient) -> None:
    adapter = dataverse()
    adapter.find_exported(["LL-1"])
    control.expire_access_tokens()
    assert adapter.find_exported(["LL-1"]) == {}
    assert token_calls(control) == 2
    # The first readback also reads the table's definition and keys (metadata) once.
    assert [r["status"] for r in seen(control, "dataverse")] == [200, 200, 200, 401, 200]


def test_wrong_secret(dataverse: Make) -> None:
    result = dataverse(client_secret="not-the-secret-value").test_connection()[2]
    assert (result.status, result.field, result.provider_code) == (
        "failed",
        "client_secret",
        "AADSTS7000215",
    )
    assert "not the Secret ID" in result.message.en


def test_expired_secret(dataverse: Make, control: SandboxClient) -> None:
    app = control.new_entra_app()
    control.expire_client_secret(app["client_id"])
    result = dataverse(**app).test_connection()[2]
    assert (result.field, result.provider_code) == ("client_secret", "AADSTS7000222")
    assert result.message.nb.startswith("Microsoft avviste klienthemmeligheten: den er utløpt.")
    assert "Certificates & secrets" in result.message.en


def test_expired_secret_fault(dataverse: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "expired_secret")
    with pytest.raises(AuthError) as caught:
        dataverse().find_exported(["LL-1"])
    assert caught.value.provider_code == "AADSTS7000222"


def test_unknown_client_id(dataverse: Make) -> None:
    result = dataverse(client_id=str(uuid.uuid4())).test_connection()[2]
    assert (result.field, result.provider_code) == ("client_id", "AADSTS700016")


@pytest.mark.parametrize("error", ["invalid_request", "invalid_tenant"])
def test_unknown_tenant(dataverse: Make, control: SandboxClient, error: str) -> None:
    control.settings(entra_unknown_tenant_error=error)
    result = dataverse(tenant_id=str(uuid.uuid4())).test_connection()[2]
    assert (result.field, result.provider_code) == ("tenant_id", "AADSTS90002")


def test_tenant_given_as_verified_domain(dataverse: Make) -> None:
    assert all(
        r.status == "passed" for r in dataverse(tenant_id=demo.TENANT_DOMAIN).test_connection()
    )


def test_environment_of_another_tenant(dataverse: Make) -> None:
    result = dataverse(environment_url="https://someone-else.crm4.dynamics.com").test_connection()[
        2
    ]
    assert (result.field, result.provider_code) == ("environment_url", "AADSTS500011")


def response(status: int, body: dict | None) -> requests.Response:
    built = requests.Response()
    built.status_code = status
    built._content = json.dumps(body).encode() if body is not None else b""
    return built


def aadsts(code: int, error: str) -> dict:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: Something.\r\nTrace ID: x\r\nCorrelation ID: y",
        "error_codes": [code],
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


@pytest.mark.parametrize(
    ("status", "body", "kind", "field"),
    [
        (401, aadsts(7000215, "invalid_client"), AuthError, "client_secret"),
        (401, aadsts(7000222, "invalid_client"), AuthError, "client_secret"),
        (400, aadsts(700016, "unauthorized_client"), AuthError, "client_id"),
        (400, aadsts(90002, "invalid_request"), ConfigError, "tenant_id"),
        (400, aadsts(90002, "invalid_tenant"), ConfigError, "tenant_id"),
        (400, aadsts(900023, "invalid_request"), ConfigError, "tenant_id"),
        (400, aadsts(70011, "invalid_scope"), ConfigError, "environment_url"),
        (400, aadsts(7000218, "invalid_request"), AuthError, "client_secret"),
        (400, aadsts(90014, "invalid_request"), AuthError, "client_secret"),
        (400, aadsts(500011, "invalid_resource"), ConfigError, "environment_url"),
        (400, aadsts(7000112, "unauthorized_client"), PermissionError, "client_id"),
        (400, {"error": "invalid_resource"}, ConfigError, "environment_url"),
        (400, {"error": "something_new"}, AuthError, None),
    ],
)
def test_every_documented_refusal_is_typed(status, body, kind, field) -> None:
    error = entra_error(response(status, body), "environment_url")
    assert type(error) is kind
    assert error.field == field
    assert error.message.nb and error.message.en


def test_resource_errors_without_a_resource_field_name_the_tenant_problem() -> None:
    error = entra_error(response(400, aadsts(500011, "invalid_resource")), None)
    assert isinstance(error, ConfigError) and error.field is None
    assert "tenant" in error.message.en


def test_throttled_token_endpoint_is_retried(
    dataverse: Make, control: SandboxClient, sleeps
) -> None:
    control.set_fault(demo.CLIENT_ID, "rate_limit", count=1, retry_after=1)
    dataverse().find_exported(["LL-1"])
    assert sleeps == [1.0]


def test_token_endpoint_down_is_transient(dataverse: Make, control: SandboxClient) -> None:
    control.set_fault(demo.CLIENT_ID, "status", status=503)
    with pytest.raises(TransientError) as caught:
        dataverse().find_exported(["LL-1"])
    assert caught.value.provider_code == "503"
    assert len(seen(control, "entra")) == 3
