"""Each fake API's error envelope, built in one place so every path answers alike."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, has_request_context


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with the given status; `ensure_ascii=False` keeps æøå readable in bodies."""
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


def note_error(code: str | int | None) -> None:
    """Remember the error code this request is answered with, for the request log: a refusal
    such as Xledger's burst limit comes back as 200, so the status alone does not show it."""
    if has_request_context():
        g.sandbox_error = None if code is None else str(code)


def xledger_errors(*errors: dict[str, Any], status: int = 200) -> Response:
    """Xledger: GraphQL `errors` array, `code` beside `message` (ACCOUNTING_APIS §1.4)."""
    note_error(errors[0].get("code") if errors else None)
    return json_response({"errors": list(errors)}, status)


def dataverse_error(status: int, code: str, message: str) -> Response:
    """Dataverse: `{"error": {"code": "0x8…", "message": …}}` (§3.4)."""
    note_error(code)
    return json_response(
        {"error": {"code": code, "message": message}},
        status,
        {"OData-Version": "4.0", "REQ_ID": str(uuid.uuid4())},
    )


def bc_error(status: int, code: str, message: str) -> Response:
    """Business Central: the message ends with two spaces, `CorrelationId:`, two spaces (§4.3)."""
    note_error(code)
    correlation = str(uuid.uuid4())
    text = f"{message}  CorrelationId:  {correlation}."
    return json_response(
        {"error": {"code": code, "message": text}},
        status,
        {"request-id": correlation, "ms-correlation-x": correlation},
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with a `Z`, the form OData and Xledger timestamps take."""
    return (moment or utc_now()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
