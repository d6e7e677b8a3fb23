"""The sandbox Flask app: one blueprint per faked system, plus the control page.

Requests arrive as `/{real host}/{real path}` (docs/SANDBOX_CONTRACT.md); each blueprint
claims its host in its routes. This is not the product app: it has no config, no database.
"""

from __future__ import annotations

import re

from flask import Flask, Response, g, request
from werkzeug.routing import BaseConverter

from sandbox import business_central, control, dataverse, entra, tripletex, xledger
from sandbox.responses import bc_error, dataverse_error, iso_utc, json_response
from sandbox.state import SandboxState

DATAVERSE_HOST = r"[a-z0-9][a-z0-9-]*\.(?:api\.)?crm(?:[0-9]{1,2})?\.dynamics\.com"


class DataverseHostConverter(BaseConverter):
    """Matches any Dataverse environment host (validated by pattern, as adapters do)."""

    regex = DATAVERSE_HOST


def api_family(host: str) -> str | None:
    """Which fake serves this host segment, or None for an unknown host."""
    if host in ("www.xledger.net", "demo.xledger.net"):
        return "xledger"
    if host in ("login.microsoftonline.com", "login.windows.net"):
        return "entra"
    if host == "api.businesscentral.dynamics.com":
        return "business_central"
    if host in ("tripletex.no", "api-test.tripletex.tech"):
        return "tripletex"
    if re.fullmatch(DATAVERSE_HOST, host):
        return "dataverse"
    return None


def create_sandbox_app(state: SandboxState | None = None) -> Flask:
    """Build the sandbox app around `state` (a fresh demo state when None)."""
    app = Flask(__name__)
    app.config["SANDBOX_STATE"] = state if state is not None else SandboxState()
    app.url_map.converters["dataverse_host"] = DataverseHostConverter
    app.url_map.strict_slashes = False
    for module in (xledger, entra, dataverse, business_central, tripletex, control):
        app.register_blueprint(module.bp)

    @app.after_request
    def log_request(response: Response) -> Response:
        # Method, host, path, status and the answer's error code only: never headers, query
        # strings or bodies, which carry tokens and client secrets.
        host, _, rest = request.path.lstrip("/").partition("/")
        if host not in ("_sandbox", "favicon.ico"):
            app.config["SANDBOX_STATE"].log_request(
                {
                    "at": iso_utc(),
                    "api": api_family(host) or "unknown",
                    "method": request.method,
                    "host": host,
                    "path": "/" + rest,
                    "status": response.status_code,
                    "error": g.get("sandbox_error"),
                }
            )
        return response

    @app.errorhandler(404)
    def not_found(_error: Exception) -> Response:
        host = request.path.lstrip("/").partition("/")[0]
        family = api_family(host)
        if family == "business_central":
            return bc_error(
                404,
                "BadRequest_NotFound",
                "No HTTP resource was found that matches the request URI "
                f"'https://{request.path.lstrip('/')}'.",
            )
        if family == "dataverse":
            return dataverse_error(
                404, "0x8006088a", f"Resource not found for the segment '{host}'."
            )
        if family is None:
            return json_response({"error": "unknown host"}, 404)
        return json_response({"error": "not found"}, 404)

    @app.errorhandler(405)
    def method_not_allowed(_error: Exception) -> Response:
        return json_response({"error": f"method {request.method} not allowed here"}, 405)

    return app
