"""RFC 9457 problem responses in the request's language (messages: services.claims.messages)."""

from __future__ import annotations

import json

from flask import Response
from flask_babel import gettext as _

from webapp.services.claims.messages import from_validation, pointer

PROBLEM_TYPE = "https://ledgerlink.no/problems/"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors or [],
    }
    response = Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        mimetype="application/problem+json",
    )
    response.headers["Content-Language"] = _content_language()
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _content_language() -> str:
    from webapp.i18n import current_locale

    return current_locale()


def invalid(errors: list[tuple[str, str]]) -> Response:
    """422: the body is JSON but some fields are wrong; each error names its field."""
    return problem(
        422,
        "invalid-claim",
        _("The claim is not valid"),
        _("Correct the fields listed in errors and send the request again."),
        [{"pointer": pointer, "detail": detail} for pointer, detail in errors],
    )


__all__ = ["PROBLEM_TYPE", "from_validation", "invalid", "pointer", "problem"]
