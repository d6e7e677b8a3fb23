"""Dataverse Web API fake: token checks, WhoAmI, create, readback, paging and errors."""

from __future__ import annotations

import re

import requests

from sandbox import demo
from tests.sandbox.conftest import access_token, bearer, dv_url, real_to_sandbox

TABLE = demo.DATAVERSE_TABLE
WWW_AUTHENTICATE = (
    f"Bearer authorization_uri=https://login.microsoftonline.com/{demo.TENANT_ID}"
    f"/oauth2/authorize, resource_id={demo.DATAVERSE_URL}/"
)


def dv_token(sandbox) -> str:
    return access_token(sandbox, scope=f"{demo.DATAVERSE_URL}/.default")


def create(sandbox, token: str, record: dict, **headers: str) -> requests.Response:
    return requests.post(
        dv_url(sandbox, TABLE),
        json=record,
        headers={**bearer(token), "OData-Version": "4.0", **headers},
        timeout=5,
    )


def test_who_am_i(sandbox):
    response = requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(dv_token(sandbox)), timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == (
        f"{demo.DATAVERSE_URL}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse"
    )
    for key in ("BusinessUnitId", "UserId", "OrganizationId"):
        assert re.fullmatch(r"[0-9a-f-]{36}", body[key])


def test_api_host_form_shares_the_environment(sandbox):
    host = demo.DATAVERSE_HOST.replace(".crm4.", ".api.crm4.")
    response = requests.get(
        dv_url(sandbox, "WhoAmI", host=host), headers=bearer(dv_token(sandbox)), timeout=5
    )
    assert response.status_code == 200


def test_bad_tokens_get_401_with_empty_body(sandbox, control):
    bc_token = access_token(sandbox)  # right tenant, wrong resource
    expired = dv_token(sandbox)
    control.expire_access_tokens()
    for headers in ({}, bearer("garbage"), bearer(bc_token), bearer(expired)):
        response = requests.get(dv_url(sandbox, "WhoAmI"), headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["WWW-Authenticate"] == WWW_AUTHENTICATE


def test_not_registered_fault_for_one_client(sandbox, control):
    other = control.new_entra_app()
    control.set_fault(other["client_id"], "not_registered")
    other_token = access_token(
        sandbox,
        scope=f"{demo.DATAVERSE_URL}/.default",
        client_id=other["client_id"],
        client_secret=other["client_secret"],
    )
    response = requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(other_token), timeout=5)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "0x80072560", "message": "The user is not a member of the organization."}
    }
    ok = requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(dv_token(sandbox)), timeout=5)
    assert ok.status_code == 200


def test_create_returns_204_and_entity_id_then_reads_back(sandbox, control):
    token = dv_token(sandbox)
    response = create(sandbox, token, {"ll_reference": "claim-1", "ll_amount": 250.0})
    assert response.status_code == 204
    assert response.content == b""
    entity_id = response.headers["OData-EntityId"]
    match = re.fullmatch(
        rf"{re.escape(demo.DATAVERSE_URL)}/api/data/v9\.2/{TABLE}\(([0-9a-f-]{{36}})\)", entity_id
    )
    assert match, entity_id

    one = requests.get(real_to_sandbox(sandbox, entity_id), headers=bearer(token), timeout=5)
    assert one.json()["ll_reference"] == "claim-1"
    assert one.json()["ll_expenselineid"] == match[1]
    records = control.ledger()["dataverse"][demo.DATAVERSE_HOST][TABLE]
    assert [r["ll_reference"] for r in records] == ["claim-1"]


def test_create_with_representation_returns_201(sandbox):
    response = create(
        sandbox, dv_token(sandbox), {"ll_reference": "claim-2"}, Prefer="return=representation"
    )
    assert response.status_code == 201
    assert response.json()["ll_reference"] == "claim-2"
    assert "OData-EntityId" in response.headers


def test_filter_select_and_next_link(sandbox):
    token = dv_token(sandbox)
    for n in range(5):
        assert create(sandbox, token, {"ll_reference": f"r{n}", "ll_name": "x"}).status_code == 204
    params = {
        "$filter": "ll_reference eq 'r0' or ll_reference eq 'r2' or ll_reference eq 'r4'",
        "$select": "ll_reference",
        "$top": "2",
    }
    url = dv_url(sandbox, TABLE)
    seen = []
    while url:
        response = requests.get(url, params=params, headers=bearer(token), timeout=5)
        body = response.json()
        seen += [row["ll_reference"] for row in body["value"]]
        assert all("ll_name" not in row and "ll_expenselineid" in row for row in body["value"])
        next_link = body.get("@odata.nextLink")
        assert next_link is None or next_link.startswith(demo.DATAVERSE_URL)
        url, params = (real_to_sandbox(sandbox, next_link), None) if next_link else (None, None)
    assert seen == ["r0", "r2", "r4"]


def test_page_size_setting_and_prefer_header(sandbox, control):
    token = dv_token(sandbox)
    for n in range(3):
        create(sandbox, token, {"ll_reference": f"p{n}"})
    control.settings(dataverse_page_size=2)
    body = requests.get(dv_url(sandbox, TABLE), headers=bearer(token), timeout=5).json()
    assert len(body["value"]) == 2 and "@odata.nextLink" in body
    body = requests.get(
        dv_url(sandbox, TABLE),
        headers={**bearer(token), "Prefer": "odata.maxpagesize=1"},
        timeout=5,
    ).json()
    assert len(body["value"]) == 1


def test_unknown_set_and_bad_filter(sandbox):
    token = dv_token(sandbox)
    response = requests.get(dv_url(sandbox, "Account"), headers=bearer(token), timeout=5)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "0x8006088a", "message": "Resource not found for the segment 'Account'."}
    }
    bad = requests.get(
        dv_url(sandbox, TABLE),
        params={"$filter": "contains(x,'y')"},
        headers=bearer(token),
        timeout=5,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "0x80060888"


def test_unknown_column_is_refused(sandbox):
    response = create(sandbox, dv_token(sandbox), {"amount": 1})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80060891"


def test_missing_privilege_on_create_and_read(sandbox, control):
    token = dv_token(sandbox)
    control.set_fault(token, "no_privilege", count=2)
    created = create(sandbox, token, {"ll_reference": "x"})
    assert created.status_code == 403
    error = created.json()["error"]
    assert error["code"] == "0x80040220"
    assert re.match(
        r"Principal user \(Id=[0-9a-f-]{36}, type=8, roleCount=1\), is missing "
        r"prvCreatell_expenseline privilege",
        error["message"],
    )
    read = requests.get(dv_url(sandbox, TABLE), headers=bearer(token), timeout=5)
    assert "is missing prvReadll_expenseline privilege" in read.json()["error"]["message"]
    assert create(sandbox, token, {"ll_reference": "x"}).status_code == 204


def test_entity_definitions(sandbox):
    response = requests.get(
        dv_url(sandbox, "EntityDefinitions"),
        params={"$select": "LogicalName,EntitySetName", "$filter": f"EntitySetName eq '{TABLE}'"},
        headers=bearer(dv_token(sandbox)),
        timeout=5,
    )
    assert [row["LogicalName"] for row in response.json()["value"]] == ["ll_expenseline"]
