"""Xledger GraphQL fake: auth rules, root fields, paging, GL import, limits and faults."""

from __future__ import annotations

import json

import pytest
import requests

from sandbox import demo
from tests.sandbox.conftest import xledger

BAD_FORMAT = 'Bad format for API Token. Expected header: "Authorization: token <your-token>"'
ADD = """mutation addGLImportItems($inputs: [AddGLImportItemsInput!]!) {
  addGLImportItems(inputs: $inputs) { edges { clientId node { dbId } } }
}"""
ITEMS = """query items($first: Int, $filter: GLImportItem_Filter) {
  glImportItems(first: $first, filter: $filter) { edges { cursor node { dbId extIdentifier } } }
}"""
ERRORS = """query errs($filter: GLImportItemError_Filter) {
  glImportItemErrors(first: 100, filter: $filter) {
    edges { node { dbId extIdentifier trRegNumber message } }
  }
}"""


def line(tr: int, account: str, amount: str, ext: str, **extra) -> dict:
    node = {
        "trRegNumber": tr,
        "postedDate": "2026-02-17",
        "transactionSource": {"code": "GL"},
        "account": {"code": account},
        "amount": amount,
        "text": "Reiseregning",
        "extIdentifier": ext,
        **extra,
    }
    return {"clientId": f"{ext}-{account}", "node": node}


def voucher(tr: int, ext: str, amount: str = "250.00", **extra) -> list[dict]:
    return [
        line(tr, "7140", amount, ext, project={"code": "P100"}, glObject1={"code": "200"}, **extra),
        line(tr, "2910", f"-{amount}", ext),
    ]


@pytest.mark.parametrize(
    ("scheme", "token"),
    [(None, None), ("Bearer", demo.XLEDGER_TOKEN), ("token", "short"), ("token", "bad token!")],
    ids=["missing", "bearer-scheme", "too-short", "bad-characters"],
)
def test_bad_auth_header_gets_bad_format_error(sandbox, scheme, token):
    response = xledger(sandbox, "{ __typename }", token=token, scheme=scheme or "token")
    assert response.status_code == 200
    assert response.json() == {"errors": [{"message": BAD_FORMAT}]}


def test_typename_on_both_hosts(sandbox):
    for host in demo.XLEDGER_HOSTS:
        response = xledger(sandbox, "query { __typename }", host=host)
        assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(("mode", "status"), [("errors", 200), ("401", 401)])
def test_unknown_and_revoked_tokens(sandbox, control, mode, status):
    control.settings(xledger_unknown_token=mode)
    expected = {"errors": [{"message": "Invalid or expired API token", "code": "UNAUTHENTICATED"}]}
    unknown = xledger(sandbox, "{ __typename }", token="well-formed-but-unknown")
    assert (unknown.status_code, unknown.json()) == (status, expected)

    control.revoke_xledger_token(demo.XLEDGER_TOKEN)
    revoked = xledger(sandbox, "{ __typename }")
    assert (revoked.status_code, revoked.json()) == (status, expected)
    control.restore_xledger_token(demo.XLEDGER_TOKEN)
    assert xledger(sandbox, "{ __typename }").json() == {"data": {"__typename": "Query"}}


def test_unknown_root_field(sandbox):
    body = xledger(sandbox, "query { foo { bar } }").json()
    assert body == {"errors": [{"message": "Cannot query field `foo` on type `Query`"}]}
    body = xledger(sandbox, "mutation { accounts { x } }").json()
    assert body["errors"][0]["message"] == "Cannot query field `accounts` on type `Mutation`"


def test_entities_for_test_connection(sandbox):
    query = "query { entities(first: 1) { edges { node { dbId code description } } } }"
    edges = xledger(sandbox, query).json()["data"]["entities"]["edges"]
    assert len(edges) == 1
    assert edges[0]["node"]["code"] == demo.XLEDGER_ENTITY_CODE
    assert edges[0]["cursor"] == edges[0]["node"]["dbId"]


def test_accounts_paginate_with_dbid_cursors(sandbox):
    query = """query accounts($first: Int, $after: String) {
      accounts(first: $first, after: $after) {
        edges { cursor node { dbId code description } } pageInfo { hasNextPage hasPreviousPage }
      }
    }"""
    codes, after, pages = [], None, 0
    while True:
        result = xledger(sandbox, query, {"first": 5, "after": after}).json()["data"]["accounts"]
        pages += 1
        codes += [edge["node"]["code"] for edge in result["edges"]]
        assert result["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["edges"][-1]["cursor"]
    assert codes == [code for code, _name, _kind in demo.ACCOUNTS]
    assert pages == 3
    for code in ("1920", "2400", "2910", "2930", "6800", "7100", "7140", "7350", "7790"):
        assert code in codes


def test_first_above_10000_is_refused(sandbox):
    body = xledger(
        sandbox,
        "query q($first: Int) { accounts(first: $first) { edges { cursor } } }",
        {"first": 10001},
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VALUE"


def test_tax_rules_and_departments_are_object_values(sandbox):
    kinds = xledger(sandbox, "{ objectKinds(first: 10) { edges { node { dbId name } } } }").json()
    by_name = {e["node"]["name"]: e["node"]["dbId"] for e in kinds["data"]["objectKinds"]["edges"]}
    query = """query values($filter: ObjectValue_Filter) {
      objectValues(first: 100, filter: $filter) { edges { node { code description } } }
    }"""

    def codes(kind: str) -> list[str]:
        variables = {"filter": {"objectKindDbId": by_name[kind]}}
        edges = xledger(sandbox, query, variables).json()["data"]["objectValues"]["edges"]
        return [e["node"]["code"] for e in edges]

    assert codes("TAX_RULE") == ["0", "1", "11", "13"]
    assert codes("GL_OBJECT_1") == ["100", "200", "300", "400"]


def test_inline_literal_first_and_projects(sandbox):
    body = xledger(
        sandbox, "{ projects(first: 2) { edges { node { code } } pageInfo { hasNextPage } } }"
    )
    result = body.json()["data"]["projects"]
    assert [e["node"]["code"] for e in result["edges"]] == ["P100", "P200"]
    assert result["pageInfo"]["hasNextPage"] is True


def test_valid_voucher_is_posted_and_read_back(sandbox, control):
    inputs = voucher(20260217, "claim-1", taxRule={"code": "0"})
    response = xledger(sandbox, ADD, {"inputs": inputs})
    edges = response.json()["data"]["addGLImportItems"]["edges"]
    assert [e["clientId"] for e in edges] == ["claim-1-7140", "claim-1-2910"]
    assert all(e["node"]["dbId"].isdigit() for e in edges)

    vouchers = control.ledger()["xledger"]["vouchers"]
    assert len(vouchers) == 1
    assert vouchers[0]["trRegNumber"] == 20260217
    assert vouchers[0]["extIdentifier"] == "claim-1"
    assert [(ln["account"], ln["amount"]) for ln in vouchers[0]["lines"]] == [
        ("7140", "250.00"),
        ("2910", "-250.00"),
    ]
    assert vouchers[0]["lines"][0]["project"] == "P100"
    assert vouchers[0]["lines"][0]["glObject1"] == "200"

    items = xledger(sandbox, ITEMS, {"first": 100, "filter": {"extIdentifier_in": ["claim-1"]}})
    found = items.json()["data"]["glImportItems"]["edges"]
    assert [e["node"]["dbId"] for e in found] == [e["node"]["dbId"] for e in edges]
    errors = xledger(sandbox, ERRORS, {"filter": {"extIdentifier_in": ["claim-1"]}}).json()
    assert errors["data"]["glImportItemErrors"]["edges"] == []


def test_invalid_vouchers_are_staged_with_errors_and_not_posted(sandbox, control):
    unbalanced = [line(1, "7140", "100.00", "bad-sum"), line(1, "2910", "-90.00", "bad-sum")]
    unknown = voucher(2, "bad-codes", taxRule={"code": "99"})
    unknown[1]["node"]["account"] = {"code": "9999"}
    fine = voucher(3, "good")
    response = xledger(sandbox, ADD, {"inputs": unbalanced + unknown + fine})
    assert len(response.json()["data"]["addGLImportItems"]["edges"]) == 6

    ledger = control.ledger()["xledger"]
    assert [v["extIdentifier"] for v in ledger["vouchers"]] == ["good"]
    assert len(ledger["import_items"]) == 6

    body = xledger(sandbox, ERRORS, {"filter": {"extIdentifier_in": ["bad-sum", "bad-codes"]}})
    rows = [e["node"] for e in body.json()["data"]["glImportItemErrors"]["edges"]]
    by_ext = {}
    for row in rows:
        by_ext.setdefault(row["extIdentifier"], []).append(row["message"])
    assert by_ext["bad-sum"] == ["Voucher 1 does not balance: the lines sum to 10.00"] * 2
    assert by_ext["bad-codes"] == ["Tax rule '99' does not exist", "Account '9999' does not exist"]
    assert {row["trRegNumber"] for row in rows} == {1, 2}


def test_unknown_project_and_department_are_reported(sandbox):
    inputs = voucher(5, "dims")
    inputs[0]["node"]["project"] = {"code": "P999"}
    inputs[0]["node"]["glObject1"] = {"code": "999"}
    xledger(sandbox, ADD, {"inputs": inputs})
    rows = xledger(sandbox, ERRORS, {"filter": {"extIdentifier_in": ["dims"]}}).json()
    messages = [e["node"]["message"] for e in rows["data"]["glImportItemErrors"]["edges"]]
    assert messages == ["Project 'P999' does not exist; GL object 1 '999' does not exist"]


def test_duplicates_are_stored_again(sandbox, control):
    for _ in range(2):
        xledger(sandbox, ADD, {"inputs": voucher(7, "claim-dup")})
    vouchers = control.ledger()["xledger"]["vouchers"]
    assert [v["extIdentifier"] for v in vouchers] == ["claim-dup", "claim-dup"]
    items = xledger(sandbox, ITEMS, {"first": 100, "filter": {"extIdentifier_in": ["claim-dup"]}})
    assert len(items.json()["data"]["glImportItems"]["edges"]) == 4


def test_500_inputs_pass_and_501_are_refused(sandbox, control):
    inputs = [item for n in range(250) for item in voucher(1000 + n, f"bulk-{n}")]
    assert len(inputs) == 500
    ok = xledger(sandbox, ADD, {"inputs": inputs}).json()
    assert len(ok["data"]["addGLImportItems"]["edges"]) == 500

    too_many = inputs + [line(9999, "7140", "0", "one-too-many")]
    body = xledger(sandbox, ADD, {"inputs": too_many}).json()
    assert body == {
        "errors": [
            {
                "message": "Too many inputs: at most 500 per call",
                "code": "BAD_REQUEST.TOO_MANY_INPUTS",
            }
        ]
    }
    assert len(control.ledger()["xledger"]["import_items"]) == 500


def test_inline_mutation_literals_and_multipart_upload(sandbox, control):
    query = """mutation { addGLImportItems(inputs: [
      { clientId: "a", node: { trRegNumber: 42, account: { code: "6800" }, amount: "10.50",
                               text: "Penner # og papir", extIdentifier: "inline" } }
      { clientId: "b", node: { trRegNumber: 42, account: { code: "1920" }, amount: -10.5,
                               extIdentifier: "inline" } }
    ]) { edges { clientId node { dbId } } } }"""
    body = xledger(sandbox, query).json()
    assert [e["clientId"] for e in body["data"]["addGLImportItems"]["edges"]] == ["a", "b"]
    response = requests.post(
        f"{sandbox.url}/www.xledger.net/graphql",
        headers={"Authorization": f"token {demo.XLEDGER_TOKEN}"},
        data={"content": json.dumps({"query": ADD, "variables": {"inputs": voucher(43, "mp")}})},
        files={"kvittering.pdf": ("kvittering.pdf", b"%PDF-1.4", "application/pdf")},
        timeout=5,
    )
    assert len(response.json()["data"]["addGLImportItems"]["edges"]) == 2
    assert [v["trRegNumber"] for v in control.ledger()["xledger"]["vouchers"]] == [42, 43]


def test_burst_limit_trips_at_the_21st_request_and_slides(sandbox, control):
    control.settings(burst_limit=True)
    now = [1000.0]
    sandbox.state.clock = lambda: now[0]
    for _ in range(20):
        assert "data" in xledger(sandbox, "{ __typename }").json()
    body = xledger(sandbox, "{ __typename }").json()
    assert body["errors"][0]["code"] == "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"
    assert "Too many requests" in body["errors"][0]["message"]
    # Per token: another token is unaffected.
    other = control.new_xledger_token()
    assert "data" in xledger(sandbox, "{ __typename }", token=other).json()
    now[0] += 5.0
    assert "data" in xledger(sandbox, "{ __typename }").json()


def test_request_log_names_the_burst_refusal_that_came_back_as_200(sandbox, control):
    control.settings(burst_limit=True, burst_max_requests=2)
    for _ in range(3):
        xledger(sandbox, "{ __typename }")
    seen = [(r["status"], r["error"]) for r in control.requests_seen()]
    assert seen == [(200, None), (200, None), (200, "BAD_REQUEST.BURST_RATE_LIMIT_REACHED")]


def test_burst_limit_is_off_when_embedded_and_configurable(sandbox, control):
    assert control.settings()["burst_limit"] is False
    control.settings(burst_limit=True, burst_max_requests=3)
    results = [xledger(sandbox, "{ __typename }").json() for _ in range(4)]
    assert ["data" in r for r in results] == [True, True, True, False]


def test_credits_fault_has_reset_at(sandbox, control):
    control.set_fault(demo.XLEDGER_TOKEN, "credits", count=1)
    error = xledger(sandbox, "{ __typename }").json()["errors"][0]
    assert error["code"] == "BAD_REQUEST.INSUFFICIENT_CREDITS"
    assert error["message"] == "Not enough credits"
    assert error["extensions"]["resetAt"].endswith("Z")
    assert "data" in xledger(sandbox, "{ __typename }").json()


def test_missing_read_scope_fault(sandbox, control):
    control.set_fault(demo.XLEDGER_TOKEN, "no_read_scope")
    body = xledger(sandbox, "{ accounts(first: 1) { edges { cursor } } }").json()
    assert body == {
        "errors": [
            {
                "message": "Access denied: the API token has no read access to Accounts",
                "code": "FORBIDDEN",
            }
        ]
    }
    # __typename needs no data scope, as with the real API.
    assert "data" in xledger(sandbox, "{ __typename }").json()


def test_syntax_errors_and_bad_bodies(sandbox):
    assert "Syntax Error" in xledger(sandbox, "query { accounts(").json()["errors"][0]["message"]
    response = requests.post(
        f"{sandbox.url}/www.xledger.net/graphql",
        data="not json",
        headers={"Authorization": f"token {demo.XLEDGER_TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 200 and "errors" in response.json()
