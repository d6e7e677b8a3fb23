"""Fake Tripletex REST API v2 (`/{tripletex.no|api-test.tripletex.tech}/v2/…`).

Session tokens from a consumer and an employee token, HTTP Basic with the session token,
whoAmI, the ledger lists the adapter reads (accounts, VAT types, voucher types, departments,
projects, employees) with `from`/`count` paging, `POST /ledger/voucher` with Tripletex's
validation and error envelope, the two ways of finding a voucher by its external number, and
the rate-limit headers (ACCOUNTING_APIS §9).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, current_app, request

from sandbox import demo
from sandbox.faults import transport_faults
from sandbox.responses import json_response, note_error
from sandbox.state import SandboxState

bp = Blueprint("tripletex", __name__)

HOSTS = 'any("tripletex.no", "api-test.tripletex.tech")'
TEST_HOST = "api-test.tripletex.tech"
# An employee token whose user may not see the ledger (403 on accounts and VAT types).
READ_BLIND = frozenset({"test-ledgerlink-employee-noledger"})
RATE_LIMIT = 1000
CODES = {401: 3000, 403: 9000, 404: 6000, 422: 18000, 429: 1000}


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def error(status: int, message: str, validation: list[dict] | None = None, code=None) -> Response:
    """Tripletex's error envelope, with its request id in the body and the header."""
    request_id = str(uuid.uuid4())
    note_error(code or CODES.get(status, 1000))
    body = {
        "status": status,
        "code": code or CODES.get(status, 1000),
        "message": message,
        "link": "https://tripletex.no/v2-docs/",
        "developerMessage": None,
        "validationMessages": validation or [],
        "requestId": request_id,
    }
    return json_response(body, status, {"x-tlx-request-id": request_id})


def _rate_headers(response: Response) -> Response:
    response.headers["X-Rate-Limit-Limit"] = str(RATE_LIMIT)
    response.headers["X-Rate-Limit-Remaining"] = str(RATE_LIMIT - 1)
    response.headers["X-Rate-Limit-Reset"] = "60"
    return response


@bp.route(f"/<{HOSTS}:host>/v2/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def api(host: str, rest: str) -> Response:
    """Serve one Tripletex request."""
    state = _state()
    identities = [host]
    session = _session_of(state)
    if session is not None:
        identities += [session["token"], session["employee"]]
    if (faulted := transport_faults(state, identities, "tripletex")) is not None:
        if faulted.status_code == 429 and state.settings["tripletex_rate_reset"] == "sent":
            faulted.headers["X-Rate-Limit-Reset"] = faulted.headers.get("Retry-After", "1")
        faulted.headers.pop("Retry-After", None)
        return faulted
    if rest == "token/session/:create" and request.method == "PUT":
        return _create_session(state, host)
    if session is None or session["host"] != host:
        return error(401, "Unauthorized: the session token is missing, expired or unknown.")
    return _rate_headers(_route(state, session, rest))


# --- sessions --------------------------------------------------------------------------------


def _create_session(state: SandboxState, host: str) -> Response:
    consumer = request.args.get("consumerToken", "")
    employee = request.args.get("employeeToken", "")
    expiration = request.args.get("expirationDate", "")
    test_host = host == TEST_HOST
    if consumer.startswith("test-") != test_host:
        return error(
            422,
            "Validering feilet.",
            [{"field": "arg:consumerToken", "message": "Ugyldig token for dette miljøet."}],
        )
    try:
        expires = dt.date.fromisoformat(expiration)
    except ValueError:
        return error(
            422,
            "Validering feilet.",
            [{"field": "arg:expirationDate", "message": "Ugyldig dato."}],
            21000,
        )
    if expires <= dt.date.today():
        return error(
            422,
            "Validering feilet.",
            [{"field": "arg:expirationDate", "message": "Datoen må være etter i dag."}],
        )
    if consumer not in demo.TRIPLETEX_CONSUMER_TOKENS:
        return error(403, "The consumer token is not valid.", code=9000)
    expired = state.settings["tripletex_employee_token"] == "expired"
    if employee not in demo.TRIPLETEX_EMPLOYEE_TOKENS or expired:
        return error(403, "The employee token is not valid or has expired.", code=9000)
    token = f"sess-{uuid.uuid4().hex}"
    with state.lock:
        state.tripletex_sessions[token] = {
            "token": token,
            "host": host,
            "employee": employee,
            "expires": expires.isoformat(),
        }
    body = {
        "value": {
            "id": 1,
            "token": token,
            "expirationDate": expires.isoformat(),
            "consumerToken": {"id": 11},
            "employeeToken": {"id": 22},
        }
    }
    return json_response(body)


def _session_of(state: SandboxState) -> dict | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, token = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    if user not in ("0", str(demo.TRIPLETEX_COMPANY_ID)):
        return None
    with state.lock:
        session = state.tripletex_sessions.get(token)
    if session is None or session["expires"] <= dt.date.today().isoformat():
        return None
    return session


# --- routes ----------------------------------------------------------------------------------


def _route(state: SandboxState, session: dict, rest: str) -> Response:
    method = request.method
    if rest == "token/session/>whoAmI" and method == "GET":
        return json_response(
            {
                "value": {
                    "companyId": demo.TRIPLETEX_COMPANY_ID,
                    "company": {"id": demo.TRIPLETEX_COMPANY_ID, "name": demo.TRIPLETEX_COMPANY},
                    "employeeId": 77,
                    "employee": {"id": 77, "firstName": "Kari", "lastName": "Nordmann"},
                    "language": "no",
                }
            }
        )
    if rest == "ledger/voucher" and method == "POST":
        return _create_voucher(state)
    if rest == "ledger/voucher/>externalVoucherNumber" and method == "GET":
        wanted = request.args.get("externalVoucherNumber", "")
        if state.settings["tripletex_lookup"] == "import_only":
            return _page([])  # finds only vouchers made by an import (§9.3, UNCONFIRMED)
        with state.lock:
            found = [v for v in state.tripletex_vouchers if v["externalVoucherNumber"] == wanted]
        return _page(found)
    if rest == "ledger/voucher" and method == "GET":
        return _vouchers_by_date(state)
    lists = {
        "ledger/account": _accounts,
        "ledger/vatType": lambda: VAT_TYPES,
        "ledger/voucherType": lambda: (
            VOUCHER_TYPES if state.settings["tripletex_voucher_type"] == "standard" else []
        ),
        "department": lambda: DEPARTMENTS,
        "project": lambda: PROJECTS,
        "employee": lambda: EMPLOYEES,
    }
    if rest in ("ledger/account", "ledger/vatType") and session["employee"] in READ_BLIND:
        return error(403, "Du har ikke tilgang til denne ressursen.", code=9000)
    if rest in lists and method == "GET":
        rows = lists[rest]()
        for name in ("number", "name"):
            wanted = request.args.get(name)
            if wanted:
                values = set(wanted.split(","))
                rows = [r for r in rows if str(r.get(name)) in values]
        return _page(rows)
    return error(404, f"Object not found: {rest}")


def _page(rows: list[dict]) -> Response:
    try:
        start = int(request.args.get("from", "0"))
        count = int(request.args.get("count", "1000"))
    except ValueError:
        return error(422, "Validering feilet.", [{"field": "from", "message": "Ugyldig tall."}])
    page = rows[start : start + count]
    return json_response(
        {
            "fullResultSize": len(rows),
            "from": start,
            "count": len(page),
            "versionDigest": None,
            "values": page,
        }
    )


def _accounts() -> list[dict]:
    if _state().settings["tripletex_validation"] == "department_required":
        # Cost accounts that need a department on every posting (422 without one).
        return [{**a, "requiresDepartment": a["number"] >= 6000} for a in ACCOUNTS]
    return ACCOUNTS


def _vouchers_by_date(state: SandboxState) -> Response:
    try:
        start = dt.date.fromisoformat(request.args["dateFrom"])
        end = dt.date.fromisoformat(request.args["dateTo"])
    except (KeyError, ValueError):
        return error(
            422,
            "Validering feilet.",
            [{"field": "dateFrom", "message": "dateFrom og dateTo må oppgis."}],
            21000,
        )
    with state.lock:
        found = [
            v
            for v in state.tripletex_vouchers
            if start <= dt.date.fromisoformat(v["date"]) < end  # dateTo is exclusive
        ]
    return _page(found)


def _create_voucher(state: SandboxState) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(422, "Ugyldig JSON.", code=22000)
    postings = body.get("postings")
    if not isinstance(postings, list) or not postings:
        return error(
            422,
            "Validering feilet.",
            [{"field": "postings", "message": "Et bilag kan ikke registreres uten posteringer."}],
        )
    messages = []
    totals: dict[str, Decimal] = {}
    by_id = {a["id"]: a for a in _accounts()}
    for index, posting in enumerate(postings):
        path = f"postings[{index}]"
        if not isinstance(posting, dict):
            messages.append({"field": path, "message": "Ugyldig postering."})
            continue
        if int(posting.get("row") or 0) < 1:
            messages.append(
                {
                    "field": "postings.row",
                    "path": f"{path}.row",
                    "message": "Posteringene på rad 0 (guiRow 0) er systemgenererte og kan ikke "
                    "opprettes eller endres.",
                }
            )
        account = by_id.get((posting.get("account") or {}).get("id"))
        if account is None:
            messages.append(
                {
                    "field": "postings.account",
                    "path": f"{path}.account",
                    "message": "Kontoen finnes ikke.",
                }
            )
        elif account.get("requiresDepartment") and not posting.get("department"):
            messages.append(
                {
                    "field": "postings.department",
                    "path": f"{path}.department",
                    "message": f"Konto {account['number']} krever avdeling.",
                }
            )
        try:
            gross = Decimal(str(posting.get("amountGross")))
        except InvalidOperation:
            gross = Decimal(0)
            messages.append({"field": "postings.amountGross", "message": "Ugyldig beløp."})
        date = str(posting.get("date") or body.get("date") or "")
        totals[date] = totals.get(date, Decimal(0)) + gross
    for date, total in totals.items():
        if total != 0:
            messages.append(
                {
                    "field": "postings",
                    "message": f"Summen av posteringene for {date} er ikke lik 0.",
                }
            )
    if messages:
        return error(422, "Validering feilet.", messages)
    with state.lock:
        voucher = {
            "id": len(state.tripletex_vouchers) + 9001,
            "number": len(state.tripletex_vouchers) + 1,
            "date": str(body.get("date") or ""),
            "description": str(body.get("description") or ""),
            "externalVoucherNumber": str(body.get("externalVoucherNumber") or ""),
            "postings": postings,
        }
        state.tripletex_vouchers.append(voucher)
    return json_response({"value": voucher}, 201)


# --- reference data --------------------------------------------------------------------------

ACCOUNTS = [
    {
        "id": 100 + index,
        "number": int(code),
        "name": name,
        "vatLocked": False,
        "isInactive": code == "7350",
        "requiresDepartment": False,
        "requiresProject": False,
    }
    for index, (code, name, _kind) in enumerate(demo.ACCOUNTS)
]
VAT_TYPES = [
    {"id": 1 + index, "number": code, "name": name, "percentage": rate}
    for index, (code, name, rate) in enumerate(demo.TAX_CODES)
]
VOUCHER_TYPES = [{"id": 5001, "name": "Reiseregning"}, {"id": 5002, "name": "Utgift"}]
DEPARTMENTS = [
    {"id": 300 + index, "departmentNumber": code, "name": name}
    for index, (code, name) in enumerate(demo.DEPARTMENTS)
]
PROJECTS = [
    {"id": 400 + index, "number": code, "name": name}
    for index, (code, name) in enumerate(demo.PROJECTS)
]
EMPLOYEES = [{"id": 77, "employeeNumber": "4001", "firstName": "Kari", "lastName": "Nordmann"}]
