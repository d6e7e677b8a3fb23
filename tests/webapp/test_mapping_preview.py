"""The mapping editor's preview through the Flask client: one sample claim at a time, the
exact requests loaded when asked for, a changed mapping or fetched codes shown at once, and
nothing from another organisation."""

from __future__ import annotations

import re

import pytest

from tests.querycount import counting_queries
from tests.webapp.test_mapping_editor import ADMIN, VIEWER, Editor, body, connected
from webapp import mapping as resolver
from webapp.db import db, utcnow
from webapp.models import ReferenceCache
from webapp.services import mappings


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug="demo")
    make.member(org, ADMIN, "coordinator_admin")
    make.member(org, VIEWER, "coordinator")
    return org


@pytest.fixture
def xledger(org):
    return connected(org)


def options(html: str) -> list[tuple[str, bool, str]]:
    """The claim chooser's options: (claim id, selected, text)."""
    return [
        (value, bool(selected), text.strip())
        for value, selected, text in re.findall(
            r'<option value="(\d+)"( selected)?>([^<]*)</option>', html
        )
    ]


def shown_claim(html: str) -> str:
    """The claim number in the heading of the claim on screen."""
    return re.search(r'<h3 id="preview-claim-title"[^>]*>([^<–]+) –', html).group(1).strip()


def test_one_sample_claim_at_a_time(auth, client, org, xledger, make):
    claims = [make.claim(org, lines=(("travel", "100.10"), ("meals", "20.05"))) for _ in range(6)]
    empty = make.claim(org, lines=())
    make.claim(org, status="submitted")
    auth.login(VIEWER)
    editor = Editor(client, xledger)
    # The newest approved claim is on screen; the chooser lists every approved one, newest
    # first, the one that cannot be sent marked with its problems.
    page = editor.page
    choices = options(page)
    assert [int(value) for value, _s, _t in choices] == [empty.id] + [c.id for c in claims[::-1]]
    assert choices[0][1] and choices[0][2] == f"1. {empty.claim_number} – Kari Nordmann (1 problem)"
    assert choices[1][2] == f"2. {claims[5].claim_number} – Kari Nordmann"
    assert '<label for="preview-claim">Sample claims (the latest approved)</label>' in page
    assert "6 of 7 sample claims would be sent as they are." in page and "Claim 1 of 7" in page
    assert shown_claim(page) == empty.claim_number
    assert "This claim would not be sent:" in page
    assert f"Expense claim {empty.claim_number}: The expense claim has no lines" in page
    assert "Previous claim" not in page and "Next claim" in page

    # Choosing the oldest claim: its voucher, as an accountant reads it, and where it is.
    response = editor.get(f"/preview?claim={claims[0].id}&show=1")
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    html = body(response)
    assert html.startswith('<section id="preview"')
    assert shown_claim(html) == claims[0].claim_number
    assert "Claim 7 of 7" in html and "Ready to send" in html
    assert re.search(r'hx-swap-oob="innerHTML:#flash"><p [^>]*>Claim 7 of 7</p>', html)
    assert "Previous claim" in html and "Next claim" not in html
    assert f'href="{editor.base}/preview?claim={claims[1].id}&show=1#preview"' in html
    voucher = html.split(f'id="voucher-{claims[0].id}"')[1].split("</table>")[0]
    assert re.search(r'data-label="Account">7140</td>', voucher)
    assert re.search(r'data-label="Account">2910</td>', voucher)
    assert re.search(r'data-label="Credit" class="num">120.15</td>', voucher)
    assert "The voucher balances: debit and credit are both 120.15." in html
    # The exact requests are not in the preview; opening the disclosure loads them.
    assert f"LL-{xledger.id}-{claims[0].id}" not in html
    assert 'hx-trigger="toggle once"' in html
    requests = body(editor.get(f"/preview/payload?claim={claims[0].id}"))
    assert requests.startswith('<pre class="payload"')
    assert f"LL-{xledger.id}-{claims[0].id}" in requests
    assert '"amount": "100.10"' in requests and '"amount": "-120.15"' in requests
    assert '"code": "7140"' in requests and '"code": "2910"' in requests
    assert '"postedDate": "' in requests
    # The list and its Show button send the same choice.
    chosen = body(editor.get(f"/preview?claim={claims[2].id}"))
    assert shown_claim(chosen) == claims[2].claim_number and "Claim 5 of 7" in chosen
    assert "#flash" not in chosen  # a refresh after a save is not announced

    # Without JavaScript the same choices come back as the whole page.
    page = body(editor.get(f"/preview?claim={claims[1].id}", htmx=False))
    assert "<h1>" in page and shown_claim(page) == claims[1].claim_number
    assert f"LL-{xledger.id}-{claims[1].id}" not in page
    link = f'href="{editor.base}/preview/payload?claim={claims[1].id}#payload-{claims[1].id}"'
    assert link in page
    opened = body(editor.get(f"/preview/payload?claim={claims[1].id}", htmx=False))
    assert "<h1>" in opened and f'id="payload-{claims[1].id}" open' in opened
    assert f"LL-{xledger.id}-{claims[1].id}" in opened


def test_a_claim_not_in_the_sample_is_not_shown(auth, client, org, xledger, make):
    mine = make.claim(org)
    other = make.org("Annen forening", slug="annen")
    theirs = make.claim(other, claim_number="ANNEN-1", claimant_name="Per Annen")
    submitted = make.claim(org, status="submitted", claim_number="RR-INNSENDT")
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    for claim in (theirs, submitted):
        html = body(editor.get(f"/preview?claim={claim.id}&show=1"))
        assert shown_claim(html) == mine.claim_number
        assert claim.claim_number not in html and "Per Annen" not in html
        requests = body(editor.get(f"/preview/payload?claim={claim.id}"))
        assert "The preview has changed since this claim was shown." in requests
        assert claim.claim_number not in requests and "LL-" not in requests


def test_no_approved_claims(auth, client, org, xledger):
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    assert "There are no approved claims yet, so there is nothing to preview." in editor.page
    assert 'id="preview-claim"' not in editor.page
    assert "The preview has changed" in body(editor.get("/preview/payload?claim=1"))


def test_a_changed_mapping_or_fetched_codes_show_at_once(auth, client, org, xledger, make, sandbox):
    claim = make.claim(org, lines=(("mileage", "248.00"),))
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    assert re.search(r'data-label="Account">2910</td>', editor.page)
    unchanged = body(editor.get("/preview"))

    # Saved through the editor (htmx then asks for the preview again). The save checked the
    # code against the chart, fetched for it: the accounts' names now show too.
    saved = editor.save("balancingAccount", kind="constant", constant="2930")
    assert "mapping-changed" in saved.headers["HX-Trigger"]
    html = body(editor.get(f"/preview?claim={claim.id}"))
    assert re.search(r'data-label="Account">2930 [^<]+</td>', html) and html != unchanged
    assert re.search(r'data-label="Account">7100 Bilgodtgjørelse[^<]*</td>', html)
    assert '"code": "2930"' in body(editor.get(f"/preview/payload?claim={claim.id}"))

    # Changed by other code (no version check on the way): still shown at once.
    account = mappings.stored_rows(xledger)["account"]
    lookup = tuple((k, "7130" if k == "mileage" else v) for k, v in account.lookup)
    changed = resolver.MappingRow(
        "account", "lookup", account.value, lookup, account.lookup_default
    )
    mappings.save_row(xledger, "account", changed, actor=None, expected_version=editor.version)
    assert re.search(r'data-label="Account">7130 [^<]+</td>', body(editor.get("/preview")))
    mappings.save_row(xledger, "account", None, actor=None, expected_version=editor.version)
    html = body(editor.get("/preview"))
    assert (
        "0 of 1 sample claim would be sent as it is." in html
        and "Account is required by Xledger" in html
    )
    mappings.save_row(xledger, "account", account, actor=None, expected_version=editor.version)
    assert "1 of 1 sample claim would be sent as it is." in body(editor.get("/preview"))

    # A new fetch of the codes (the preview asks again when it hears of one) is shown too:
    # an account the chart no longer has makes the claim not ready, and says why.
    fetched = editor.post("/reference", {})
    assert "references-refreshed" in fetched.headers["HX-Trigger"]
    cache = ReferenceCache.get(ReferenceCache.kind == "account")
    chart = [item for item in cache.items if item[0] != "2930"]
    # What a later fetch stores when the account was closed in Xledger meanwhile.
    ReferenceCache.update(items=chart, refreshed_at=utcnow()).where(
        ReferenceCache.id == cache.id
    ).execute()
    html = body(editor.get("/preview"))
    assert "0 of 1 sample claim would be sent as it is." in html
    assert "2930 is not an account in Xledger, so Xledger would refuse this claim." in html


def test_the_preview_resolves_again_only_when_its_inputs_change(auth, client, org, xledger, make):
    claims = [make.claim(org) for _ in range(3)]
    auth.login(ADMIN)
    editor = Editor(client, xledger)

    def lines_read(path: str) -> int:
        with counting_queries(db.obj) as seen:
            assert editor.get(path).status_code == 200
        return sum("expense_claim_line" in sql for sql in seen)

    # Already resolved for the page: moving between the claims reads no claim lines.
    for claim in claims:
        assert lines_read(f"/preview?claim={claim.id}") == 0
    editor.save("balancingAccount", kind="constant", constant="2930")
    assert lines_read("/preview") == 1  # every sample claim at once, then kept
    assert lines_read(f"/preview?claim={claims[0].id}") == 0
    newer = make.claim(org)
    assert lines_read("/preview") == 1
    assert shown_claim(body(editor.get("/preview"))) == newer.claim_number
