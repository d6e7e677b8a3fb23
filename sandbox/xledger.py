"""Fake Xledger GraphQL API (`POST /{www|demo}.xledger.net/graphql`).

Follows docs/SANDBOX_CONTRACT.md: auth rules, relay connections with cursor = dbId, and
`addGLImportItems` that stages every line, validates each voucher and posts the valid ones.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, current_app, request

from sandbox import demo
from sandbox.faults import transport_faults
from sandbox.graphql import GraphQLSyntaxError, parse_operation
from sandbox.responses import iso_utc, json_response, utc_now, xledger_errors
from sandbox.state import SandboxState

bp = Blueprint("xledger", __name__)

BAD_FORMAT = {
    "message": 'Bad format for API Token. Expected header: "Authorization: token <your-token>"'
}
UNKNOWN_TOKEN = {"message": "Invalid or expired API token", "code": "UNAUTHENTICATED"}
# How a refused token reads (variation `xledger_auth_refusal`, ACCOUNTING_APIS §8).
REFUSALS = {
    "invalid_token": UNKNOWN_TOKEN,
    "unauthorized": {"message": "Unauthorized"},
    "access_denied": {"message": "Access denied"},
}
# Accounts an entity with its own chart does not have (variation `xledger_chart`).
OWN_CHART_LACKS = {"6860", "7150", "2910"}
# Lists a role may lack (variation `xledger_reference_lists`).
OPTIONAL_LISTS = {"projects", "objectKinds", "objectValues"}
TOKEN_PATTERN = r"^[A-Za-z0-9._~-]{8,}$"
HOSTS = "any(" + ", ".join(demo.XLEDGER_HOSTS) + ")"

# Root connection → (node type name for messages, dataset name in access errors).
CONNECTIONS = {
    "entities": ("Entity", "Entities"),
    "accounts": ("Account", "Accounts"),
    "projects": ("Project", "Projects"),
    "objectKinds": ("ObjectKind", "Object Kinds"),
    "objectValues": ("ObjectValue", "Object Values"),
    "glImportItems": ("GLImportItem", "GL Import Items"),
    "glImportItemErrors": ("GLImportItemError", "GL Import Items"),
}
MUTATIONS = {"addGLImportItems"}


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


@bp.route(f"/<{HOSTS}:host>/graphql", methods=["POST"])
@bp.route(f"/<{HOSTS}:host>/GraphQL", methods=["POST"])
def graphql(host: str) -> Response:
    """Answer one GraphQL request the way Xledger would."""
    state = _state()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    well_formed = scheme == "token" and re.fullmatch(TOKEN_PATTERN, token) is not None
    identities = [host] + ([token] if well_formed else [])

    if (faulted := transport_faults(state, identities, "xledger")) is not None:
        return faulted
    if not well_formed:
        return xledger_errors(BAD_FORMAT)
    made_in_demo = state.settings["xledger_token_origin"] == "demo"
    if (
        not state.xledger_token_valid(token)
        or state.has_fault(identities, "revoked")
        or (made_in_demo and host != "demo.xledger.net")
    ):
        status = 401 if state.settings["xledger_unknown_token"] == "401" else 200
        refusal = REFUSALS[state.settings["xledger_auth_refusal"]]
        return xledger_errors(refusal, status=status)
    if not state.burst_allows(token):
        return xledger_errors(
            {
                "message": "Too many requests. Burst rate limit reached, try again in a few "
                "seconds.",
                "code": "BAD_REQUEST.BURST_RATE_LIMIT_REACHED",
            }
        )
    if (credits := state.has_fault(identities, "credits")) is not None:
        reset_at = credits.params.get("reset_at") or iso_utc(utc_now() + timedelta(minutes=20))
        return xledger_errors(
            {
                "message": "Not enough credits",
                "code": "BAD_REQUEST.INSUFFICIENT_CREDITS",
                "extensions": {"resetAt": reset_at},
            }
        )

    try:
        query, variables = _read_body()
        operation = parse_operation(query, variables)
    except (GraphQLSyntaxError, ValueError) as error:
        return xledger_errors({"message": str(error)})

    if operation.field == "__typename":
        return json_response({"data": {"__typename": operation.kind.capitalize()}})
    lists = state.settings["xledger_reference_lists"]
    if operation.field in OPTIONAL_LISTS and lists == "missing":
        return xledger_errors(
            {"message": f"Cannot query field `{operation.field}` on type `Query`"}
        )
    if operation.kind == "query" and operation.field in CONNECTIONS:
        if state.has_fault(identities, "no_read_scope") or (
            operation.field in OPTIONAL_LISTS and lists == "denied"
        ):
            dataset = CONNECTIONS[operation.field][1]
            return xledger_errors(
                {
                    "message": f"Access denied: the API token has no read access to {dataset}",
                    "code": "FORBIDDEN",
                }
            )
        return _connection(state, operation.field, operation.arguments)
    if operation.kind == "mutation" and operation.field in MUTATIONS:
        return _add_gl_import_items(state, host, operation.arguments)
    type_name = "Mutation" if operation.kind == "mutation" else "Query"
    return xledger_errors(
        {"message": f"Cannot query field `{operation.field}` on type `{type_name}`"}
    )


def _read_body() -> tuple[str, dict[str, Any]]:
    # A file upload sends the JSON {query, variables} in a form field named `content`.
    if request.mimetype == "multipart/form-data":
        raw = request.form.get("content", "")
    else:
        raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"Request body is not valid JSON: {error.msg}") from None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ValueError("Must provide query string.")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise ValueError("Variables must be an object.")
    return body["query"], variables


# --- connections ---------------------------------------------------------------------------


def _connection(state: SandboxState, field: str, arguments: dict[str, Any]) -> Response:
    type_name = CONNECTIONS[field][0]
    with state.lock:
        if field == "glImportItems":
            nodes = [dict(item) for item in state.xledger_items]
        elif field == "glImportItemErrors":
            nodes = [dict(error) for error in state.xledger_errors]
        else:
            nodes = REFERENCE_NODES[field]
        if field == "accounts" and state.settings["xledger_chart"] == "own":
            nodes = [n for n in nodes if n["code"] not in OWN_CHART_LACKS]
    try:
        nodes = _filter(nodes, arguments.get("filter") or {}, type_name)
        page, page_info = _page(state, nodes, arguments)
    except ValueError as error:
        return xledger_errors(
            {"message": str(error), "extensions": {"code": "INVALID_VALUE"}},
        )
    edges = [{"cursor": node["dbId"], "node": node} for node in page]
    return json_response({"data": {field: {"edges": edges, "pageInfo": page_info}}})


_OPERATORS = ("_in", "_gte", "_gt", "_lte", "_lt")


def _filter(nodes: list[dict], filters: dict[str, Any], type_name: str) -> list[dict]:
    if not isinstance(filters, dict):
        raise ValueError(f'Argument "filter" has invalid value: expected {type_name}_Filter.')
    result = nodes
    for key, wanted in filters.items():
        field, operator = key, ""
        for suffix in _OPERATORS:
            if key.endswith(suffix):
                field, operator = key[: -len(suffix)], suffix
                break
        if nodes and not any(field in node for node in nodes):
            raise ValueError(f'Field "{key}" is not defined by type "{type_name}_Filter".')
        result = [n for n in result if _matches(n.get(field), operator, wanted)]
    return result


def _matches(value: Any, operator: str, wanted: Any) -> bool:
    if operator == "_in":
        return str(value) in {str(w) for w in (wanted or [])}
    if operator == "":
        return str(value) == str(wanted)
    if value is None:
        return False
    left, right = _comparable(value), _comparable(wanted)
    return {
        "_gte": left >= right,
        "_gt": left > right,
        "_lte": left <= right,
        "_lt": left < right,
    }[operator]


def _comparable(value: Any) -> Any:
    try:
        return (0, Decimal(str(value)))
    except InvalidOperation:
        return (1, str(value))


def _page(
    state: SandboxState, nodes: list[dict], arguments: dict[str, Any]
) -> tuple[list[dict], dict[str, bool]]:
    """Relay paging where the cursor is the dbId (Xledger's convention)."""
    limit = state.settings["xledger_max_first"]
    nodes = sorted(nodes, key=lambda n: int(n["dbId"]))
    first, last = arguments.get("first"), arguments.get("last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (not isinstance(value, int) or not 0 <= value <= limit):
            raise ValueError(f'Argument "{name}" must be an integer between 0 and {limit}.')
    after, before = arguments.get("after"), arguments.get("before")
    start, end = 0, len(nodes)
    if after is not None:
        start = sum(1 for n in nodes if int(n["dbId"]) <= _cursor(after))
    if before is not None:
        end = sum(1 for n in nodes if int(n["dbId"]) < _cursor(before))
    window = nodes[start:end]
    has_next, has_previous = end < len(nodes), start > 0
    if first is None and last is None:
        first = limit
    if first is not None:
        has_next = has_next or len(window) > first
        window = window[:first]
    if last is not None:
        has_previous = has_previous or len(window) > last
        window = window[len(window) - last :] if last else []
    return window, {"hasNextPage": has_next, "hasPreviousPage": has_previous}


def _cursor(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid cursor {value!r}: expected a dbId.") from None


# --- addGLImportItems ----------------------------------------------------------------------


def _add_gl_import_items(state: SandboxState, host: str, arguments: dict[str, Any]) -> Response:
    inputs = arguments.get("inputs")
    if not isinstance(inputs, list) or not all(
        isinstance(i, dict) and isinstance(i.get("node"), dict) for i in inputs
    ):
        return xledger_errors(
            {
                "message": 'Argument "inputs" has invalid value: expected '
                "[AddGLImportItemsInput!]! where each element has a `node` object.",
                "extensions": {"code": "ARGUMENTS_OF_CORRECT_TYPE"},
            }
        )
    if len(inputs) > state.settings["xledger_max_inputs"]:
        limit = state.settings["xledger_max_inputs"]
        return xledger_errors(
            {
                "message": f"Too many inputs: at most {limit} per call",
                "code": "BAD_REQUEST.TOO_MANY_INPUTS",
            }
        )

    now = iso_utc()
    items = []
    with state.lock:
        for element in inputs:
            node = element["node"]
            item = {
                **{key: _resolve_lookup(key, value) for key, value in node.items()},
                "dbId": state.next_db_id(),
                "extIdentifier": node.get("extIdentifier"),
                "trRegNumber": node.get("trRegNumber"),
                "createdAt": now,
                "modifiedAt": now,
                "ownerDbId": ENTITY_DB_ID,
            }
            state.xledger_items.append(item)
            items.append(item)
        _validate_and_post(state, host, items, now)
    edges = [
        {"clientId": element.get("clientId"), "node": item}
        for element, item in zip(inputs, items, strict=True)
    ]
    return json_response({"data": {"addGLImportItems": {"edges": edges}}})


def _validate_and_post(state: SandboxState, host: str, items: list[dict], now: str) -> None:
    """Post each balanced, fully known voucher; record one error row per bad line otherwise."""
    vouchers: dict[str, list[dict]] = {}
    for item in items:
        # Keyed by JSON text: a malformed trRegNumber (a list, say) must not crash grouping.
        vouchers.setdefault(json.dumps(item["trRegNumber"]), []).append(item)
    for lines in vouchers.values():
        tr_reg_number = lines[0]["trRegNumber"]
        problems = {line["dbId"]: _line_problems(line) for line in lines}
        amounts = [_amount(line.get("amount")) for line in lines]
        if all(a is not None for a in amounts) and sum(amounts, Decimal(0)) != 0:
            total = sum(amounts, Decimal(0))
            for line in lines:
                problems[line["dbId"]].append(
                    f"Voucher {tr_reg_number} does not balance: the lines sum to {total:.2f}"
                )
        if any(problems.values()):
            for line in lines:
                if problems[line["dbId"]]:
                    state.xledger_errors.append(
                        {
                            "dbId": state.next_db_id(),
                            "glImportItemDbId": line["dbId"],
                            "extIdentifier": line["extIdentifier"],
                            "trRegNumber": tr_reg_number,
                            "message": "; ".join(problems[line["dbId"]]),
                            "createdAt": now,
                        }
                    )
            continue
        state.xledger_vouchers.append(_voucher(host, tr_reg_number, lines, now))


def _line_problems(line: dict) -> list[str]:
    problems = []
    number = line.get("trRegNumber")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        problems.append(f"Voucher number (trRegNumber) '{number}' is not an integer")
    amount = line.get("amount")
    if amount is None:
        problems.append("Amount is required")
    elif _amount(amount) is None:
        problems.append(f"Amount '{amount}' is not a valid number")
    if not line.get("account"):
        problems.append("Account is required")
    for field, label, kind in LOOKUPS:
        value = line.get(field)
        if value and _find(kind, value) is None:
            problems.append(f"{label} '{_lookup_text(value)}' does not exist")
    return problems


def _voucher(host: str, tr_reg_number: Any, lines: list[dict], now: str) -> dict:
    ext_ids = list(dict.fromkeys(line["extIdentifier"] for line in lines if line["extIdentifier"]))
    return {
        "trRegNumber": tr_reg_number,
        "extIdentifier": ext_ids[0] if ext_ids else None,
        "extIdentifiers": ext_ids,
        "postedDate": lines[0].get("postedDate"),
        "postedAt": now,
        "host": host,
        "lines": [
            {
                "dbId": line["dbId"],
                "account": _code(line.get("account")),
                "amount": f"{_amount(line['amount']):.2f}",
                "text": line.get("text"),
                "taxRule": _code(line.get("taxRule")),
                "project": _code(line.get("project")),
                "glObject1": _code(line.get("glObject1")),
                "extIdentifier": line["extIdentifier"],
            }
            for line in lines
        ],
    }


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _code(value: Any) -> str | None:
    return value.get("code") if isinstance(value, dict) else None


def _lookup_text(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("code", "dbId", "description"):
            if value.get(key) is not None:
                return str(value[key])
    return str(value)


# --- reference data ----------------------------------------------------------------------


def _reference_nodes() -> dict[str, list[dict[str, Any]]]:
    created = "2024-01-01T00:00:00.000Z"
    entity = {
        "dbId": ENTITY_DB_ID,
        "code": demo.XLEDGER_ENTITY_CODE,
        "description": demo.XLEDGER_ENTITY_DESCRIPTION,
        "email": None,
        "phone": None,
        "fromDate": "2000-01-01",
        "toDate": None,
        "createdAt": created,
        "modifiedAt": created,
        "ownerDbId": ENTITY_DB_ID,
        "fiscalYearStartMonth": 1,
        "company": {"dbId": "1002", "companyNumber": "987654321"},
        "currency": {"dbId": "1003", "code": "NOK"},
    }
    accounts = [
        {
            "dbId": str(10001 + index),
            "code": code,
            "description": description,
            "descriptionTranslated": description,
            "ownerDbId": ENTITY_DB_ID,
            "modifiedAt": created,
            "balanceSheet": kind != "cost",
            "asset": kind == "asset",
            "cost": kind == "cost",
            "revenue": False,
            "posting": True,
            "vat": kind == "cost",
            "chartOfAccountDbId": "9001",
            "accountGroupDbId": None,
        }
        for index, (code, description, kind) in enumerate(demo.ACCOUNTS)
    ]
    kinds = [
        {"dbId": TAX_RULE_KIND, "name": "TAX_RULE"},
        {"dbId": GL_OBJECT_1_KIND, "name": "GL_OBJECT_1"},
    ]
    values = [
        {
            "dbId": str(21001 + index),
            "code": code,
            "description": description,
            "rate": rate,
            "objectKindDbId": TAX_RULE_KIND,
            "objectKind": kinds[0],
        }
        for index, (code, description, rate) in enumerate(demo.TAX_CODES)
    ] + [
        {
            "dbId": str(22001 + index),
            "code": code,
            "description": description,
            "rate": None,
            "objectKindDbId": GL_OBJECT_1_KIND,
            "objectKind": kinds[1],
        }
        for index, (code, description) in enumerate(demo.DEPARTMENTS)
    ]
    projects = [
        {
            "dbId": str(30001 + index),
            "code": code,
            "description": description,
            "allowPosting": True,
            "fromDate": "2024-01-01",
            "toDate": None,
            "modifiedAt": created,
            "glObject1": None,
        }
        for index, (code, description) in enumerate(demo.PROJECTS)
    ]
    return {
        "entities": [entity],
        "accounts": accounts,
        "objectKinds": kinds,
        "objectValues": values,
        "projects": projects,
    }


ENTITY_DB_ID = "1001"
TAX_RULE_KIND = "20001"
GL_OBJECT_1_KIND = "20002"
REFERENCE_NODES = _reference_nodes()
# Line field → (label in messages, reference kind) for lookups the import validates.
LOOKUPS = (
    ("account", "Account", "accounts"),
    ("taxRule", "Tax rule", "taxRules"),
    ("project", "Project", "projects"),
    ("glObject1", "GL object 1", "glObject1"),
)
_LOOKUP_NODES = {
    "accounts": REFERENCE_NODES["accounts"],
    "projects": REFERENCE_NODES["projects"],
    "taxRules": [
        v for v in REFERENCE_NODES["objectValues"] if v["objectKindDbId"] == TAX_RULE_KIND
    ],
    "glObject1": [
        v for v in REFERENCE_NODES["objectValues"] if v["objectKindDbId"] == GL_OBJECT_1_KIND
    ],
}
_FIELD_KINDS = {field: kind for field, _label, kind in LOOKUPS}


def _find(kind: str, lookup: Any) -> dict | None:
    """A reference node matched by dbId, code or description, as Xledger lookups allow."""
    if not isinstance(lookup, dict):
        return None
    for node in _LOOKUP_NODES[kind]:
        for key in ("dbId", "code", "description"):
            if lookup.get(key) is not None and str(lookup[key]) == node[key]:
                return node
    return None


def _resolve_lookup(field: str, value: Any) -> Any:
    """Fill in dbId/code/description of a known lookup, as a readback would show it."""
    kind = _FIELD_KINDS.get(field)
    node = _find(kind, value) if kind else None
    if node is None:
        return value
    return {**value, "dbId": node["dbId"], "code": node["code"], "description": node["description"]}
