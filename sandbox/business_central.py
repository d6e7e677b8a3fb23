"""Fake Business Central API v2.0.

Served at `/api.businesscentral.dynamics.com/v2.0/{tenant}/{env}/api/v2.0/…`.

One company with the demo chart of accounts, dimensions and tax groups; journal lines that
`Microsoft.NAV.post` moves to `generalLedgerEntries` when each document balances.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, request

from sandbox import demo, odata
from sandbox.entra import bearer_token
from sandbox.faults import transport_faults
from sandbox.responses import bc_error, iso_utc, json_response
from sandbox.state import SandboxState

bp = Blueprint("business_central", __name__)

BASE = "/api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0"
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z][\w.]*)(?:\((?P<key>[^)]*)\))?$")
CREATED = "2024-01-01T00:00:00Z"
# Writable journal line properties and their OData types (dynamics_journalline.md); others
# are refused as BC does.
LINE_TYPES = {
    "lineNumber": "Int32",
    "accountType": "String",
    "accountId": "Guid",
    "accountNumber": "String",
    "postingDate": "Date",
    "documentNumber": "String",
    "externalDocumentNumber": "String",
    "amount": "Decimal",
    "description": "String",
    "comment": "String",
    "taxCode": "String",
    "balanceAccountType": "String",
    "balancingAccountId": "Guid",
    "balancingAccountNumber": "String",
}
LINE_FIELDS = set(LINE_TYPES)
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def _has_type(value: Any, edm_type: str) -> bool:
    if edm_type == "Decimal":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if edm_type == "Int32":
        return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31
    if not isinstance(value, str):
        return False
    if edm_type == "Guid":
        return re.fullmatch(_GUID, value) is not None
    if edm_type == "Date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
        return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    return True


# What each permission set (variation `bc_permission_set`) may not do: (method, object).
NOT_PERMITTED = {
    "full": set(),
    "least": {
        ("GET", "dimensions"),
        ("GET", "dimensionValues"),
        ("GET", "dimensionSetLines"),
        ("POST", "dimensionSetLines"),
        ("GET", "taxGroups"),
    },
}
NOT_PERMITTED["no_ledger_read"] = NOT_PERMITTED["least"] | {("GET", "generalLedgerEntries")}
NOT_PERMITTED["read_only"] = {
    ("POST", "journalLines"),
    ("DELETE", "journalLines"),
    ("POST", "dimensionSetLines"),
    ("POST", "Microsoft.NAV.post"),
}

# Operation → the object named in a missing-permission message.
PERMISSION_OBJECTS = {
    ("GET", "accounts"): "TableData 15 G/L Account Read",
    ("GET", "journals"): "TableData 232 Gen. Journal Batch Read",
    ("GET", "journalLines"): "TableData 81 Gen. Journal Line Read",
    ("POST", "journalLines"): "TableData 81 Gen. Journal Line Insert",
    ("DELETE", "journalLines"): "TableData 81 Gen. Journal Line Delete",
    ("GET", "generalLedgerEntries"): "TableData 17 G/L Entry Read",
    ("GET", "dimensions"): "TableData 348 Dimension Read",
    ("GET", "dimensionValues"): "TableData 349 Dimension Value Read",
    ("GET", "dimensionSetLines"): "TableData 480 Dimension Set Entry Read",
    ("POST", "dimensionSetLines"): "TableData 480 Dimension Set Entry Insert",
    ("GET", "taxGroups"): "TableData 321 Tax Group Read",
    ("POST", "Microsoft.NAV.post"): "TableData 17 G/L Entry Insert",
}


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def _guid(*parts: str) -> str:
    return demo.stable_guid("bc", *parts)


@bp.route(f"{BASE}/<path:rest>", methods=["GET", "POST", "DELETE"])
def api(tenant: str, environment: str, rest: str) -> Response:
    """Serve one Business Central API request."""
    state = _state()
    token = bearer_token()
    record = state.access_token(token) if token else None
    identities = ["api.businesscentral.dynamics.com", tenant.lower()] + ([token] if token else [])
    if record is not None:
        identities += [record.tenant_id, record.client_id]
    if (faulted := transport_faults(state, identities, "business_central")) is not None:
        return faulted

    url_tenant = state.find_tenant(tenant)
    if (
        record is None
        or record.resource != demo.BC_RESOURCE
        or url_tenant is None
        or url_tenant["id"] != record.tenant_id
        or (token and state.has_fault(identities, "revoked"))
        or state.has_fault(identities, "not_registered")
    ):
        return bc_error(
            401,
            "Authentication_InvalidCredentials",
            "The server has rejected the client credentials.",
        )
    with state.lock:
        known_environment = environment in state.bc_environments
    if not known_environment:
        if state.settings["bc_unknown_environment"] == "plain":
            return _no_resource()
        return bc_error(404, "BadRequest_NotFound", f"Environment '{environment}' not found.")

    segments = []
    for part in rest.strip("/").split("/"):
        match = _SEGMENT.match(part)
        if match is None:
            return _no_resource()
        segments.append((match["name"], _unquote(match["key"])))
    context = f"https://{demo.BC_HOST}/v2.0/{tenant}/{environment}/api/v2.0"
    return _route(state, identities, context, segments)


def _unquote(key: str | None) -> str | None:
    return key.strip("'").lower() if key is not None else None


def _no_resource() -> Response:
    return bc_error(
        404,
        "BadRequest_NotFound",
        f"No HTTP resource was found that matches the request URI '{request.url}'.",
    )


def _route(
    state: SandboxState, identities: list[str], context: str, segments: list[tuple[str, Any]]
) -> Response:
    method = request.method
    if segments[0][0] != "companies":
        return _no_resource()
    if len(segments) == 1:
        if method != "GET":
            return _no_resource()
        return _collection(state, context, "companies", [COMPANY], segments[0][1])
    if segments[0][1] != demo.BC_COMPANY_ID:
        return bc_error(
            404,
            "BadRequest_NotFound",
            f"The company '{segments[0][1]}' does not exist in environment.",
        )
    rest = segments[1:]
    name = rest[-1][0]
    object_name = PERMISSION_OBJECTS.get((method, name))
    refused = (method, name) in NOT_PERMITTED[state.settings["bc_permission_set"]]
    if object_name and (
        refused or state.take_faults(identities, ["no_permission", "no_privilege"])
    ):
        return bc_error(
            400,
            "Internal_ServerError",
            f"Sorry, the current permissions prevented the action. ({object_name}: Ledgerlink)",
        )
    path = [n for n, _ in rest]
    keys = [k for _, k in rest]
    if path == ["journals", "Microsoft.NAV.post"] and method == "POST":
        return _post_journal(state, keys[0])
    if path == ["journals", "journalLines"] or path == ["journalLines"]:
        journal_id = keys[0] if len(path) == 2 else None
        if method == "POST" and keys[-1] is None and journal_id:
            return _create_line(state, context, journal_id)
        if method == "DELETE" and keys[-1] is not None:
            return _delete_line(state, journal_id, keys[-1])
        if method == "DELETE":
            return _no_resource()
        with state.lock:
            lines = [_public(line) for line in state.bc_journal_lines]
        if journal_id:
            lines = [line for line in lines if line["journalId"] == journal_id]
        return _collection(state, context, "journalLines", lines, keys[-1])
    if path == ["journals", "journalLines", "dimensionSetLines"]:
        return _dimension_set_lines(state, context, keys[0], keys[1])
    if path == ["dimensions", "dimensionValues"] and method == "GET" and keys[1] is None:
        values = [v for v in DIMENSION_VALUES if v["dimensionId"] == keys[0]]
        return _collection(state, context, name, values, None)
    if path == ["journals"] and method == "GET" and keys[0] is None:
        if state.settings["bc_journals"] == "unfiltered":
            # This version ignores $filter on journals: the caller must check the code.
            return json_response(
                {"@odata.context": f"{context}/$metadata#journals", "value": ALL_JOURNALS}
            )
        return _collection(state, context, name, JOURNALS, None)
    if len(path) == 1 and method == "GET" and name in _READ_ONLY:
        return _collection(state, context, name, _READ_ONLY[name](state), keys[0])
    return _no_resource()


def _collection(
    state: SandboxState, context: str, name: str, items: list[dict], key: str | None
) -> Response:
    """One entity by key, or a page of the collection with `$filter`, `$top`, `$skip`."""
    if key is not None:
        found = next((i for i in items if i.get("id") == key), None)
        if found is None:
            return bc_error(
                404,
                "BadRequest_NotFound",
                f"The {name} with id '{key}' does not exist.",
            )
        return json_response({"@odata.context": f"{context}/$metadata#{name}/$entity", **found})
    args = request.args
    try:
        groups = odata.parse_filter(args.get("$filter"))
        top = odata.non_negative_int(args.get("$top"), "$top")
        skip = odata.non_negative_int(args.get("$skip"), "$skip") or 0
    except ValueError as error:
        return bc_error(400, "BadRequest", str(error))
    if items and (unknown := odata.unknown_fields(groups, set(items[0]))):
        return bc_error(
            400, "BadRequest", f"Could not find a property named '{unknown[0]}' on type '{name}'."
        )
    matching = [i for i in items if odata.matches(i, groups)][skip:]
    if top is not None:
        matching = matching[:top]
    page_size = state.settings["bc_page_size"]
    body: dict[str, Any] = {
        "@odata.context": f"{context}/$metadata#{name}",
        "value": [odata.select(i, args.get("$select"), ("id",)) for i in matching[:page_size]],
    }
    if len(matching) > page_size:
        params = {k: v for k, v in args.items() if k not in ("$skip", "$top")}
        params["$skip"] = str(skip + page_size)
        if top is not None:
            params["$top"] = str(top - page_size)
        path = request.path.split("/api/v2.0/", 1)[1]
        body["@odata.nextLink"] = odata.next_link(f"{context}/{path}", params)
    return json_response(body)


# --- journal lines and posting -----------------------------------------------------------


def _public(line: dict) -> dict:
    return {k: v for k, v in line.items() if not k.startswith("_")}


def _journal(journal_id: str) -> dict | None:
    return next((j for j in ALL_JOURNALS if j["id"] == journal_id), None)


def _create_line(state: SandboxState, context: str, journal_id: str) -> Response:
    journal = _journal(journal_id)
    if journal is None:
        return bc_error(
            404, "BadRequest_NotFound", f"The journal with id '{journal_id}' does not exist."
        )
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return bc_error(400, "BadRequest", "The request body is not a valid JSON object.")
    for field in body:
        if field not in LINE_FIELDS:
            return bc_error(
                400,
                "BadRequest",
                f"The property '{field}' does not exist on type 'Microsoft.NAV.journalLine'. "
                "Make sure to only use property names that are defined by the type.",
            )
    # null counts as absent; any other value must have the property's OData type.
    body = {key: value for key, value in body.items() if value is not None}
    for field, value in body.items():
        edm_type = LINE_TYPES[field]
        if not _has_type(value, edm_type):
            return bc_error(
                400,
                "BadRequest",
                f"Cannot convert a primitive value to the expected type 'Edm.{edm_type}'. See "
                "the inner exception for more details.",
            )
    amount = body.get("amount", 0)
    account = _account(body.get("accountNumber"), body.get("accountId"))
    named = body.get("accountNumber") or body.get("accountId")
    if body.get("accountType", "G/L Account") == "G/L Account" and named and account is None:
        # A line may be created without an account (BC fills it in later); one naming an
        # account that does not exist is refused.
        return _record_not_found("G/L Account", "No.", named)
    balancing = None
    if body.get("balancingAccountNumber") or body.get("balancingAccountId"):
        balancing = _account(body.get("balancingAccountNumber"), body.get("balancingAccountId"))
        if balancing is None:
            number = body.get("balancingAccountNumber") or body.get("balancingAccountId")
            return _record_not_found("G/L Account", "No.", number)
    tax_code = body.get("taxCode") or ""
    if tax_code and tax_code not in {code for code, _ in demo.BC_TAX_GROUPS}:
        return _record_not_found("Tax Group", "Code", tax_code)

    now = iso_utc()
    with state.lock:
        journal_lines = [line for line in state.bc_journal_lines if line["journalId"] == journal_id]
        line_number = (
            body.get("lineNumber")
            or max((line["lineNumber"] for line in journal_lines), default=0) + 10000
        )
        line = {
            "@odata.etag": f'W/"{uuid.uuid4().hex[:16]}"',
            "id": str(uuid.uuid4()),
            "journalId": journal_id,
            "journalDisplayName": journal["code"],
            "lineNumber": line_number,
            "accountType": body.get("accountType", "G/L Account"),
            "accountId": account["id"] if account else body.get("accountId", _EMPTY_GUID),
            "accountNumber": account["number"] if account else body.get("accountNumber", ""),
            "postingDate": body.get("postingDate") or date.today().isoformat(),
            "documentNumber": body.get("documentNumber")
            or f"G{len(state.bc_ledger_entries) + 1:05d}",
            "externalDocumentNumber": body.get("externalDocumentNumber", ""),
            "amount": amount,
            "description": body.get("description", ""),
            "comment": body.get("comment", ""),
            "taxCode": tax_code,
            "balanceAccountType": body.get("balanceAccountType", "G/L Account"),
            "balancingAccountId": balancing["id"] if balancing else _EMPTY_GUID,
            "balancingAccountNumber": balancing["number"] if balancing else "",
            "lastModifiedDateTime": now,
            "_dimensions": [],
        }
        state.bc_journal_lines.append(line)
    return json_response(
        {"@odata.context": f"{context}/$metadata#journalLines/$entity", **_public(line)}, 201
    )


def _delete_line(state: SandboxState, journal_id: str | None, line_id: str) -> Response:
    with state.lock:
        before = len(state.bc_journal_lines)
        state.bc_journal_lines = [
            line
            for line in state.bc_journal_lines
            if not (line["id"] == line_id and journal_id in (None, line["journalId"]))
        ]
        if len(state.bc_journal_lines) == before:
            return bc_error(
                404, "BadRequest_NotFound", f"The journalLine with id '{line_id}' does not exist."
            )
    return Response(status=204)


def _record_not_found(table: str, field: str, value: str) -> Response:
    return bc_error(
        400,
        "Internal_RecordNotFound",
        f"The {table} does not exist. Identification fields and values: {field}='{value}'",
    )


def _account(number: str | None, account_id: str | None) -> dict | None:
    for account in ACCOUNTS:
        if (number and account["number"] == number) or (
            account_id and account["id"] == account_id.lower()
        ):
            return account
    return None


def _dimension_set_lines(
    state: SandboxState, context: str, journal_id: str, line_id: str | None
) -> Response:
    with state.lock:
        line = next(
            (
                line
                for line in state.bc_journal_lines
                if line["id"] == line_id and line["journalId"] == journal_id
            ),
            None,
        )
        if line is None:
            return bc_error(
                404, "BadRequest_NotFound", f"The journalLine with id '{line_id}' does not exist."
            )
        if request.method == "GET":
            return _collection(state, context, "dimensionSetLines", list(line["_dimensions"]), None)
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return bc_error(400, "BadRequest", "The request body is not a valid JSON object.")
        dimension = next(
            (d for d in DIMENSIONS if d["code"] == body.get("code") or d["id"] == body.get("id")),
            None,
        )
        if dimension is None:
            return _record_not_found("Dimension", "Code", body.get("code") or body.get("id") or "")
        value = next(
            (
                v
                for v in DIMENSION_VALUES
                if v["dimensionId"] == dimension["id"]
                and (v["code"] == body.get("valueCode") or v["id"] == body.get("valueId"))
            ),
            None,
        )
        if value is None:
            wanted = body.get("valueCode") or body.get("valueId") or ""
            return _record_not_found("Dimension Value", "Code", wanted)
        entry = {
            "id": dimension["id"],
            "code": dimension["code"],
            "parentId": line["id"],
            "parentType": "Journal Line",
            "displayName": dimension["displayName"],
            "valueId": value["id"],
            "valueCode": value["code"],
            "valueDisplayName": value["displayName"],
        }
        line["_dimensions"] = [d for d in line["_dimensions"] if d["id"] != entry["id"]] + [entry]
    return json_response(
        {"@odata.context": f"{context}/$metadata#dimensionSetLines/$entity", **entry}, 201
    )


def _post_journal(state: SandboxState, journal_id: str | None) -> Response:
    """Post every line of the journal, or nothing when any document is out of balance."""
    journal = _journal(journal_id or "")
    if journal is None:
        return bc_error(
            404, "BadRequest_NotFound", f"The journal with id '{journal_id}' does not exist."
        )
    with state.lock:
        lines = [line for line in state.bc_journal_lines if line["journalId"] == journal_id]
        if not lines:
            return bc_error(400, "Internal_ServerError", "There is nothing to post.")
        documents: dict[str, Decimal] = {}
        for line in lines:
            # A line with a balancing account balances itself.
            own = Decimal(0) if line["balancingAccountNumber"] else Decimal(str(line["amount"]))
            documents[line["documentNumber"]] = documents.get(line["documentNumber"], 0) + own
        for document, total in documents.items():
            if total != 0:
                return bc_error(
                    400,
                    "Internal_ServerError",
                    f"Document No. {document} is out of balance by {total:.2f}. Please check "
                    "that Posting Date, Document Type, Document No. and Amount are correct for "
                    "each line.",
                )
        now = iso_utc()
        for line in lines:
            amount = Decimal(str(line["amount"]))
            postings = [(line["accountNumber"], amount)]
            if line["balancingAccountNumber"]:
                postings.append((line["balancingAccountNumber"], -amount))
            for number, value in postings:
                account = _account(number, None)
                state.bc_ledger_entries.append(
                    {
                        "@odata.etag": f'W/"{uuid.uuid4().hex[:16]}"',
                        "id": str(uuid.uuid4()),
                        "entryNumber": len(state.bc_ledger_entries) + 1,
                        "postingDate": line["postingDate"],
                        "documentNumber": line["documentNumber"],
                        # Not a property of the API's generalLedgerEntry (Learn): kept for
                        # the control page only, never served.
                        "_externalDocumentNumber": line["externalDocumentNumber"],
                        "documentType": " ",
                        "accountId": account["id"] if account else _EMPTY_GUID,
                        "accountNumber": number,
                        "description": line["description"],
                        "debitAmount": float(value) if value > 0 else 0.0,
                        "creditAmount": float(-value) if value < 0 else 0.0,
                        "lastModifiedDateTime": now,
                        "_dimensions": [
                            {"code": d["code"], "valueCode": d["valueCode"]}
                            for d in line["_dimensions"]
                        ],
                    }
                )
        state.bc_journal_lines = [
            line for line in state.bc_journal_lines if line["journalId"] != journal_id
        ]
    return Response(status=204)


# --- reference data ----------------------------------------------------------------------

_EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
_CATEGORIES = {"asset": "Assets", "liability": "Liabilities", "cost": "Expense"}

COMPANY = {
    "id": demo.BC_COMPANY_ID,
    "systemVersion": "25.0.23364.25151",
    "timestamp": 4711,
    "name": demo.BC_COMPANY_NAME,
    "displayName": demo.BC_COMPANY_NAME,
    "businessProfileId": "",
    "systemCreatedAt": CREATED,
    "systemCreatedBy": _EMPTY_GUID,
    "systemModifiedAt": CREATED,
    "systemModifiedBy": _EMPTY_GUID,
}
ACCOUNTS = [
    {
        "id": _guid("account", code),
        "number": code,
        "displayName": name,
        "category": _CATEGORIES[kind],
        "subCategory": "",
        "blocked": False,
        "accountType": "Posting",
        "directPosting": True,
        "netChange": 0,
        "consolidationTranslationMethod": "Average Rate (Manual)",
        "consolidationDebitAccount": "",
        "consolidationCreditAccount": "",
        "excludeFromConsolidation": False,
        "lastModifiedDateTime": CREATED,
    }
    for code, name, kind in demo.ACCOUNTS
]
JOURNALS = [
    {
        "id": _guid("journal", code),
        "code": code,
        "displayName": name,
        "templateDisplayName": "GENERELL",
        "lastModifiedDateTime": CREATED,
        # No default balancing account: Ledgerlink sends both sides of each document.
        "balancingAccountId": _EMPTY_GUID,
        "balancingAccountNumber": "",
    }
    for code, name in (("GENERELT", "Generelt"), (demo.BC_JOURNAL, "Ledgerlink utlegg"))
]
# With variation `bc_journals` = unfiltered, one more batch (listed first).
ALL_JOURNALS = [
    {**JOURNALS[0], "id": _guid("journal", "KASSE"), "code": "KASSE", "displayName": "Kasse"},
    *JOURNALS,
]
DIMENSIONS = [
    {
        "id": _guid("dimension", code),
        "code": code,
        "displayName": name,
        "lastModifiedDateTime": CREATED,
    }
    for code, name, _values in demo.BC_DIMENSIONS
]
DIMENSION_VALUES = [
    {
        "id": _guid("dimensionValue", dimension_code, code),
        "code": code,
        "dimensionId": _guid("dimension", dimension_code),
        "displayName": name,
        "consolidationCode": "",
        "lastModifiedDateTime": CREATED,
    }
    for dimension_code, _name, values in demo.BC_DIMENSIONS
    for code, name in values
]
TAX_GROUPS = [
    {
        "id": _guid("taxGroup", code),
        "code": code,
        "displayName": name,
        "taxType": "VAT",
        "lastModifiedDateTime": CREATED,
    }
    for code, name in demo.BC_TAX_GROUPS
]


def _accounts_with_net_change(state: SandboxState) -> list[dict]:
    with state.lock:
        totals: dict[str, float] = {}
        for entry in state.bc_ledger_entries:
            change = entry["debitAmount"] - entry["creditAmount"]
            totals[entry["accountNumber"]] = totals.get(entry["accountNumber"], 0) + change
    return [{**a, "netChange": round(totals.get(a["number"], 0), 2)} for a in ACCOUNTS]


def _ledger_entries(state: SandboxState) -> list[dict]:
    with state.lock:
        return [_public(entry) for entry in state.bc_ledger_entries]


_READ_ONLY = {
    "accounts": _accounts_with_net_change,
    "journals": lambda _state: JOURNALS,
    "dimensions": lambda _state: DIMENSIONS,
    "dimensionValues": lambda _state: DIMENSION_VALUES,
    "taxGroups": lambda _state: TAX_GROUPS,
    "generalLedgerEntries": _ledger_entries,
}
