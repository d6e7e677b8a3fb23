"""Field mapping editor: every action through the Flask client, against PostgreSQL and the
sandbox over loopback; and each type's default mapping resolved and accepted by the
sandbox's export endpoints."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from sandbox import demo
from webapp import mapping as resolver
from webapp.models import (
    AuditEvent,
    ExpenseClaim,
    FieldMapping,
    Integration,
    IntegrationCredential,
    ReferenceCache,
    User,
)
from webapp.services import mappings

ADMIN = "kari@example.org"
VIEWER = "ola@example.org"
HX = {"HX-Request": "true"}
ENTRA = {
    "tenant_id": demo.TENANT_ID,
    "client_id": demo.CLIENT_ID,
    "client_secret": demo.CLIENT_SECRET,
}
CREDENTIALS = {
    "xledger": {"api_token": demo.XLEDGER_TOKEN, "environment": "demo", "entity_code": "NBF"},
    "dynamics_bc": {
        **ENTRA,
        "environment": demo.BC_ENVIRONMENT,
        "company": demo.BC_COMPANY_NAME,
        "journal": demo.BC_JOURNAL,
    },
    "dynamics_dataverse": {
        **ENTRA,
        "environment_url": demo.DATAVERSE_URL,
        "table": demo.DATAVERSE_TABLE,
    },
}


def connected(org, type_key: str = "xledger", *, credentials: bool = True) -> Integration:
    """A saved integration with its type's default mapping and sealed demo credentials."""
    from webapp.vault import get_vault

    integration = Integration.create(
        organization=org, type_key=type_key, name=f"Demo {type_key}", status="draft"
    )
    mappings.install_defaults(integration, None)
    if credentials:
        get_vault().seal_set(integration, 1, CREDENTIALS[type_key], actor=None)
        integration.active_credential_version = 1
        integration.status = "connected"
        integration.save()
    return Integration.get_by_id(integration.id)


@pytest.fixture
def org(make):
    org = make.org("Demoforeningen", slug="demo")
    make.member(org, ADMIN, "coordinator_admin")
    make.member(org, VIEWER, "coordinator")
    return org


@pytest.fixture
def xledger(org):
    return connected(org)


class Editor:
    """The editor's URLs and forms for one integration, as a signed-in browser sends them."""

    def __init__(self, client, integration: Integration) -> None:
        self.client = client
        self.integration = integration
        self.base = f"/o/demo/integrations/{integration.id}/mappings"
        page = client.get(self.base + "/?lang=en")
        assert page.status_code == 200
        self.page = page.get_data(as_text=True)
        self.token = re.search(r'name="csrf-token" content="([^"]+)"', self.page).group(1)

    @property
    def version(self) -> int:
        return Integration.get_by_id(self.integration.id).version

    def get(self, path: str, htmx: bool = True):
        return self.client.get(self.base + path, headers=HX if htmx else {})

    def post(self, path: str, data: dict, htmx: bool = True):
        return self.client.post(
            self.base + path, data={"csrf_token": self.token, **data}, headers=HX if htmx else {}
        )

    def save(self, target: str, htmx: bool = True, version: int | None = None, **fields):
        data = {"version": str(self.version if version is None else version), **fields}
        return self.post(f"/fields/{target}", data, htmx)

    def lookup_form(self, target: str = "account", **changes) -> dict:
        """The lookup row's edit form as stored, with `changes` on top."""
        row = mappings.stored_rows(self.integration)[target]
        form = {
            "kind": "lookup",
            "lookup_field": row.value,
            "lookup_default": row.lookup_default or "",
            "entry_count": str(len(row.lookup)),
        }
        for i, (key, value) in enumerate(row.lookup):
            form[f"entry-{i}-key"] = key
            form[f"entry-{i}-value"] = value
        form.update(changes)
        return form

    def entry_index(self, key: str, target: str = "account") -> int:
        row = mappings.stored_rows(self.integration)[target]
        return [k for k, _v in row.lookup].index(key)


def stored(integration: Integration, target: str) -> resolver.MappingRow | None:
    return mappings.stored_rows(integration).get(target)


def last_audit() -> AuditEvent:
    return AuditEvent.select().order_by(AuditEvent.id.desc()).first()


def body(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_viewer_sees_the_mapping_but_cannot_change_it(auth, client, org, xledger, make):
    other = make.org("Annen forening", slug="annen")
    make.member(other, ADMIN, "coordinator_admin")
    foreign = connected(other, credentials=False)

    auth.login(VIEWER)
    editor = Editor(client, xledger)
    assert "Balancing account (payable)" in editor.page
    assert "/edit" not in editor.page
    assert 'action="' + editor.base + '/reference"' not in editor.page
    assert "You can look at the mapping." in editor.page
    assert "Coordinator administrators can:" in editor.page
    assert editor.get("/fields/account/edit").status_code == 403
    version = editor.version
    for path, data in (
        ("/fields/account", {"version": str(version), "kind": "constant", "constant": "7140"}),
        ("/reference", {}),
        ("/defaults", {}),
    ):
        assert editor.post(path, data).status_code == 403, path
    assert editor.version == version
    assert stored(xledger, "account").kind == "lookup"

    # Another organisation's integration answers like a page that does not exist.
    assert client.get(f"/o/demo/integrations/{foreign.id}/mappings/").status_code == 404
    assert client.get(f"/o/annen/integrations/{foreign.id}/mappings/").status_code == 404
    assert editor.get("/fields/no_such_field").status_code == 404


def test_edit_a_row_inline_then_save_or_cancel(auth, client, org, xledger):
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    # Required fields first, each marked.
    order = re.findall(r'<li id="row-(\w+)"', editor.page)
    assert order[:3] == ["postedDate", "account", "balancingAccount"]
    assert editor.page.count("(required)") == 3

    form = editor.get("/fields/balancingAccount/edit")
    assert form.status_code == 200
    assert "HX-Request" in form.headers["Vary"]
    html = body(form)
    assert html.startswith('<li id="row-balancingAccount"')
    assert 'hx-target="this" hx-swap="outerHTML"' in html
    assert re.search(r'value="constant" id="[^"]+"\s+checked data-autofocus', html)
    assert f'name="version" value="{editor.version}"' in html
    # Switching the source type only shows other boxes; nothing is saved.
    switched = body(editor.get("/fields/balancingAccount/edit?kind=lookup"))
    assert 'name="lookup_field"' in switched and 'name="new_key"' in switched
    cancel = editor.get("/fields/balancingAccount")
    assert 'name="constant"' not in body(cancel) and "data-autofocus" in body(cancel)

    before = editor.version
    saved = editor.save("balancingAccount", kind="constant", constant="2930")
    assert saved.status_code == 200
    html = body(saved)
    assert html.startswith('<li id="row-balancingAccount"') and "mapping-row--editing" not in html
    assert "Balancing account (payable) saved." in html
    assert 'hx-swap-oob="innerHTML:#flash"' in html
    assert re.search(
        r'href="[^"]+/fields/balancingAccount/edit#[^"]+"\s+hx-get="[^"]+"\s+data-autofocus', html
    )
    assert "mapping-changed" in saved.headers["HX-Trigger"]
    assert stored(xledger, "balancingAccount").value == "2930"
    assert editor.version == before + 1
    event = last_audit()
    assert (event.action, event.fields) == ("mapping.saved", ["balancingAccount"])
    assert event.actor.email == ADMIN and event.target_id == xledger.id

    # Without JavaScript: the edit page, then a plain POST and a redirect back.
    page = editor.get("/fields/text/edit", htmx=False)
    assert "<h1>" in body(page) and "mapping-row--editing" in body(page)
    plain = editor.save(
        "text", htmx=False, kind="template", template="{claim.purpose} ({claim.claim_number})"
    )
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith("/mappings/#row-text")
    assert "Text saved." in body(client.get(plain.headers["Location"]))
    assert stored(xledger, "text").value == "{claim.purpose} ({claim.claim_number})"
    assert last_audit().fields == ["text"]

    # An optional field can be left empty: its row goes, the audit says so.
    editor.save("yourReference", kind="constant", constant="Ledgerlink")
    editor.save("yourReference", kind="none")
    assert stored(xledger, "yourReference") is None
    assert (last_audit().action, last_audit().fields) == ("mapping.cleared", ["yourReference"])


BAD_INPUT = [
    (
        "unknown source field",
        "glObject1",
        {"kind": "field", "field": "line.colour"},
        "field",
        "The source field “line.colour” does not exist.",
    ),
    (
        "template with a missing field",
        "text",
        {"kind": "template", "template": "{claim.purpose} {claim.colour}"},
        "template",
        "The template uses “claim.colour”, which is not a field of the expense claim.",
    ),
    (
        "constant of the wrong type",
        "postedDate",
        {"kind": "constant", "constant": "tomorrow"},
        "constant",
        "“tomorrow” is not a date.",
    ),
    (
        "text longer than the target allows",
        "yourReference",
        {"kind": "constant", "constant": "x" * 101},
        "constant",
        "has 101 characters, but Xledger allows at most 100 here.",
    ),
    (
        "required field without a source",
        "account",
        {"kind": "none"},
        "kind",
        "Account is required by Xledger, so it needs a source.",
    ),
]


def test_bad_input_gets_a_specific_message_at_the_row(auth, client, org, xledger, make):
    make.claim(org, lines=(("mileage", "100.00"), ("parking", "40.00")))
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    cases = [
        *BAD_INPUT,
        (
            "lookup without a default and an unmatched key",
            "account",
            editor.lookup_form(lookup_default=""),
            "lookup_default",
            "“parking” (Expense type on an approved claim waiting for export) is not in the "
            "lookup table, and the table has no default.",
        ),
        (
            "lookup value that is not a code",
            "account",
            editor.lookup_form(**{f"entry-{editor.entry_index('travel')}-value": "71 40"}),
            f"entry-{editor.entry_index('travel')}-value",
            "is not a valid code.",
        ),
    ]
    version = editor.version
    before = {r.target: r for r in resolver.rows_from_models(FieldMapping.select())}
    for name, target, fields, input_name, message in cases:
        response = editor.save(target, **fields)
        assert response.status_code == 200, name
        html = body(response)
        assert message in html, name
        error_id = f"e-{target}-{input_name}"
        assert f'id="{error_id}"' in html, name
        assert re.search(rf'aria-describedby="[^"]*{error_id}', html), name
        assert 'aria-invalid="true"' in html or input_name == "kind", name
        assert "error-summary" in html and "was not saved" in html, name
        assert "mapping-row--editing" in html, name
    # Nothing was saved: same version, same rows.
    assert editor.version == version
    assert {r.target: r for r in resolver.rows_from_models(FieldMapping.select())} == before

    # Without JavaScript the whole page comes back (status 200) with the message.
    page = editor.save("postedDate", htmx=False, kind="constant", constant="tomorrow")
    assert page.status_code == 200 and "<h1>" in body(page)
    assert "“tomorrow” is not a date." in body(page)


def test_lookup_entries_are_added_changed_and_removed(auth, client, org, xledger, make):
    claim = make.claim(org, lines=(("mileage", "248.00"),))
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    assert '"code": "7100"' in body(editor.get(f"/preview/payload?claim={claim.id}"))

    mileage = editor.entry_index("mileage")
    changed = editor.save("account", **editor.lookup_form(**{f"entry-{mileage}-value": "7130"}))
    assert changed.status_code == 200 and "Account saved." in body(changed)
    assert dict(stored(xledger, "account").lookup)["mileage"] == "7130"
    assert last_audit().action == "mapping.lookup_entry_changed"
    assert last_audit().fields == ["account"]
    preview = body(editor.get(f"/preview/payload?claim={claim.id}"))
    assert '"code": "7130"' in preview and '"code": "7100"' not in preview

    # "Save and add another entry" stays in the form, ready for the next key.
    added = editor.save(
        "account", **editor.lookup_form(new_key="parking", new_value="7160", action="add_another")
    )
    html = body(added)
    assert "mapping-row--editing" in html
    assert re.search(r'name="new_key" type="text" value=""[^>]*data-autofocus', html)
    assert dict(stored(xledger, "account").lookup)["parking"] == "7160"
    assert last_audit().action == "mapping.lookup_entry_added"

    duplicate = editor.save("account", **editor.lookup_form(new_key="Travel", new_value="7140"))
    assert "“Travel” is already in the table." in body(duplicate)

    office = editor.entry_index("office")
    removed = editor.save("account", **editor.lookup_form(**{f"entry-{office}-remove": "1"}))
    assert removed.status_code == 200
    assert "office" not in dict(stored(xledger, "account").lookup)
    assert last_audit().action == "mapping.lookup_entry_removed"

    # The same through the service functions other code uses.
    version = editor.version
    mappings.add_lookup_entry(
        xledger, "account", "toll", "7140", actor=None, expected_version=version
    )
    mappings.change_lookup_entry(
        xledger, "account", "toll", "7130", actor=None, expected_version=version + 1
    )
    assert dict(stored(xledger, "account").lookup)["toll"] == "7130"
    with pytest.raises(mappings.InvalidMapping):
        mappings.change_lookup_entry(
            xledger, "account", "toll", "71 30", actor=None, expected_version=version + 2
        )
    with pytest.raises(mappings.StaleVersion):
        mappings.remove_lookup_entry(xledger, "account", "toll", actor=None, expected_version=1)
    mappings.remove_lookup_entry(
        xledger, "account", "toll", actor=None, expected_version=version + 2
    )
    assert "toll" not in dict(stored(xledger, "account").lookup)
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id.desc()).limit(3)]
    assert actions == [
        "mapping.lookup_entry_removed",
        "mapping.lookup_entry_changed",
        "mapping.lookup_entry_added",
    ]


def test_second_save_is_refused_with_who_changed_it_and_when(auth, client, org, xledger):
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    opened_at = editor.version
    per = User.create(
        issuer="http://issuer", subject="per", email="per@example.org", display_name="Per Persen"
    )
    mappings.save_row(
        xledger,
        "balancingAccount",
        resolver.MappingRow("balancingAccount", "constant", "2930"),
        actor=per,
        expected_version=opened_at,
    )
    changed = Integration.get_by_id(xledger.id)
    when = mappings.clock_time(changed.updated_at, "Europe/Oslo")
    assert re.fullmatch(r"\d\d:\d\d( \(\d\d\.\d\d\.\d{4}\))?", when)
    assert when[:5] == f"{changed.updated_at.astimezone(ZoneInfo('Europe/Oslo')):%H:%M}"
    response = editor.save("balancingAccount", version=opened_at, kind="constant", constant="2400")
    assert response.status_code == 200
    html = body(response)
    assert f"Changed by Per Persen at {when} – reload the page" in html
    assert 'id="conflict-balancingAccount"' in html
    assert stored(xledger, "balancingAccount").value == "2930"
    assert editor.version == opened_at + 1
    # Reloading gives a form at the new version, and then the save goes through.
    assert f'name="version" value="{opened_at + 1}"' in body(
        editor.get("/fields/balancingAccount/edit")
    )
    assert editor.save("balancingAccount", kind="constant", constant="2400").status_code == 200
    assert stored(xledger, "balancingAccount").value == "2400"


def test_codes_are_checked_against_the_sandbox_chart(auth, client, org, xledger, sandbox, make):
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    assert "The codes have not been fetched from Xledger yet" in editor.page
    mileage = editor.entry_index("mileage")

    # A code the live chart does not have is refused at its own input, naming the closest
    # (the codes are fetched for the check when they never were).
    refused = editor.save("account", **editor.lookup_form(**{f"entry-{mileage}-value": "7131"}))
    assert refused.status_code == 200
    assert re.search(
        r"7131 is not an account in Xledger\. Closest codes there: 7130[^<]*Choose a code that "
        r"exists there",
        body(refused),
    )
    assert f'id="f-account-entry-{mileage}-value"' in body(refused)
    assert 'aria-invalid="true"' in body(refused)
    assert dict(stored(xledger, "account").lookup)["mileage"] == "7100"
    caches = {c.kind: c for c in ReferenceCache.select()}
    assert set(caches) == {"account", "tax_code", "project", "dimension"}
    assert ["7130", "Reisekostnad, oppgavepliktig"] in caches["account"].items
    nb = editor.post(
        "/fields/balancingAccount?lang=nb",
        {"version": str(editor.version), "kind": "constant", "constant": "2911"},
    )
    assert "2911 er ikke en konto i Xledger. Nærmeste koder der: 2910" in body(nb)
    assert stored(xledger, "balancingAccount").value == "2910"
    editor.get("/reference?lang=en")  # back to English for the rest

    # Codes saved while they existed are flagged when the chart no longer has them.
    chart = [item for item in caches["account"].items if item[0] not in ("7100", "2910")]
    ReferenceCache.update(items=chart).where(ReferenceCache.kind == "account").execute()
    html = body(editor.get("/reference"))
    assert "2 codes in the mapping are not in Xledger:" in html
    assert re.search(
        r'<span class="code-flag">7100</span>\s*is not an account in Xledger\.\s*'
        r"Closest codes there: 2710, 7130, 7140",
        html,
    )
    assert re.search(r'<span class="code-flag">2910</span>\s*is not an account in Xledger', html)
    local = mappings.local_time(caches["account"].refreshed_at, "Europe/Oslo")
    assert f"Codes last fetched from Xledger: {local} (Europe/Oslo)." in html
    # The row shows its own flag.
    row = body(editor.get("/fields/account"))
    assert '<span class="code-flag">7100</span>' in row and "mapping-row__flags" in row
    # The preview no longer calls a claim using those codes ready, and says why.
    claim = make.claim(org)
    preview = body(editor.get(f"/preview?claim={claim.id}"))
    assert "Ready to send" not in preview and "This claim would not be sent:" in preview
    assert re.search(
        r"Line \d, Balancing account \(payable\): 2910 is not an account in Xledger, so Xledger "
        r"would refuse this claim\.",
        preview,
    )

    # Correct the code: the flag goes, without fetching again.
    editor.save("account", **editor.lookup_form(**{f"entry-{mileage}-value": "7130"}))
    check = body(editor.get("/reference"))
    assert "1 code in the mapping is not in Xledger:" in check and "7100" not in check

    # Fetching again moves the time shown.
    old = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.UTC)
    ReferenceCache.update(refreshed_at=old).execute()
    # An English page writes the date the English way (the editor once showed 05.01.2026).
    assert "Codes last fetched from Xledger: 5 Jan 2026 10:30 (Europe/Oslo)." in body(
        editor.get("/reference")
    )
    plain = editor.post("/reference", {}, htmx=False)
    assert plain.status_code == 302 and plain.headers["Location"].endswith("#reference-check")
    assert all(c.refreshed_at > old for c in ReferenceCache.select())
    assert "5 Jan 2026 10:30" not in body(client.get(plain.headers["Location"]))


def test_lists_the_token_may_not_read_are_not_checked_and_say_why(
    auth, client, org, xledger, sandbox
):
    # A role without projects and departments: those codes are not checked (never "no such
    # code"), the editor says why and what to grant; accounts are still checked.
    sandbox.settings(xledger_reference_lists="denied")
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    saved = editor.save("project", kind="constant", constant="P-UNKNOWN")
    assert "is not a project" not in body(saved)
    assert stored(xledger, "project").value == "P-UNKNOWN"
    html = body(editor.post("/reference", {}))
    skipped = html.split('id="reference-skipped"')[1].split("</div>")[0]
    assert "Not checked:" in skipped
    assert "Projects were not checked: the API token may not read them in Xledger." in skipped
    assert "Departments and other dimensions were not checked" in skipped
    assert "P-UNKNOWN" not in html
    kinds = {c.kind: c for c in ReferenceCache.select()}
    assert kinds["project"].skipped["code"] == "FORBIDDEN" and kinds["project"].items == []
    assert kinds["account"].skipped is None and kinds["account"].items
    refused = editor.save("balancingAccount", kind="constant", constant="2911")
    assert "2911 is not an account in Xledger" in body(refused)
    # Once the role may read them, the next fetch checks them again.
    sandbox.settings(xledger_reference_lists="all")
    html = body(editor.post("/reference", {}))
    assert 'id="reference-skipped"' not in html
    assert '<span class="code-flag">P-UNKNOWN</span>' in html


def test_a_save_that_cannot_reach_the_system_is_kept_and_does_not_wait_again(
    auth, client, org, xledger, sandbox
):
    # The codes were never fetched and Xledger answers 503: the save goes through unchecked,
    # the check says why, and the next save does not ask Xledger again.
    sandbox.set_fault(demo.XLEDGER_TOKEN, "status", status=503)
    auth.login(ADMIN)
    editor = Editor(client, xledger)
    saved = editor.save("balancingAccount", kind="constant", constant="2911")
    assert "is not an account" not in body(saved)
    assert stored(xledger, "balancingAccount").value == "2911"
    asked = len(sandbox.requests_seen())
    editor.save("balancingAccount", kind="constant", constant="2912")
    assert len(sandbox.requests_seen()) == asked
    check = body(editor.get("/reference"))
    skipped = check.split('id="reference-skipped"')[1].split("</div>")[0]
    assert "Not checked:" in skipped and "HTTP 503" in skipped
    # Once Xledger answers, fetching again checks the codes.
    sandbox.clear_faults()
    check = body(editor.post("/reference", {}))
    assert 'id="reference-skipped"' not in check
    assert '<span class="code-flag">2912</span>' in check


def test_fetching_codes_explains_missing_or_unreadable_credentials(auth, client, org, make):
    draft = connected(org, credentials=False)
    auth.login(ADMIN)
    editor = Editor(client, draft)
    response = editor.post("/reference", {})
    assert response.status_code == 200
    assert "Ledgerlink has no saved credentials for Xledger yet" in body(response)

    broken = connected(org)
    IntegrationCredential.update(token=IntegrationCredential.token.concat("x")).where(
        IntegrationCredential.integration == broken
    ).execute()
    editor = Editor(client, broken)
    response = editor.post("/reference", {})
    assert response.status_code == 200
    assert "The credentials must be entered again." in body(response)
    assert ReferenceCache.select().count() == 0


def test_install_defaults_is_idempotent_and_offered_when_empty(auth, client, org):
    empty = Integration.create(organization=org, type_key="dynamics_bc", name="BC")
    auth.login(ADMIN)
    editor = Editor(client, empty)
    assert "This integration has no field mapping yet" in editor.page
    assert editor.post("/defaults", {}, htmx=False).status_code == 302
    rows = mappings.stored_rows(empty)
    assert set(rows) == {r.target for r in resolver.rows_from_defaults(empty_type(empty))}
    assert resolver.validate_mapping(empty_type(empty), list(rows.values())) == {}
    assert last_audit().action == "integration.mapping_defaults"
    assert mappings.install_defaults(empty, None) == 0
    assert FieldMapping.select().where(FieldMapping.integration == empty).count() == len(rows)


def empty_type(integration):
    from adapters import get_type

    return get_type(integration.type_key)


@pytest.mark.parametrize(
    "type_key",
    [
        "xledger",
        "dynamics_bc",
        "dynamics_dataverse",
    ],
)
def test_sandbox_accepts_each_types_default_mapping(app, sandbox, sandbox_server, type_key):
    """Demo claims resolved with the type's default mapping, sent through the adapter."""
    accepted(type_key, sandbox, sandbox_server)


def test_sandbox_accepts_business_central_with_a_tax_code_lookup(app, sandbox, sandbox_server):
    """What the editor's code check leads a BC coordinator to: tax codes through a lookup."""
    tax = resolver.MappingRow(
        "taxCode", "lookup", "line.vat_code", lookup=(("0", "INGEN"), ("1", "HØY"))
    )
    accepted("dynamics_bc", sandbox, sandbox_server, {"taxCode": tax})


def accepted(type_key, sandbox, sandbox_server, replace=None) -> None:
    from adapters import get_adapter, get_type
    from adapters.base import AdapterSettings
    from webapp.models import Organization
    from webapp.services.demo import seed

    seed("demo@example.org")
    org = Organization.get(Organization.slug == "demoforeningen")
    itype = get_type(type_key)
    rows = {r.target: r for r in resolver.rows_from_defaults(itype)}
    rows.update(replace or {})
    claims = [
        resolver.ClaimData.from_model(c)
        for c in ExpenseClaim.select().where(ExpenseClaim.organization == org)
    ]
    vouchers, errors = resolver.resolve_claims(
        itype, list(rows.values()), claims, integration_id=41, tz="Europe/Oslo"
    )
    assert errors == [] and len(vouchers) == len(claims) == 6
    settings = AdapterSettings(
        sandbox_url=sandbox_server.url, max_attempts=2, max_retry_seconds=1, backoff_base=0.01
    )
    results = get_adapter(type_key)(CREDENTIALS[type_key], settings).export(vouchers)
    assert [r.error for r in results] == [None] * 6
    assert {r.reference for r in results} == {v.reference for v in vouchers}
    ledger = sandbox.ledger()
    totals = {}
    if type_key == "xledger":
        for voucher in ledger["xledger"]["vouchers"]:
            totals[voucher["extIdentifier"]] = sum(Decimal(ln["amount"]) for ln in voucher["lines"])
    elif type_key == "dynamics_bc":
        for entry in ledger["business_central"]["general_ledger_entries"]:
            change = Decimal(str(entry["debitAmount"])) - Decimal(str(entry["creditAmount"]))
            ref = entry["documentNumber"]
            totals[ref] = totals.get(ref, Decimal(0)) + change
    else:
        [rows_written] = ledger["dataverse"][demo.DATAVERSE_HOST].values()
        for record in rows_written:
            ref = record["ll_reference"]
            totals[ref] = totals.get(ref, Decimal(0)) + Decimal(str(record["ll_amount"]))
    assert len(totals) == 6 and set(totals.values()) == {Decimal(0)}
