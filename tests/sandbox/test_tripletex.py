"""The fake Tripletex API as ACCOUNTING_APIS §9 reads the real one: sessions, Basic auth, the
error envelope, paging and the voucher rules."""

from __future__ import annotations

import base64
import datetime as dt

import requests

from sandbox import demo

HOST = "api-test.tripletex.tech"


def url(sandbox, path: str) -> str:
    return f"{sandbox.url}/{HOST}/v2/{path}"


def session(sandbox, days: int = 2, consumer: str = demo.TRIPLETEX_CONSUMER_TOKEN, host=HOST):
    expires = (dt.date.today() + dt.timedelta(days=days)).isoformat()
    return requests.put(
        f"{sandbox.url}/{host}/v2/token/session/:create",
        params={
            "consumerToken": consumer,
            "employeeToken": demo.TRIPLETEX_EMPLOYEE_TOKEN,
            "expirationDate": expires,
        },
        timeout=5,
    )


def basic(token: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"0:{token}".encode()).decode()}


def test_a_session_is_made_from_both_tokens_and_used_as_basic_password(sandbox, control):
    made = session(sandbox)
    assert made.status_code == 200
    token = made.json()["value"]["token"]
    who = requests.get(url(sandbox, "token/session/>whoAmI"), headers=basic(token), timeout=5)
    assert who.json()["value"]["company"]["name"] == demo.TRIPLETEX_COMPANY
    assert who.headers["X-Rate-Limit-Remaining"]
    refused = requests.get(url(sandbox, "token/session/>whoAmI"), timeout=5)
    body = refused.json()
    assert (refused.status_code, body["code"]) == (401, 3000)
    assert body["requestId"] == refused.headers["x-tlx-request-id"]


def test_a_session_must_end_after_today_and_a_test_token_stays_in_test(sandbox, control):
    past = session(sandbox, days=0).json()
    assert past["validationMessages"][0]["field"] == "arg:expirationDate"
    other = session(sandbox, host="tripletex.no").json()
    assert (other["status"], other["validationMessages"][0]["field"]) == (422, "arg:consumerToken")


def test_lists_page_with_from_and_count(sandbox, control):
    token = session(sandbox).json()["value"]["token"]
    first = requests.get(
        url(sandbox, "ledger/account"),
        params={"from": 0, "count": 5},
        headers=basic(token),
        timeout=5,
    ).json()
    rest = requests.get(
        url(sandbox, "ledger/account"),
        params={"from": 5, "count": 100},
        headers=basic(token),
        timeout=5,
    ).json()
    assert len(first["values"]) == 5 and len(rest["values"]) == len(demo.ACCOUNTS) - 5
    assert first["fullResultSize"] == len(demo.ACCOUNTS)


def test_vouchers_need_rows_from_1_and_a_zero_sum(sandbox, control):
    token = session(sandbox).json()["value"]["token"]
    account = 100 + [code for code, _n, _k in demo.ACCOUNTS].index("7140")
    payable = 100 + [code for code, _n, _k in demo.ACCOUNTS].index("2910")

    def post(postings):
        body = {"date": "2026-02-17", "externalVoucherNumber": "LL-S-1", "postings": postings}
        return requests.post(
            url(sandbox, "ledger/voucher"), json=body, headers=basic(token), timeout=5
        )

    row0 = post([{"row": 0, "account": {"id": account}, "amountGross": 0}]).json()
    assert row0["validationMessages"][0]["field"] == "postings.row"
    assert "rad 0" in row0["validationMessages"][0]["message"]
    unbalanced = post([{"row": 1, "account": {"id": account}, "amountGross": 10}]).json()
    assert "er ikke lik 0" in unbalanced["validationMessages"][0]["message"]
    assert unbalanced["code"] == 18000
    ok = post(
        [
            {"row": 1, "account": {"id": account}, "amountGross": 10},
            {"row": 2, "account": {"id": payable}, "amountGross": -10},
        ]
    )
    assert ok.status_code == 201
    found = requests.get(
        url(sandbox, "ledger/voucher"),
        params={"dateFrom": "2026-02-17", "dateTo": "2026-02-17"},
        headers=basic(token),
        timeout=5,
    ).json()
    assert found["values"] == []  # dateTo is exclusive
    found = requests.get(
        url(sandbox, "ledger/voucher/>externalVoucherNumber"),
        params={"externalVoucherNumber": "LL-S-1"},
        headers=basic(token),
        timeout=5,
    ).json()
    assert [v["externalVoucherNumber"] for v in found["values"]] == ["LL-S-1"]
