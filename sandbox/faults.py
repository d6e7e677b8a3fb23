"""Injected transport faults shared by every fake API.

Each handler first works out who is calling (its identities: token, tenant, client id, host)
and calls `transport_faults`. System-specific faults (revoked, not_registered, credits …) are
checked by the handlers themselves, at the point where the real system would refuse.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import Literal

from flask import Response, request

from sandbox.responses import bc_error, dataverse_error, json_response, xledger_errors
from sandbox.state import SandboxState

Family = Literal["xledger", "entra", "dataverse", "business_central", "tripletex"]

DEFAULT_REDIRECT = "https://redirect.example.net"


def transport_faults(
    state: SandboxState, identities: Iterable[str], family: Family
) -> Response | None:
    """Apply redirect, timeout, latency, 5xx and 429 faults; a response ends the request."""
    identities = list(identities)
    matched = state.take_faults(
        identities, ["redirect", "timeout", "latency", "status", "rate_limit"]
    )
    by_kind: dict[str, list] = {}
    for fault in matched:
        by_kind.setdefault(fault.kind, []).append(fault)

    if "redirect" in by_kind:
        location = by_kind["redirect"][0].params.get("location", DEFAULT_REDIRECT)
        target = location.rstrip("/") + request.path
        return Response("", status=302, headers={"Location": target})
    if "timeout" in by_kind:
        seconds = float(
            by_kind["timeout"][0].params.get("seconds", state.settings["timeout_seconds"])
        )
        # The client is expected to give up first; whatever follows is for the log.
        time.sleep(seconds)
        return _timed_out(family)
    if "latency" in by_kind:
        time.sleep(sum(float(f.params.get("seconds", 1.0)) for f in by_kind["latency"]))
    if "status" in by_kind:
        status = int(by_kind["status"][0].params.get("status", 503))
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        return Response(f"{status} {phrase}".strip(), status=status, content_type="text/plain")
    if "rate_limit" in by_kind:
        retry_after = str(int(by_kind["rate_limit"][0].params.get("retry_after", 1)))
        response = _throttled(family)
        response.headers["Retry-After"] = retry_after
        return response
    return None


def _timed_out(family: Family) -> Response:
    if family == "xledger":
        return xledger_errors({"message": "Your query timed out."})
    if family == "business_central":
        return bc_error(504, "RequestTimeout", "The request has exceeded the maximum time allowed.")
    return Response("504 Gateway Timeout", status=504, content_type="text/plain")


def _throttled(family: Family) -> Response:
    if family == "xledger":
        return xledger_errors({"message": "Too many requests"}, status=429)
    if family == "dataverse":
        return dataverse_error(
            429,
            "0x80072322",
            "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        )
    if family == "tripletex":
        return json_response(
            {"status": 429, "code": 1000, "message": "Too many requests.", "requestId": "0"}, 429
        )
    if family == "business_central":
        return bc_error(
            429,
            "Application_TooManyRequests",
            "Too many requests reached.  Actual (6001).  Maximum (6000).",
        )
    return json_response(
        {
            "error": "temporarily_unavailable",
            "error_description": "The service is temporarily unavailable. Retry later.",
        },
        429,
    )
