"""Control page, inspection API, request log hygiene, reset and concurrency."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import requests

from sandbox import demo
from tests.sandbox.conftest import (
    DV_SCOPE,
    access_token,
    bc_url,
    bearer,
    dv_url,
    token_request,
    xledger,
)
from tests.sandbox.test_xledger import ADD, voucher


class _Outline(HTMLParser):
    """Collects what an accessibility check cares about."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def outline(html: str) -> list[tuple[str, dict]]:
    parser = _Outline()
    parser.feed(html)
    return parser.tags


def test_control_page_is_plain_accessible_html(sandbox):
    response = requests.get(f"{sandbox.url}/_sandbox/", timeout=5)
    assert response.status_code == 200
    tags = outline(response.text)
    names = [tag for tag, _ in tags]
    assert tags[0] == ("html", {"lang": "en"})
    assert names.count("h1") == 1
    assert {"header", "main", "footer"} <= set(names)
    assert "script" not in names
    labelled = {attrs.get("for") for tag, attrs in tags if tag == "label"}
    for tag, attrs in tags:
        if tag in ("input", "select") and attrs.get("type") != "hidden":
            assert attrs["id"] in labelled
        if tag == "form":
            assert attrs["method"] == "post"
    assert any(tag == "p" and attrs.get("lang") == "nb" for tag, attrs in tags)
    assert demo.XLEDGER_TOKEN in response.text and demo.CLIENT_SECRET in response.text


def test_page_buttons_revoke_expire_and_inject(sandbox):
    session = requests.Session()
    revoked = session.post(f"{sandbox.url}/_sandbox/actions/revoke-token", timeout=5)
    assert revoked.status_code == 200 and "is revoked" in revoked.text
    assert xledger(sandbox, "{ __typename }").json()["errors"][0]["code"] == "UNAUTHENTICATED"
    session.post(f"{sandbox.url}/_sandbox/actions/restore-token", timeout=5)
    assert "data" in xledger(sandbox, "{ __typename }").json()

    session.post(f"{sandbox.url}/_sandbox/actions/expire-secret", timeout=5)
    assert token_request(sandbox).json()["error_codes"] == [7000222]
    session.post(f"{sandbox.url}/_sandbox/actions/restore-secret", timeout=5)
    assert token_request(sandbox).status_code == 200

    page = session.post(
        f"{sandbox.url}/_sandbox/actions/add-fault",
        data={"target": "dynamics", "kind": "status", "count": "1"},
        timeout=5,
    )
    assert "Fault injected" in page.text
    assert token_request(sandbox).status_code == 503
    assert token_request(sandbox).status_code == 200

    session.post(f"{sandbox.url}/_sandbox/actions/toggle-burst", timeout=5)
    assert sandbox.state.settings["burst_limit"] is True
    invalid = session.post(f"{sandbox.url}/_sandbox/actions/add-fault", data={}, timeout=5)
    assert "nothing changed" in invalid.text


def test_page_shows_what_each_system_holds(sandbox):
    xledger(sandbox, ADD, {"inputs": voucher(20260217, "claim-page")})
    token = access_token(sandbox)
    journals = requests.get(
        bc_url(sandbox, f"companies({demo.BC_COMPANY_ID})/journals"),
        headers=bearer(token),
        timeout=5,
    ).json()["value"]
    lines_url = bc_url(
        sandbox, f"companies({demo.BC_COMPANY_ID})/journals({journals[0]['id']})/journalLines"
    )
    for account, amount in (("7150", 400), ("2910", -400)):
        requests.post(
            lines_url,
            json={
                "accountNumber": account,
                "amount": amount,
                "documentNumber": "BC-PAGE",
                "externalDocumentNumber": "claim-bc",
            },
            headers=bearer(token),
            timeout=5,
        )
    requests.post(
        dv_url(sandbox, demo.DATAVERSE_TABLE),
        json={"ll_reference": "claim-dv"},
        headers=bearer(access_token(sandbox, scope=DV_SCOPE)),
        timeout=5,
    )
    page = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).text
    assert "Voucher 20260217" in page and "claim-page" in page
    assert "Journal lines waiting to be posted" in page and "claim-bc" in page
    assert "ll_reference=claim-dv" in page


def test_request_log_never_holds_tokens_or_secrets(sandbox, control):
    token = access_token(sandbox)
    dv_token = access_token(sandbox, scope=DV_SCOPE)
    token_request(sandbox, client_secret="wrong-secret-value")
    requests.get(bc_url(sandbox, "companies"), headers=bearer(token), timeout=5)
    requests.get(dv_url(sandbox, "WhoAmI"), headers=bearer(dv_token), timeout=5)
    xledger(sandbox, "{ __typename }")
    seen = control.requests_seen()
    assert [r["api"] for r in seen] == [
        "entra",
        "entra",
        "entra",
        "business_central",
        "dataverse",
        "xledger",
    ]
    assert [r["status"] for r in seen] == [200, 200, 401, 200, 200, 200]
    assert [r["error"] for r in seen] == [None, None, "invalid_client", None, None, None]
    assert set(seen[0]) == {"at", "api", "method", "host", "path", "status", "error"}
    dump = repr(seen)
    for secret in (token, dv_token, demo.CLIENT_SECRET, "wrong-secret-value", demo.XLEDGER_TOKEN):
        assert secret not in dump
    assert "Authorization" not in dump and "authorization" not in dump


def test_settings_api_and_reset(sandbox, control):
    assert control.settings(burst_limit=True)["burst_limit"] is True
    bad = requests.put(f"{sandbox.url}/_sandbox/api/settings", json={"nope": 1}, timeout=5)
    assert bad.status_code == 400
    bad = requests.put(
        f"{sandbox.url}/_sandbox/api/settings", json={"xledger_unknown_token": "maybe"}, timeout=5
    )
    assert bad.status_code == 400
    xledger(sandbox, ADD, {"inputs": voucher(1, "before-reset")})
    control.set_fault("x", "status")
    control.reset()
    assert control.ledger()["xledger"]["vouchers"] == []
    assert control.faults() == [] and control.requests_seen() == []
    assert control.settings()["burst_limit"] is False


def test_unknown_host_is_404_json(sandbox):
    response = requests.get(f"{sandbox.url}/example.com/anything", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"error": "unknown host"}


def test_concurrent_exports_are_all_stored_with_unique_ids(sandbox, control):
    def export(n: int) -> list[str]:
        body = xledger(sandbox, ADD, {"inputs": voucher(n, f"par-{n}")}).json()
        return [e["node"]["dbId"] for e in body["data"]["addGLImportItems"]["edges"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for chunk in pool.map(export, range(40)) for i in chunk]
    assert len(set(ids)) == 80
    vouchers = control.ledger()["xledger"]["vouchers"]
    assert sorted(v["trRegNumber"] for v in vouchers) == list(range(40))


def test_demo_credentials_endpoint(sandbox):
    body = requests.get(f"{sandbox.url}/_sandbox/api/demo", timeout=5).json()
    assert body["xledger_token"] == "demo-xledger-token-2026"
    assert body["tenant_id"] == "7b9c7a2e-4f1d-4c3a-9a55-2d1e0c3b8f10"
    assert body["client_id"] == "3f2b8c1d-6e4a-4b7f-8c2d-1a9e5f7b3c60"
    assert body["client_secret"] == "demo-secret-Value~2026"
    assert re.fullmatch(r"https://ledgerlink-demo\.crm4\.dynamics\.com", body["dataverse_url"])


def test_tenant_variations_are_switched_on_the_page_and_reset(sandbox, control):
    from sandbox.variations import VARIATIONS

    page = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).text
    assert "Tenant variations" in page
    for variation in VARIATIONS.values():
        assert f'<select id="variation-{variation.key}" name="value">' in page
        assert f'<option value="{variation.default}" selected>' in page
    chosen = requests.post(
        f"{sandbox.url}/_sandbox/actions/variation",
        data={"key": "xledger_token_origin", "value": "demo"},
        timeout=5,
    )
    assert chosen.status_code == 200 and "The tenant variation changed" in chosen.text
    assert control.settings()["xledger_token_origin"] == "demo"
    refused = requests.post(
        f"{sandbox.url}/_sandbox/actions/variation",
        data={"key": "xledger_token_origin", "value": "moon"},
        timeout=5,
    )
    assert "That request was not understood" in refused.text
    assert control.settings()["xledger_token_origin"] == "demo"
    control.reset()
    assert control.settings()["xledger_token_origin"] == "live"
