"""Fake Entra ID client-credentials token endpoint.

`POST /{login host}/{tenant}/oauth2/v2.0/token`.

Every error row of ACCOUNTING_APIS.md §2.2 comes back with its exact status, `error`,
`error_codes`, AADSTS text, trace and correlation ids, timestamp and `error_uri`.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, request

from sandbox.faults import transport_faults
from sandbox.responses import json_response, note_error, utc_now
from sandbox.state import SandboxState

bp = Blueprint("entra", __name__)

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
DOMAIN = r"(?=.{4,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}"
HOSTS = "any(login.microsoftonline.com, login.windows.net)"
NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def aadsts_error(host: str, status: int, error: str, code: int, message: str) -> Response:
    """The Entra error body: AADSTS text plus trace id, correlation id and timestamp."""
    note_error(error)
    trace_id = str(uuid.uuid4())
    # Entra echoes the caller's `client-request-id` as the correlation id.
    given = request.headers.get("client-request-id", "")
    correlation_id = given if re.fullmatch(GUID, given) else str(uuid.uuid4())
    timestamp = utc_now().strftime("%Y-%m-%d %H:%M:%SZ")
    description = (
        f"AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    )
    body = {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://{host}/error?code={code}",
    }
    return json_response(body, status, {**NO_STORE, "x-ms-request-id": trace_id})


@bp.route(f"/<{HOSTS}:host>/<tenant>/oauth2/v2.0/token", methods=["POST"])
def token(host: str, tenant: str) -> Response:
    """Issue a client-credentials access token, or refuse it exactly as Entra does."""
    state = _state()
    form = request.form
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    basic = _basic_auth()
    if basic is not None:
        client_id, secret = client_id or basic[0], secret if secret is not None else basic[1]
    found_tenant = state.find_tenant(tenant)
    identities = [host, tenant.lower(), client_id]
    if found_tenant is not None:
        identities.append(found_tenant["id"])
    if (faulted := transport_faults(state, identities, "entra")) is not None:
        return faulted

    def fail(status: int, error: str, code: int, message: str) -> Response:
        return aadsts_error(host, status, error, code, message)

    if not re.fullmatch(f"{GUID}|{DOMAIN}", tenant):
        return fail(
            400,
            "invalid_request",
            900023,
            f"Specified tenant identifier '{tenant}' is neither a valid DNS name, "
            "nor a valid external domain.",
        )
    if found_tenant is None:
        return fail(
            400,
            state.settings["entra_unknown_tenant_error"],
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
            "are signing into the correct cloud. Check with your subscription administrator, "
            "this may happen if there are no active subscriptions for the tenant.",
        )
    grant_type = form.get("grant_type")
    for name, value in (("grant_type", grant_type), ("client_id", client_id)):
        if not value:
            return fail(
                400,
                "invalid_request",
                900144,
                f"The request body must contain the following parameter: '{name}'.",
            )
    if grant_type != "client_credentials":
        return fail(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    with state.lock:
        app = state.apps.get(client_id.lower())
        app = app if app is not None and app.tenant_id == found_tenant["id"] else None
    if app is None:
        return fail(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{found_tenant['name']}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant.",
        )
    if not secret:
        return fail(
            400,
            "invalid_request",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
        )
    if secret != app.secret:
        return fail(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'.",
        )
    if app.secret_expired or state.has_fault(identities, "expired_secret"):
        return fail(
            401,
            "invalid_client",
            7000222,
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit the "
            "Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
            "consider using certificate credentials for added security: "
            "https://aka.ms/certCreds.",
        )
    scope = form.get("scope", "")
    if not scope.strip():
        return fail(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    resource = scope_resource(scope)
    if resource is None:
        return fail(
            400,
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {scope} "
            "is not valid.",
        )
    if resource not in found_tenant["resources"]:
        return fail(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{found_tenant['name']}. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant. You "
            "might have sent your authentication request to the wrong tenant.",
        )
    access_token, expires_in = state.issue_access_token(found_tenant["id"], app.client_id, resource)
    return json_response(
        {
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access_token,
        },
        200,
        NO_STORE,
    )


def scope_resource(scope: str) -> str | None:
    """The one resource a client-credentials scope names (`{resource}/.default`), else None."""
    resources = set()
    for part in scope.split():
        if not part.endswith("/.default"):
            return None
        resource = part[: -len("/.default")].rstrip("/")
        if not re.fullmatch(
            r"(https://[A-Za-z0-9.-]+(:\d+)?(/[^\s]*)?|api://\S+|" + GUID + ")", resource
        ):
            return None
        resources.add(resource.lower())
    # All scopes of one request must belong to one resource.
    return resources.pop() if len(resources) == 1 else None


def _basic_auth() -> tuple[str, str] | None:
    """client_id and secret from HTTP Basic auth (each URL-encoded, as Entra expects)."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return unquote(user), unquote(password)


def bearer_token() -> str | None:
    """The access token of an `Authorization: Bearer …` header, or None."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
