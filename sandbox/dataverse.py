"""Fake Dataverse Web API (`/{org}.crm{N}.dynamics.com/api/data/v9.2/…`).

WhoAmI, table reads with `$filter`/`$select`/`$top` and paging, and record creation with
`OData-EntityId`, behind the token checks and error codes of ACCOUNTING_APIS.md §3.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, request

from sandbox import demo, odata
from sandbox.entra import bearer_token
from sandbox.faults import transport_faults
from sandbox.responses import dataverse_error, iso_utc, json_response
from sandbox.state import AccessToken, SandboxState

bp = Blueprint("dataverse", __name__)

API = "api/data/v9.2"
ODATA_HEADERS = {"OData-Version": "4.0"}
# Writable columns carry the publisher prefix; anything else is a typo the real API rejects.
COLUMN_PREFIX = "ll_"
_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][\w]*)(?:\((?P<key>[^)]*)\))?$")


def _state() -> SandboxState:
    return current_app.config["SANDBOX_STATE"]


def environment_host(host: str) -> str:
    """The environment's own host: the `.api.` form shares the plain host's resource."""
    return host.replace(".api.crm", ".crm", 1)


@bp.route(f"/<dataverse_host:host>/{API}/<path:rest>", methods=["GET", "POST", "PATCH", "DELETE"])
def web_api(host: str, rest: str) -> Response:
    """Serve one Dataverse Web API request."""
    state = _state()
    env_host = environment_host(host.lower())
    env_url = f"https://{env_host}"
    with state.lock:
        env = state.dataverse_envs.get(env_host)
    token = bearer_token()
    record = state.access_token(token) if token else None
    identities = [host, env_host] + ([token] if token else [])
    if record is not None:
        identities += [record.tenant_id, record.client_id]
    if (faulted := transport_faults(state, identities, "dataverse")) is not None:
        return faulted

    revoked = state.has_fault(identities, "revoked") if token else None
    if env is None or record is None or record.resource != env_url or revoked:
        tenant = env["tenant_id"] if env else "common"
        return Response(
            "",
            status=401,
            headers={
                "WWW-Authenticate": (
                    f"Bearer authorization_uri=https://login.microsoftonline.com/{tenant}"
                    f"/oauth2/authorize, resource_id={env_url}/"
                )
            },
        )
    if state.has_fault(identities, "not_registered"):
        return dataverse_error(403, "0x80072560", "The user is not a member of the organization.")

    if rest.startswith("EntityDefinitions(") and request.method == "GET":
        return _table_definition(state, env_url, env, rest.rstrip("/"))
    match = _SEGMENT.match(rest.rstrip("/"))
    if match is None:
        return _segment_not_found(rest.split("/")[0])
    name, key = match["name"], match["key"]
    if name == "WhoAmI" and request.method == "GET":
        return _who_am_i(env_host, env, record)
    if name == "EntityDefinitions" and request.method == "GET" and key is None:
        return _entity_definitions(env_url, env)
    if name not in env["tables"]:
        return _segment_not_found(name)
    if state.take_faults(identities, ["no_privilege", "no_permission"]):
        action = "Create" if request.method in ("POST", "PATCH") else "Read"
        return _missing_privilege(env_host, record, name, action)
    create_only = state.settings["dataverse_role"] == "create_only"
    if create_only and request.method in ("GET", "DELETE"):
        action = "Read" if request.method == "GET" else "Delete"
        return _missing_privilege(env_host, record, name, action)
    if request.method == "POST" and key is None:
        return _create(state, env_url, env, name)
    if request.method == "PATCH" and key is not None:
        return _upsert(state, env_host, env_url, env, record, name, key)
    if request.method == "DELETE" and key is not None:
        return _delete(state, env, name, key)
    if request.method == "GET" and key is None:
        return _list(state, host, env_url, env, name)
    if request.method == "GET":
        return _get_one(state, env_url, env, name, key)
    return dataverse_error(405, "0x80060888", f"The HTTP method '{request.method}' is not allowed.")


def _segment_not_found(segment: str) -> Response:
    return dataverse_error(404, "0x8006088a", f"Resource not found for the segment '{segment}'.")


def logical_name(entity_set: str) -> str:
    """Entity set → table logical name (the demo tables are plain English plurals)."""
    return entity_set[:-1] if entity_set.endswith("s") else entity_set


def application_user_id(env_host: str, client_id: str) -> str:
    return demo.stable_guid("dv", "user", env_host, client_id)


def _who_am_i(env_host: str, env: dict, record: AccessToken) -> Response:
    body = {
        "@odata.context": f"https://{env_host}/{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
        "BusinessUnitId": env["business_unit_id"],
        "UserId": application_user_id(env_host, record.client_id),
        "OrganizationId": env["organization_id"],
    }
    return json_response(body, headers=ODATA_HEADERS)


def _entity_definitions(env_url: str, env: dict) -> Response:
    try:
        groups = odata.parse_filter(request.args.get("$filter"))
    except ValueError as error:
        return dataverse_error(400, "0x80060888", str(error))
    rows = [
        {
            "LogicalName": logical_name(entity_set),
            "EntitySetName": entity_set,
            "PrimaryIdAttribute": f"{logical_name(entity_set)}id",
            "MetadataId": demo.stable_guid("dv", "table", entity_set),
        }
        for entity_set in env["tables"]
    ]
    rows = [odata.select(r, request.args.get("$select"), ("MetadataId",)) for r in rows]
    body = {
        "@odata.context": f"{env_url}/{API}/$metadata#EntityDefinitions",
        "value": [r for r in rows if odata.matches(r, groups)],
    }
    return json_response(body, headers=ODATA_HEADERS)


# The alternate key of variation `dataverse_alternate_key` = line_key.
KEY_COLUMN = "ll_linekey"


def _table_definition(state: SandboxState, env_url: str, env: dict, rest: str) -> Response:
    """EntityDefinitions(LogicalName='…') and its /Keys: metadata needs no table privilege."""
    match = re.fullmatch(r"EntityDefinitions\(LogicalName='([a-z0-9_]+)'\)(/Keys)?", rest)
    if match is None:
        return _segment_not_found("EntityDefinitions")
    entity_set = next((s for s in env["tables"] if logical_name(s) == match[1]), None)
    if entity_set is None:
        return dataverse_error(
            404, "0x80040217", f"Could not find an entity with name {match[1]} and id ."
        )
    if match[2] is None:
        row = {
            "LogicalName": match[1],
            "EntitySetName": entity_set,
            "PrimaryIdAttribute": f"{match[1]}id",
            "MetadataId": demo.stable_guid("dv", "table", entity_set),
        }
        body = {"@odata.context": f"{env_url}/{API}/$metadata#EntityDefinitions/$entity", **row}
        return json_response(odata.select(body, request.args.get("$select"), ("MetadataId",)))
    keys = []
    if state.settings["dataverse_alternate_key"] == "line_key":
        keys.append(
            {
                "LogicalName": f"{COLUMN_PREFIX}linekey_key",
                "KeyAttributes": [KEY_COLUMN],
                "EntityKeyIndexStatus": "Active",
                "MetadataId": demo.stable_guid("dv", "key", entity_set),
            }
        )
    body = {
        "@odata.context": f"{env_url}/{API}/$metadata#EntityDefinitions('{match[1]}')/Keys",
        "value": [odata.select(k, request.args.get("$select"), ("MetadataId",)) for k in keys],
    }
    return json_response(body, headers=ODATA_HEADERS)


def _upsert(
    state: SandboxState,
    env_host: str,
    env_url: str,
    env: dict,
    record: AccessToken,
    entity_set: str,
    key: str,
) -> Response:
    """PATCH by alternate key: create, or with `If-None-Match: *` 412 when the row exists."""
    table = logical_name(entity_set)
    match = re.fullmatch(rf"{KEY_COLUMN}='((?:[^']|'')*)'", key)
    if match is None or state.settings["dataverse_alternate_key"] != "line_key":
        return dataverse_error(
            400,
            "0x80060888",
            f"Invalid key '{key}': no alternate key with these attributes is defined for "
            f"entity '{table}'.",
        )
    value = match[1].replace("''", "'")
    with state.lock:
        exists = any(r.get(KEY_COLUMN) == value for r in env["tables"][entity_set])
    if exists and request.headers.get("If-None-Match") == "*":
        return dataverse_error(
            412, "0x80040237", "A record with matching key values already exists."
        )
    if exists:
        if state.settings["dataverse_role"] == "create_only":
            return _missing_privilege(env_host, record, entity_set, "Write")
        return dataverse_error(400, "0x80060888", "Updating a record is not part of this sandbox.")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return dataverse_error(400, "0x80048d19", f"Error identified in Payload for '{table}'.")
    return _create(state, env_url, env, entity_set, {**body, KEY_COLUMN: value})


def _delete(state: SandboxState, env: dict, entity_set: str, key: str) -> Response:
    table = logical_name(entity_set)
    with state.lock:
        rows = env["tables"][entity_set]
        kept = [r for r in rows if r[f"{table}id"] != key.lower()]
        if len(kept) == len(rows):
            return dataverse_error(404, "0x80040217", f"{table} With Id = {key} Does Not Exist")
        env["tables"][entity_set] = kept
    return Response(status=204)


def _missing_privilege(
    env_host: str, record: AccessToken, entity_set: str, action: str
) -> Response:
    user_id = application_user_id(env_host, record.client_id)
    table = logical_name(entity_set)
    privilege_id = demo.stable_guid("dv", "privilege", action, table)
    return dataverse_error(
        403,
        "0x80040220",
        f"Principal user (Id={user_id}, type=8, roleCount=1), is missing prv{action}{table} "
        f"privilege (Id={privilege_id}) on OTC=10234 for entity '{table}'. "
        f"context.Caller={user_id}",
    )


def _create(
    state: SandboxState, env_url: str, env: dict, entity_set: str, given: dict | None = None
) -> Response:
    table = logical_name(entity_set)
    body: Any = given
    if body is None:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except json.JSONDecodeError:
            body = None
    if not isinstance(body, dict):
        return dataverse_error(
            400,
            "0x80048d19",
            f"Error identified in Payload provided by the user for Entity :'{table}', For more "
            "information on this error please follow this help link "
            "https://go.microsoft.com/fwlink/?linkid=2195293",
        )
    for column in body:
        if not column.startswith(COLUMN_PREFIX) and "@odata.bind" not in column:
            return dataverse_error(
                400,
                "0x80060891",
                f"An undeclared property '{column}' which only has property annotations in the "
                f"payload but no property value was found in the payload. Invalid property "
                f"'{column}' was found in entity 'Microsoft.Dynamics.CRM.{table}'.",
            )
    record_id = str(uuid.uuid4())
    now = iso_utc()
    with state.lock:
        stored = {
            **body,
            f"{table}id": record_id,
            "createdon": now,
            "modifiedon": now,
            "@odata.etag": f'W/"{len(env["tables"][entity_set]) + 1000}"',
        }
        env["tables"][entity_set].append(stored)
    location = f"{env_url}/{API}/{entity_set}({record_id})"
    headers = {**ODATA_HEADERS, "OData-EntityId": location, "Location": location}
    if "return=representation" in request.headers.get("Prefer", ""):
        body = {"@odata.context": f"{env_url}/{API}/$metadata#{entity_set}/$entity", **stored}
        return json_response(body, 201, headers)
    return Response(status=204, headers=headers)


def _list(state: SandboxState, host: str, env_url: str, env: dict, entity_set: str) -> Response:
    table = logical_name(entity_set)
    args = request.args
    try:
        groups = odata.parse_filter(args.get("$filter"))
        top = odata.non_negative_int(args.get("$top"), "$top")
        skip = odata.non_negative_int(args.get("$skiptoken") or args.get("$skip"), "$skiptoken")
    except ValueError as error:
        return dataverse_error(400, "0x80060888", str(error))
    with state.lock:
        rows = [dict(r) for r in env["tables"][entity_set] if odata.matches(r, groups)]
        page_size = state.settings["dataverse_page_size"]
    preferred = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("Prefer", ""))
    # Per the contract, `$top` sets the page size; more rows than that give a nextLink.
    size = min(n for n in (top, page_size, int(preferred[1]) if preferred else None) if n)
    start = skip or 0
    page = rows[start : start + size]
    body: dict[str, Any] = {
        "@odata.context": f"{env_url}/{API}/$metadata#{entity_set}",
        "value": [odata.select(r, args.get("$select"), (f"{table}id",)) for r in page],
    }
    if len(rows) > start + size:
        params = {k: v for k, v in args.items() if k not in ("$skiptoken", "$skip")}
        params["$skiptoken"] = str(start + size)
        body["@odata.nextLink"] = odata.next_link(f"https://{host}/{API}/{entity_set}", params)
    return json_response(body, headers=ODATA_HEADERS)


def _get_one(state: SandboxState, env_url: str, env: dict, entity_set: str, key: str) -> Response:
    table = logical_name(entity_set)
    with state.lock:
        found = next((r for r in env["tables"][entity_set] if r[f"{table}id"] == key.lower()), None)
    if found is None:
        return dataverse_error(404, "0x80040217", f"{table} With Id = {key} Does Not Exist")
    body = {"@odata.context": f"{env_url}/{API}/$metadata#{entity_set}/$entity", **found}
    return json_response(odata.select(body, request.args.get("$select"), (f"{table}id",)))
