"""Business Central fake: auth, companies, reference data, journal lines and posting."""

from __future__ import annotations

import re

import pytest
import requests

from sandbox import demo
from tests.sandbox.conftest import (
    DV_SCOPE,
    access_token,
    bc_url,
    bearer,
    company_url,
    real_to_sandbox,
)

CORRELATION = r"  CorrelationId:  [0-9a-f-]{36}\.$"


@pytest.fixture
def token(sandbox) -> str:
    return access_token(sandbox)


def get(url: str, token: str, **params: str) -> requests.Response:
    return requests.get(url, params=params or None, headers=bearer(token), timeout=5)


def post(url: str, token: str, body: dict | None = None) -> requests.Response:
    return requests.post(url, json=body, headers=bearer(token), timeout=5)


def journal_id(sandbox, token: str) -> str:
    body = get(company_url(sandbox, "journals"), token, **{"$filter": "code eq 'LEDGERLINK'"})
    [journal] = body.json()["value"]
    return journal["id"]


def add_line(sandbox, token: str, jid: str, **fields) -> requests.Response:
    return post(company_url(sandbox, f"journals({jid})/journalLines"), token, fields)


def assert_bc_error(response, status: int, code: str, message_start: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(message_start), error["message"]
    assert re.search(CORRELATION, error["message"]), error["message"]


def test_companies(sandbox, token):
    body = get(bc_url(sandbox, "companies"), token).json()
    [company] = body["value"]
    assert company["id"] == demo.BC_COMPANY_ID
    assert company["name"] == demo.BC_COMPANY_NAME
    expected = {
        "id",
        "systemVersion",
        "timestamp",
        "name",
        "displayName",
        "businessProfileId",
        "systemCreatedAt",
        "systemCreatedBy",
        "systemModifiedAt",
        "systemModifiedBy",
    }
    assert expected <= set(company)
    # The tenant can be the domain too.
    by_domain = get(bc_url(sandbox, "companies", tenant=demo.TENANT_DOMAIN), token)
    assert by_domain.status_code == 200


def test_rejected_credentials(sandbox, control, token):
    dataverse_token = access_token(sandbox, scope=DV_SCOPE)
    for headers in ({}, bearer("garbage"), bearer(dataverse_token)):
        response = requests.get(bc_url(sandbox, "companies"), headers=headers, timeout=5)
        assert_bc_error(
            response,
            401,
            "Authentication_InvalidCredentials",
            "The server has rejected the client credentials.",
        )
    control.set_fault(demo.CLIENT_ID, "not_registered", count=1)
    assert get(bc_url(sandbox, "companies"), token).status_code == 401
    assert get(bc_url(sandbox, "companies"), token).status_code == 200


def test_expired_token_is_rejected(sandbox, control, token):
    control.expire_access_tokens(demo.CLIENT_ID)
    assert get(bc_url(sandbox, "companies"), token).status_code == 401
    assert get(bc_url(sandbox, "companies"), access_token(sandbox)).status_code == 200


def test_unknown_environment_and_route(sandbox, token):
    response = get(bc_url(sandbox, "companies", environment="prod-typo"), token)
    assert_bc_error(response, 404, "BadRequest_NotFound", "Environment 'prod-typo' not found.")
    assert response.json()["error"]["message"].startswith(
        "Environment 'prod-typo' not found.  CorrelationId:  "
    )
    unknown = get(company_url(sandbox, "nonsense"), token)
    assert_bc_error(unknown, 404, "BadRequest_NotFound", "No HTTP resource was found")


def test_reference_collections(sandbox, token):
    accounts = get(company_url(sandbox, "accounts"), token).json()["value"]
    assert {"1920", "2910", "7140", "7790"} <= {a["number"] for a in accounts}
    values = get(company_url(sandbox, "dimensionValues"), token).json()["value"]
    assert {"100", "400", "P100", "P300"} <= {v["code"] for v in values}
    groups = get(company_url(sandbox, "taxGroups"), token).json()["value"]
    assert [g["code"] for g in groups] == ["INGEN", "HØY", "MIDDELS", "LAV"]


def test_top_skip_and_next_link(sandbox, control, token):
    all_numbers = [
        a["number"] for a in get(company_url(sandbox, "accounts"), token).json()["value"]
    ]
    page = get(company_url(sandbox, "accounts"), token, **{"$top": "3", "$skip": "2"}).json()
    assert [a["number"] for a in page["value"]] == all_numbers[2:5]
    assert "@odata.nextLink" not in page

    control.settings(bc_page_size=5)
    url, numbers = company_url(sandbox, "accounts"), []
    while url:
        body = get(url, token).json()
        numbers += [a["number"] for a in body["value"]]
        link = body.get("@odata.nextLink")
        assert link is None or link.startswith(f"https://{demo.BC_HOST}/v2.0/")
        url = real_to_sandbox(sandbox, link) if link else None
    assert numbers == all_numbers


def test_post_flow_moves_balanced_documents_to_the_ledger(sandbox, control, token):
    jid = journal_id(sandbox, token)
    created = add_line(
        sandbox,
        token,
        jid,
        accountNumber="7140",
        amount=250.0,
        documentNumber="LL-1",
        externalDocumentNumber="claim-1",
        postingDate="2026-02-17",
        description="Reise",
    )
    assert created.status_code == 201
    line = created.json()
    assert line["lineNumber"] == 10000 and line["accountNumber"] == "7140"
    dim = post(
        company_url(sandbox, f"journals({jid})/journalLines({line['id']})/dimensionSetLines"),
        token,
        {"code": "AVDELING", "valueCode": "200"},
    )
    assert dim.status_code == 201 and dim.json()["valueCode"] == "200"
    second = add_line(
        sandbox,
        token,
        jid,
        accountNumber="2910",
        amount=-250.0,
        documentNumber="LL-1",
        externalDocumentNumber="claim-1",
        postingDate="2026-02-17",
    )
    assert second.json()["lineNumber"] == 20000
    # A self-balancing line (balancing account on the line) is a document of its own.
    add_line(
        sandbox,
        token,
        jid,
        accountNumber="6800",
        amount=99.5,
        documentNumber="LL-2",
        externalDocumentNumber="claim-2",
        balancingAccountNumber="2910",
    )

    lines = get(company_url(sandbox, f"journals({jid})/journalLines"), token).json()["value"]
    assert len(lines) == 3
    posted = post(company_url(sandbox, f"journals({jid})/Microsoft.NAV.post"), token)
    assert posted.status_code == 204 and posted.content == b""

    assert get(company_url(sandbox, f"journals({jid})/journalLines"), token).json()["value"] == []
    # generalLedgerEntry has no externalDocumentNumber (Learn): filtering on it is refused,
    # the document number is what a posted claim is found by.
    refused = get(
        company_url(sandbox, "generalLedgerEntries"),
        token,
        **{"$filter": "externalDocumentNumber eq 'claim-1'"},
    )
    assert refused.status_code == 400
    assert "Could not find a property named 'externalDocumentNumber'" in refused.text
    entries = get(
        company_url(sandbox, "generalLedgerEntries"),
        token,
        **{"$filter": "documentNumber eq 'LL-1' or documentNumber eq 'LL-2'"},
    ).json()["value"]
    assert [(e["accountNumber"], e["debitAmount"], e["creditAmount"]) for e in entries] == [
        ("7140", 250.0, 0.0),
        ("2910", 0.0, 250.0),
        ("6800", 99.5, 0.0),
        ("2910", 0.0, 99.5),
    ]
    assert [e["entryNumber"] for e in entries] == [1, 2, 3, 4]
    assert {e["documentNumber"] for e in entries} == {"LL-1", "LL-2"}
    ledger = control.ledger()["business_central"]["general_ledger_entries"]
    assert ledger[0]["dimensions"] == [{"code": "AVDELING", "valueCode": "200"}]


def test_unbalanced_document_is_not_posted(sandbox, control, token):
    jid = journal_id(sandbox, token)
    add_line(sandbox, token, jid, accountNumber="7140", amount=100, documentNumber="LL-9")
    add_line(sandbox, token, jid, accountNumber="2910", amount=-90, documentNumber="LL-9")
    response = post(company_url(sandbox, f"journals({jid})/Microsoft.NAV.post"), token)
    assert_bc_error(response, 400, "Internal_ServerError", "Document No. LL-9 is out of balance")
    ledger = control.ledger()["business_central"]
    assert ledger["general_ledger_entries"] == [] and len(ledger["journal_lines"]) == 2


def test_journal_line_validation(sandbox, token):
    jid = journal_id(sandbox, token)
    unknown = add_line(sandbox, token, jid, accountNumber="9999", amount=1)
    assert_bc_error(unknown, 400, "Internal_RecordNotFound", "The G/L Account does not exist.")
    typo = add_line(sandbox, token, jid, accountNo="7140", amount=1)
    assert_bc_error(typo, 400, "BadRequest", "The property 'accountNo' does not exist")
    text_amount = add_line(sandbox, token, jid, accountNumber="7140", amount="1,00")
    assert_bc_error(text_amount, 400, "BadRequest", "Cannot convert a primitive value")
    empty = post(company_url(sandbox, f"journals({jid})/Microsoft.NAV.post"), token)
    assert_bc_error(empty, 400, "Internal_ServerError", "There is nothing to post.")


def test_missing_permission_fault(sandbox, control, token):
    jid = journal_id(sandbox, token)
    control.set_fault(demo.CLIENT_ID, "no_permission", count=1)
    response = add_line(sandbox, token, jid, accountNumber="7140", amount=1)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert response.json()["error"]["code"] == "Internal_ServerError"
    assert re.fullmatch(
        r"Sorry, the current permissions prevented the action\. \(TableData 81 Gen\. Journal "
        r"Line Insert: Ledgerlink\)  CorrelationId:  [0-9a-f-]{36}\.",
        message,
    ), message
    assert add_line(sandbox, token, jid, accountNumber="7140", amount=1).status_code == 201
