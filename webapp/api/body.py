"""Reading a JSON request body without ever answering 500: size, UTF-8, NUL, floats."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import current_app, request
from flask_babel import gettext as _

DEFAULT_MAX_BODY = 2 * 1024 * 1024


class BodyProblem(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(code)
        self.status, self.code, self.title, self.detail = status, code, title, detail


def max_body() -> int:
    return int(current_app.config.get("API_MAX_BODY", DEFAULT_MAX_BODY))


def raw() -> bytes:
    """The body's bytes, refused when over the size limit (read no further than it)."""
    limit = max_body()
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _too_large(limit: int) -> BodyProblem:
    return BodyProblem(
        413,
        "body-too-large",
        _("The request is too large"),
        _("Send at most %(mb)s MB at a time; split the batch.", mb=f"{limit / 1048576:g}"),
    )


def parse(data: bytes) -> object:
    """JSON from UTF-8 bytes; numbers with a fraction stay Decimal so they can be refused."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BodyProblem(
            415,
            "unsupported-media-type",
            _("Send JSON"),
            _("Set Content-Type: application/json and send the claim as JSON."),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyProblem(
            400, "bad-encoding", _("The body is not UTF-8"), _("Send the JSON encoded as UTF-8.")
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BodyProblem(
            400,
            "bad-json",
            _("The body is not valid JSON"),
            _("Check the JSON syntax near character %(pos)d.", pos=getattr(exc, "pos", 0) or 0),
        ) from None
    try:
        nul = _has_nul(value)
    except RecursionError:
        nul = True
    if nul:
        raise BodyProblem(
            400,
            "nul-character",
            _("The body contains a character that cannot be stored"),
            _("Remove NUL (\\u0000) characters and unpaired surrogates from the text fields."),
        )
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        # A lone surrogate ("\ud800") is valid JSON but cannot be stored as UTF-8.
        return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
