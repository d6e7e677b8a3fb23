"""The small part of OData v4 query options Dataverse and Business Central callers use.

`$filter` is limited to `field eq value` clauses joined by `and` / `or` (`and` binds tighter);
values are 'quoted strings' ('' escapes a quote), numbers, GUIDs, true, false or null.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

_CLAUSE = re.compile(
    r"\s*\(?\s*(?P<field>[A-Za-z_][\w/]*)\s+eq\s+"
    r"(?P<value>'(?:[^']|'')*'|[^\s()]+)\s*\)?\s*"
)
_JOIN = re.compile(r"(and|or)\b", re.IGNORECASE)

Filter = list[list[tuple[str, Any]]]  # OR of ANDs


def parse_filter(text: str | None) -> Filter:
    """Parse `$filter`; raise ValueError on anything outside the supported subset."""
    if not text:
        return []
    groups: Filter = [[]]
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise ValueError(f"Syntax error at position {position} in '{text}'.")
        groups[-1].append((match["field"], _literal(match["value"])))
        position = match.end()
        if position == len(text):
            return groups
        join = _JOIN.match(text, position)
        if join is None:
            raise ValueError(f"Syntax error at position {position} in '{text}'.")
        if join.group(1).lower() == "or":
            groups.append([])
        position = join.end()


def _literal(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return text  # a bare GUID or enum value


def matches(item: dict[str, Any], groups: Filter) -> bool:
    if not groups:
        return True
    return any(all(_equal(item.get(field), value) for field, value in group) for group in groups)


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, Decimal) and not isinstance(actual, bool):
        try:
            return Decimal(str(actual)) == wanted
        except InvalidOperation:
            return False
    if isinstance(wanted, bool) or wanted is None:
        return actual is wanted or actual == wanted
    return str(actual).lower() == str(wanted).lower() if _is_guid(wanted) else actual == wanted


def _is_guid(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F-]{36}", value) is not None


def unknown_fields(groups: Filter, known: set[str]) -> list[str]:
    return [field for group in groups for field, _ in group if field not in known]


def select(item: dict[str, Any], fields: str | None, always: tuple[str, ...] = ()) -> dict:
    """Apply `$select` (keeping annotations and the key fields in `always`)."""
    if not fields:
        return item
    wanted = {f.strip() for f in fields.split(",")} | set(always)
    return {k: v for k, v in item.items() if k in wanted or k.startswith("@odata.")}


def next_link(base: str, params: dict[str, str]) -> str:
    """An absolute nextLink on the real host, with OData's `$`, quotes and commas readable."""
    return base + "?" + urlencode(params, quote_via=quote, safe="$'(),")


def non_negative_int(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise ValueError(f"Invalid value '{value}' for {name}: expected a non-negative integer.")
    return int(value)
