"""A claim's validation errors as (JSON Pointer, translated message) pairs, for the API's
problem documents and the CSV import's row/column problems alike."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from pydantic import ValidationError

MONEY_FIELDS = ("amount", "rate", "km")


def pointer(loc: tuple, base: str = "") -> str:
    """JSON Pointer for a pydantic location, without its union-branch labels."""
    parts = [
        str(p).replace("~", "~0").replace("/", "~1")
        for p in loc
        if not (
            isinstance(p, str) and (p in ("str", "int") or "[" in p or p.startswith("constrained-"))
        )
    ]
    return base + "".join(f"/{p}" for p in parts)


def from_validation(error: ValidationError, base: str = "") -> list[tuple[str, str]]:
    """One translated message per field, in body order."""
    out: dict[str, str] = {}
    for item in error.errors(include_url=False):
        where = pointer(item["loc"], base)
        if where not in out:
            out[where] = _message(item, where)
    return list(out.items())


def _message(item: Any, where: str) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    field = where.rsplit("/", 1)[-1]
    if kind == "missing":
        return _("Required.")
    if kind == "extra_forbidden":
        return _("Unknown field: remove it or check its spelling.")
    if kind == "value_error" and "identity_number" in str(ctx.get("error", "")):
        return _(
            "This looks like a national identity number (11 digits). Send the claimant's number in your organisation instead; Ledgerlink does not store identity numbers."
        )
    if kind == "value_error" and "time_range" in str(ctx.get("error", "")):
        return _("Expected a time between the years 2000 and 2100.")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        if field == "date":
            return _("Expected a date between the years 2000 and 2100.")
        if field not in MONEY_FIELDS:
            return _("The number is out of range.")
    if field in MONEY_FIELDS:
        return _(
            'Expected NOK as a string with at most two decimals, like "123.45", or whole øre as an integer, like 12345. Decimal numbers are not accepted.'
        )
    if kind.startswith("date_") or kind == "date_type":
        return _("Expected a date as YYYY-MM-DD, for example 2026-11-02.")
    if kind.startswith("datetime_") or kind.startswith("timezone_"):
        return _(
            "Expected a date and time with a time zone, for example 2026-11-02T10:15:00+01:00."
        )
    if kind == "string_too_long":
        return _("At most %(n)d characters.", n=ctx.get("max_length", 0))
    if kind == "string_too_short":
        return _("Must not be empty.")
    if kind == "string_pattern_mismatch" and field == "receipts_url":
        return _("Expected an https:// address.")
    if kind == "too_short":
        return _("At least %(n)d item(s).", n=ctx.get("min_length", 1))
    if kind == "too_long":
        return _("At most %(n)d items.", n=ctx.get("max_length", 0))
    if kind in ("string_type", "str_type"):
        return _("Expected text.")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _("Expected a whole number.")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("Expected an object.")
    if kind == "list_type":
        return _("Expected a list.")
    return _("This value is not valid.")
