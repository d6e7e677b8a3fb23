"""Xledger over its GraphQL API: test connection, reference data and voucher export."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from adapters import register
from adapters.base import Adapter, AdapterSettings
from adapters.checks import run_checks
from adapters.defaults import standard_checks, standard_mapping
from adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
    TransientError,
)
from adapters.http import (
    HttpClient,
    HttpOptions,
    fingerprint,
    redact,
    shared_limiter,
    transient_for_status,
)
from adapters.types import (
    CheckResult,
    Choice,
    CredentialField,
    ExportResult,
    IntegrationType,
    ReferenceItem,
    ReferenceKind,
    TargetField,
    Text,
    Voucher,
)
from adapters.vouchers import (
    batches,
    chunks,
    date_text,
    failed,
    money,
    spread_voucher_fields,
    text_value,
    unbalanced,
)

log = logging.getLogger(__name__)

HOSTS = {"production": "www.xledger.net", "demo": "demo.xledger.net"}
API_TOKENS_URL = "https://www.xledger.net/f/api-tokens"

# Xledger's limit on the line text is not published; 250 is what its UI accepts. UNCONFIRMED.
TEXT_LENGTH = 250

TARGET_FIELDS = (
    TargetField(
        "postedDate",
        Text("Bilagsdato", "Posting date"),
        "date",
        role="voucher",
        required=True,
        help=Text("Datoen bilaget føres på i hovedboken.", "The date the voucher is posted on."),
    ),
    TargetField(
        "account",
        Text("Konto", "Account"),
        "code",
        required=True,
        max_length=20,
        reference="account",
        help=Text(
            "Kostnadskontoen hver utgiftslinje debiteres (NS 4102, f.eks. 7140 reisekostnad).",
            "The expense account each expense line debits (NS 4102, e.g. 7140 travel).",
        ),
    ),
    TargetField(
        "text",
        Text("Tekst", "Text"),
        "text",
        max_length=TEXT_LENGTH,
        help=Text("Linjeteksten i hovedboken.", "The line text in the general ledger."),
    ),
    TargetField(
        "glObject1",
        Text("Avdeling", "Department"),
        "code",
        max_length=20,
        reference="dimension",
        help=Text(
            "Fri dimensjon 1 i Xledger, som de fleste bruker til avdeling eller lokallag.",
            "Xledger's free dimension 1, which most organisations use for department or "
            "local branch.",
        ),
    ),
    TargetField(
        "project",
        Text("Prosjekt", "Project"),
        "code",
        max_length=20,
        reference="project",
    ),
    TargetField(
        "taxRule",
        Text("Avgiftskode", "Tax code"),
        "code",
        max_length=10,
        reference="tax_code",
        help=Text(
            "Avgiftskoden (mva) i Xledger; kodene er egne for hver kunde.",
            "The VAT tax rule code in Xledger; codes differ between customers.",
        ),
    ),
    TargetField(
        "balancingAccount",
        Text("Motkonto (skyldig utlegg)", "Balancing account (payable)"),
        "code",
        role="balance",
        required=True,
        max_length=20,
        reference="account",
        help=Text(
            "Kontoen kreditlinjen føres på: der godkjente utlegg venter på utbetaling.",
            "The account of the credit line: where approved claims wait to be paid out.",
        ),
    ),
    TargetField(
        "subledger",
        Text("Reskontro (ansatt/leverandør)", "Subledger (employee/supplier)"),
        "code",
        role="balance",
        max_length=20,
        help=Text(
            "Den frivilliges ansatt- eller leverandørnummer, hvis utbetalingen skal gå via "
            "reskontro.",
            "The volunteer's employee or supplier number, if the payout goes through a subledger.",
        ),
    ),
    TargetField(
        "invoiceNumber",
        Text("Fakturanummer", "Invoice number"),
        "text",
        role="voucher",
        max_length=50,
    ),
    TargetField(
        "yourReference",
        Text("Deres referanse", "Your reference"),
        "text",
        role="voucher",
        max_length=100,
    ),
)

TYPE = IntegrationType(
    key="xledger",
    name=Text("Xledger", "Xledger"),
    summary=Text(
        "For organisasjoner som fører regnskapet i Xledger. Bilagene sendes som "
        "hovedbokimport (GL import) med én API-nøkkel.",
        "For organisations that keep their accounts in Xledger. Vouchers are sent as general "
        "ledger import items with one API token.",
    ),
    credential_fields=(
        CredentialField(
            name="api_token",
            label=Text("API-nøkkel", "API token"),
            kind="secret",
            pattern=r"^\S{8,}$",
            pattern_message=Text(
                "Lim inn bare selve nøkkelen, uten «token» foran og uten mellomrom.",
                "Paste only the token itself, without “token” in front and without spaces.",
            ),
            help=Text(
                "En domeneadministrator lager nøkkelen i Xledger under Administrasjon → "
                "Systemtilgang → GraphQL → API-nøkler. Gi den lesetilgang til kontoplan, "
                "prosjekter og dimensjoner og skrivetilgang til hovedbokimport. Nøkkelen vises "
                "bare én gang.",
                "A domain administrator creates the token in Xledger under Administration → "
                "System access → GraphQL → API tokens. Give it read access to the chart of "
                "accounts, projects and dimensions and write access to GL import. The token "
                "is shown only once.",
            ),
            help_url=API_TOKENS_URL,
            max_length=500,
        ),
        CredentialField(
            name="environment",
            label=Text("Miljø", "Environment"),
            kind="select",
            choices=(
                Choice(
                    "production",
                    Text("Produksjon (www.xledger.net)", "Production (www.xledger.net)"),
                ),
                Choice("demo", Text("Demo (demo.xledger.net)", "Demo (demo.xledger.net)")),
            ),
            default="production",
            pattern_message=Text("Velg produksjon eller demo.", "Choose production or demo."),
            help=Text(
                "Nøkler laget i demo virker bare i demo og slettes når demo kopieres fra "
                "produksjon (omtrent hver 14. dag).",
                "Tokens created in demo only work in demo and are deleted when demo is "
                "refreshed from production (about every two weeks).",
            ),
            help_url=API_TOKENS_URL,
        ),
        CredentialField(
            name="entity_code",
            label=Text("Firmakode (valgfri)", "Entity code (optional)"),
            kind="text",
            required=False,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$",
            pattern_message=Text(
                "Firmakoden består av bokstaver og tall, som i Xledger (f.eks. NBF).",
                "The entity code is letters and digits, as shown in Xledger (e.g. NBF).",
            ),
            help=Text(
                "Fyll inn bare hvis bilagene skal til et annet firma enn det nøkkelen ble "
                "laget i, for eksempel en underenhet.",
                "Fill in only when vouchers go to another entity than the one the token was "
                "created in, for example a sub-entity.",
            ),
            help_url=API_TOKENS_URL,
            max_length=30,
        ),
    ),
    target_fields=TARGET_FIELDS,
    default_mapping=standard_mapping(
        date="postedDate",
        account="account",
        text="text",
        text_length=TEXT_LENGTH,
        department="glObject1",
        project="project",
        tax_code="taxRule",
        balancing_account="balancingAccount",
        subledger="subledger",
    ),
    checks=standard_checks(
        Text("Tilgang til firma og kontoplan", "Authorised for the entity"),
        Text("Klar til eksport (hovedbokimport)", "Ready to export (GL import)"),
    ),
    allowed_hosts=tuple(HOSTS.values()),
    batch_limit=500,
    docs_url=API_TOKENS_URL,
)


# Stay under the burst limit of about 20 requests per 5 s per token (ACCOUNTING_APIS §1.5),
# with room for network jitter between our clock and Xledger's.
BURST_LIMIT = 19
BURST_WINDOW = 5.5
# The documented maximum of `first` (§1.5): fewer calls, which Xledger bills.
PAGE_SIZE = 10000
# References per `extIdentifier_in` filter when reading back.
# A batch holds at most 500 lines, so one readback covers every reference it sent.
READBACK_CHUNK = 500
# Line target fields sent as lookups `{code: …}`, and those sent as plain values.
LOOKUPS = ("account", "glObject1", "project", "taxRule", "subledger")
PLAIN = ("text", "invoiceNumber", "yourReference")
# How long Xledger's own samples wait after each rate-limit code.
BURST_WAIT = 5.0
CONCURRENCY_WAIT = 2.0
CREDITS_WAIT = 20 * 60.0

ENTITIES = """
query ($first: Int, $after: String, $filter: Entity_Filter) {
  entities(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
ACCOUNTS = """
query ($first: Int, $after: String) {
  accounts(first: $first, after: $after) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
PROJECTS = """
query ($first: Int, $after: String) {
  projects(first: $first, after: $after) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
OBJECT_KINDS = """
query ($first: Int, $after: String) {
  objectKinds(first: $first, after: $after) {
    edges { cursor node { dbId name } }
    pageInfo { hasNextPage }
  }
}"""
OBJECT_VALUES = """
query ($first: Int, $after: String, $filter: ObjectValue_Filter) {
  objectValues(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId code description } }
    pageInfo { hasNextPage }
  }
}"""
GL_IMPORT_ITEMS = """
query ($first: Int, $after: String, $filter: GLImportItem_Filter) {
  glImportItems(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId extIdentifier trRegNumber createdAt } }
    pageInfo { hasNextPage }
  }
}"""
GL_IMPORT_ITEM_ERRORS = """
query ($first: Int, $after: String, $filter: GLImportItemError_Filter) {
  glImportItemErrors(first: $first, after: $after, filter: $filter) {
    edges { cursor node { dbId glImportItemDbId extIdentifier trRegNumber message } }
    pageInfo { hasNextPage }
  }
}"""
ADD_GL_IMPORT_ITEMS = """
mutation ($inputs: [AddGLImportItemsInput!]!) {
  addGLImportItems(inputs: $inputs) {
    edges { clientId node { dbId } }
  }
}"""
# Reference kind → (objectKinds name) for kinds kept as object values.
OBJECT_KIND_NAMES = {"tax_code": "TAX_RULE", "dimension": "GL_OBJECT_1"}


class XledgerAdapter(Adapter):
    """Xledger GraphQL: `Authorization: token …`, GL import for vouchers."""

    type = TYPE
    page_size = PAGE_SIZE

    def __init__(
        self,
        credentials: Mapping[str, str],
        settings: AdapterSettings,
        *,
        options: HttpOptions | None = None,
    ) -> None:
        super().__init__(credentials, settings)
        self._token = self.credentials.get("api_token", "").strip()
        self.environment = self.credentials.get("environment") or "production"
        self.entity_code = (self.credentials.get("entity_code") or "").strip() or None
        self.http = HttpClient(TYPE, settings, secrets=[self._token], options=options)
        self.limiter = shared_limiter(
            fingerprint("xledger", self._token), BURST_LIMIT, BURST_WINDOW
        )

    @property
    def url(self) -> str:
        host = HOSTS.get(self.environment)
        if host is None:
            raise ConfigError(UNKNOWN_ENVIRONMENT, provider_code="environment", field="environment")
        return f"https://{host}/graphql"

    # -- test connection -------------------------------------------------------------------

    def test_connection(self) -> list[CheckResult]:
        found: dict[str, Any] = {}

        def address() -> Text:
            self.http.check_url(self.url)
            return Text(f"Adresse: {self.url}", f"Address: {self.url}")

        def reachable() -> None:
            self.http.probe(self.url)

        def authenticated() -> None:
            entity_filter = {"code": self.entity_code} if self.entity_code else None
            found["entities"] = self._first_page(ENTITIES, "entities", 1, entity_filter)

        def authorised() -> Text | None:
            entities = found["entities"]
            if self.entity_code and not any(n.get("code") == self.entity_code for n in entities):
                raise ConfigError(
                    ENTITY_NOT_FOUND.format(code=self.entity_code),
                    provider_code="entity_not_found",
                    field="entity_code",
                )
            found["accounts"] = self._first_page(ACCOUNTS, "accounts", 1)
            name = entities[0].get("description") or entities[0].get("code") if entities else ""
            return Text(f"Firma: {name}", f"Entity: {name}") if name else None

        def ready() -> Text:
            if not found["accounts"]:
                raise ConfigError(EMPTY_CHART, provider_code="empty_chart")
            self._first_page(GL_IMPORT_ITEM_ERRORS, "glImportItemErrors", 1)
            return READY

        return run_checks(
            TYPE.checks,
            {
                "address": address,
                "reachable": reachable,
                "authenticated": authenticated,
                "authorised": authorised,
                "ready": ready,
            },
        )

    def check_access(self) -> None:
        self._first_page(ENTITIES, "entities", 1)

    # -- reference data --------------------------------------------------------------------

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        if kind == "account":
            nodes = self._all(ACCOUNTS, "accounts")
        elif kind == "project":
            nodes = self._all(PROJECTS, "projects")
        elif kind in OBJECT_KIND_NAMES:
            kinds = self._all(OBJECT_KINDS, "objectKinds")
            wanted = OBJECT_KIND_NAMES[kind]
            kind_ids = [k["dbId"] for k in kinds if k.get("name") == wanted]
            if not kind_ids:
                return []
            nodes = self._all(OBJECT_VALUES, "objectValues", {"objectKindDbId": kind_ids[0]})
        else:
            raise ValueError(f"unknown reference kind {kind!r}")
        return [
            ReferenceItem(kind, str(n["code"]), str(n.get("description") or ""))
            for n in nodes
            if n.get("code") not in (None, "")
        ]

    # -- export ----------------------------------------------------------------------------

    def export(self, vouchers: list[Voucher]) -> list[ExportResult]:
        results: dict[str, ExportResult] = {}
        sendable = []
        for voucher in vouchers:
            problem = unbalanced(voucher, TYPE.batch_limit)
            if problem is not None:
                results[voucher.reference] = failed(voucher, problem, "not_sent")
            else:
                sendable.append(voucher)
        for batch in batches(sendable, TYPE.batch_limit):
            for result in self._send_isolating(batch):
                results[result.reference] = result
        return [results[v.reference] for v in vouchers]

    def _send_isolating(self, batch: list[Voucher]) -> list[ExportResult]:
        # Xledger refuses a whole call for one bad value; send the vouchers one by one then, so
        # that the good ones go through and the bad one is named.
        try:
            return self._send(batch)
        except _CallRefused as refused:
            if len(batch) == 1:
                return [failed(batch[0], refused.error)]
        return [result for voucher in batch for result in self._send_isolating([voucher])]

    def _send(self, batch: list[Voucher]) -> list[ExportResult]:
        inputs = []
        for voucher in batch:
            for index, node in enumerate(self._nodes(voucher)):
                inputs.append({"clientId": f"{voucher.reference}#{index}", "node": node})
        try:
            data = self._graphql(ADD_GL_IMPORT_ITEMS, {"inputs": inputs}, idempotent=False)
        except DataError as error:
            # Only a refusal of the mutation itself means nothing was stored; a failure of the
            # readback below must never make us send the same lines again.
            raise _CallRefused(error) from error
        edges = data["addGLImportItems"]["edges"]
        ids = {edge["clientId"]: str(edge["node"]["dbId"]) for edge in edges}
        errors = self._errors_for([v.reference for v in batch])
        results = []
        for voucher in batch:
            mine = {ids.get(f"{voucher.reference}#{i}") for i in range(len(voucher.lines))}
            messages = _voucher_errors(errors, voucher, mine)
            if messages:
                results.append(failed(voucher, self._data_error(messages), "GL_IMPORT_ERROR"))
            else:
                first = ids.get(f"{voucher.reference}#0")
                results.append(ExportResult(voucher.reference, external_id=first))
        return results

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        return [
            {
                "request": "POST /graphql addGLImportItems",
                "body": {"inputs": [{"node": node} for v in batch for node in self._nodes(v)]},
            }
            for batch in batches(vouchers, TYPE.batch_limit)
        ]

    def _nodes(self, voucher: Voucher) -> list[dict[str, Any]]:
        nodes = []
        for line in spread_voucher_fields(voucher, TYPE):
            node: dict[str, Any] = {
                "trRegNumber": voucher.number,
                "transactionSource": {"code": "GL"},
                "extIdentifier": voucher.reference,
                "amount": money(line["amount"]),
            }
            if self.entity_code:
                node["owner"] = {"code": self.entity_code}
            for name, value in line.items():
                if name == "postedDate":
                    node[name] = date_text(value)
                elif name == "balancingAccount":
                    # The balancing line is an ordinary line on the payable account.
                    node["account"] = {"code": str(value)}
                elif name in LOOKUPS:
                    node[name] = {"code": str(value)}
                elif name in PLAIN:
                    node[name] = text_value(value, TYPE.target_field(name).max_length)
            nodes.append(node)
        return nodes

    def _data_error(self, messages: list[str]) -> DataError:
        detail = redact("; ".join(messages), [self._token])[:500]
        return DataError(IMPORT_REFUSED.format(detail=detail), provider_code="GL_IMPORT_ERROR")

    def _errors_for(self, references: list[str]) -> list[dict[str, Any]]:
        errors = []
        for chunk in chunks(list(dict.fromkeys(references)), READBACK_CHUNK):
            errors += self._all(
                GL_IMPORT_ITEM_ERRORS, "glImportItemErrors", {"extIdentifier_in": chunk}
            )
        return errors

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """References whose voucher Xledger imported without errors → its first line's dbId."""
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(references)), READBACK_CHUNK):
            items = self._all(GL_IMPORT_ITEMS, "glImportItems", {"extIdentifier_in": chunk})
            errors = self._all(
                GL_IMPORT_ITEM_ERRORS, "glImportItemErrors", {"extIdentifier_in": chunk}
            )
            found.update(_imported(items, errors))
        return found

    # -- GraphQL ---------------------------------------------------------------------------

    def _graphql(
        self, query: str, variables: dict[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        if not self._token:
            raise AuthError(MISSING_TOKEN, provider_code="no_token", field="api_token")
        response = self.http.request(
            "POST",
            self.url,
            classify=self._classify,
            idempotent=idempotent,
            limiter=self.limiter,
            json={"query": query, "variables": variables},
            headers={
                "Authorization": f"token {self._token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        return response.json()["data"]

    def _classify(self, response: requests.Response) -> AdapterError | None:
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        # 429 and 5xx first: their Retry-After matters more than whatever the body says.
        transient = transient_for_status(response, TYPE.name.en)
        if transient is not None:
            return transient
        if errors:
            return xledger_error(errors[0], response.status_code, [self._token])
        if response.status_code >= 300 or not isinstance(body, dict) or "data" not in body:
            return status_error(response)
        return None

    def _first_page(
        self, query: str, root: str, first: int, filter_: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        variables: dict[str, Any] = {"first": first}
        if filter_:
            variables["filter"] = filter_
        return [edge["node"] for edge in self._graphql(query, variables)[root]["edges"]]

    def _all(
        self, query: str, root: str, filter_: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return list(self._pages(query, root, filter_))

    def _pages(
        self, query: str, root: str, filter_: dict[str, Any] | None
    ) -> Iterator[dict[str, Any]]:
        """Every node of a connection: cursor paging to the end (the last edge's cursor)."""
        after = None
        while True:
            variables: dict[str, Any] = {"first": self.page_size}
            if filter_:
                variables["filter"] = filter_
            if after is not None:
                variables["after"] = after
            connection = self._graphql(query, variables)[root]
            edges = connection.get("edges") or []
            for edge in edges:
                yield edge["node"]
            if not edges or not (connection.get("pageInfo") or {}).get("hasNextPage"):
                return
            after = edges[-1]["cursor"]


class _CallRefused(Exception):
    """addGLImportItems refused the whole call for its data: nothing of it was stored."""

    def __init__(self, error: DataError) -> None:
        super().__init__(error.provider_code)
        self.error = error


def _voucher_errors(
    errors: list[dict[str, Any]], voucher: Voucher, item_ids: set[str | None]
) -> list[str]:
    """Messages of the error rows that belong to this call's lines of `voucher`."""
    messages = []
    for error in errors:
        if error.get("extIdentifier") != voucher.reference:
            continue
        item = error.get("glImportItemDbId")
        # Rows that name their import item can be told apart from an earlier attempt's rows;
        # rows that do not are taken to be this attempt's. UNCONFIRMED which the real API does.
        if item is not None and str(item) not in item_ids:
            continue
        messages.append(str(error.get("message") or ""))
    return messages


def _imported(items: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, str]:
    """Reference → first dbId of an import attempt none of whose lines has an error row."""
    errored_items = {str(e["glImportItemDbId"]) for e in errors if e.get("glImportItemDbId")}
    # Error rows that do not name their item condemn every attempt of their reference.
    errored_refs = {e.get("extIdentifier") for e in errors if not e.get("glImportItemDbId")}
    attempts: dict[tuple, list[str]] = {}
    for item in items:
        ref = item.get("extIdentifier")
        key = (ref, str(item.get("trRegNumber")), item.get("createdAt"))
        attempts.setdefault(key, []).append(str(item["dbId"]))
    found: dict[str, str] = {}
    for (ref, _number, _created), ids in sorted(
        attempts.items(), key=lambda kv: min(int(i) for i in kv[1])
    ):
        if ref in found or ref in errored_refs or errored_items.intersection(ids):
            continue
        found[ref] = min(ids, key=int)
    return found


# -- errors -------------------------------------------------------------------------------------


def xledger_error(error: dict[str, Any], status: int, secrets: list[str]) -> AdapterError:
    """The typed error for one entry of Xledger's `errors` array (ACCOUNTING_APIS §1.4)."""
    raw_extensions = error.get("extensions")
    extensions: dict[str, Any] = raw_extensions if isinstance(raw_extensions, dict) else {}
    code = str(error.get("code") or extensions.get("code") or "")
    message = str(error.get("message") or "")
    if code == "BAD_REQUEST.BURST_RATE_LIMIT_REACHED":
        return TransientError(RATE_LIMITED, provider_code=code, retry_after=BURST_WAIT)
    if code == "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED":
        return TransientError(RATE_LIMITED, provider_code=code, retry_after=CONCURRENCY_WAIT)
    if code == "BAD_REQUEST.INSUFFICIENT_CREDITS":
        return _credits_error(code, extensions.get("resetAt"))
    if message.startswith("Bad format for API Token"):
        return AuthError(BAD_FORMAT, provider_code="BAD_TOKEN_FORMAT", field="api_token")
    if code == "UNAUTHENTICATED" or status == 401 or _token_refused(message):
        return AuthError(TOKEN_REFUSED, provider_code=code or "UNAUTHENTICATED", field="api_token")
    if code == "FORBIDDEN" or status == 403 or message.startswith("Access denied"):
        match = re.search(r"access to (.+?)\.?$", message)
        area = redact(match.group(1), secrets)[:80] if match else "?"
        return PermissionError(
            NO_ACCESS.format(area=area), provider_code=code or "FORBIDDEN", field="api_token"
        )
    if message.startswith("Too many requests"):
        return TransientError(RATE_LIMITED, provider_code=code or "429", retry_after=BURST_WAIT)
    if message.startswith("Your query timed out"):
        return TransientError(QUERY_TIMEOUT, provider_code="QUERY_TIMEOUT")
    if message.startswith("Cannot query field"):
        return ConfigError(NOT_UNDERSTOOD, provider_code="GRAPHQL_VALIDATION")
    detail = redact(message, secrets)[:300]
    return DataError(REFUSED.format(detail=detail), provider_code=code or "BAD_REQUEST")


def status_error(response: requests.Response) -> AdapterError:
    """An answer without a GraphQL `errors` array that is still not a success."""
    status = response.status_code
    if status == 401:
        return AuthError(TOKEN_REFUSED, provider_code="401", field="api_token")
    if status == 403:
        return PermissionError(NO_ACCESS.format(area="?"), provider_code="403", field="api_token")
    if status == 429:
        return TransientError(RATE_LIMITED, provider_code="429", retry_after=BURST_WAIT)
    if status >= 500 or status < 300:
        return TransientError(UNEXPECTED_ANSWER.format(status=status), provider_code=str(status))
    return ConfigError(UNEXPECTED_ANSWER.format(status=status), provider_code=str(status))


def _token_refused(message: str) -> bool:
    lowered = message.lower()
    return "token" in lowered and any(w in lowered for w in ("invalid", "expired", "revoked"))


def _credits_error(code: str, reset_at: object) -> TransientError:
    when = None
    if isinstance(reset_at, str):
        try:
            when = datetime.fromisoformat(reset_at.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        return TransientError(
            CREDITS.format(when="?", when_en="?"), provider_code=code, retry_after=CREDITS_WAIT
        )
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = max(0.0, (when - datetime.now(UTC)).total_seconds())
    label = when.strftime("%Y-%m-%d %H:%M UTC")
    return TransientError(
        CREDITS.format(when=label, when_en=label), provider_code=code, retry_after=wait
    )


UNKNOWN_ENVIRONMENT = Text(
    "Ukjent Xledger-miljø. Velg produksjon eller demo.",
    "Unknown Xledger environment. Choose production or demo.",
)
MISSING_TOKEN = Text(
    "API-nøkkelen mangler. Lag en under Administrasjon → Systemtilgang → GraphQL → API-nøkler "
    "og lim den inn her.",
    "The API token is missing. Create one under Administration → System access → GraphQL → "
    "API tokens and paste it here.",
)
BAD_FORMAT = Text(
    "Xledger avviste API-nøkkelen fordi den har feil format. Lim inn hele nøkkelen slik "
    "Xledger viste den, uten «token» foran og uten mellomrom.",
    "Xledger rejected the API token because of its format. Paste the whole token as Xledger "
    "showed it, without “token” in front and without spaces.",
)
TOKEN_REFUSED = Text(
    "Xledger avviste API-nøkkelen: den er utløpt eller trukket tilbake. Lag en ny under "
    "Administrasjon → Systemtilgang → GraphQL → API-nøkler og lim den inn her.",
    "Xledger rejected the API token: it has expired or been revoked. Create a new one under "
    "Administration → System access → GraphQL → API tokens and paste it here.",
)
NO_ACCESS = Text(
    "API-nøkkelen mangler tilgang i Xledger ({area}). Lag en nøkkel med lesetilgang til "
    "kontoplan, prosjekter og dimensjoner og skrivetilgang til hovedbokimport, og lim den inn "
    "her.",
    "The API token lacks access in Xledger ({area}). Create a token with read access to the "
    "chart of accounts, projects and dimensions and write access to GL import, and paste it "
    "here.",
)
ENTITY_NOT_FOUND = Text(
    "API-nøkkelen når ikke firmaet {code}. En nøkkel når firmaet den ble laget i og dets "
    "underenheter: sjekk firmakoden, eller lag nøkkelen i riktig firma.",
    "The API token cannot reach entity {code}. A token reaches the entity it was created in "
    "and its sub-entities: check the entity code, or create the token in the right entity.",
)
EMPTY_CHART = Text(
    "Kontoplanen i Xledger er tom for denne nøkkelen, så bilag kan ikke føres. Sjekk at "
    "nøkkelen hører til riktig firma.",
    "The chart of accounts in Xledger is empty for this token, so vouchers cannot be posted. "
    "Check that the token belongs to the right entity.",
)
READY = Text(
    "Kontoplanen og hovedbokimporten kan leses.",
    "The chart of accounts and GL import are readable.",
)
RATE_LIMITED = Text(
    "Xledger ber Ledgerlink vente litt (for mange forespørsler). Ledgerlink prøver igjen om "
    "noen sekunder.",
    "Xledger asks Ledgerlink to slow down (too many requests). Ledgerlink will try again in a "
    "few seconds.",
)
CREDITS = Text(
    "Xledger har stoppet API-et for denne nøkkelen fordi kvoten er brukt opp, til {when}. "
    "Ledgerlink prøver igjen etter det; kontakt Xledger hvis det haster.",
    "Xledger has paused the API for this token because its allowance is used up, until "
    "{when_en}. Ledgerlink will try again after that; contact Xledger if it is urgent.",
)
QUERY_TIMEOUT = Text(
    "Xledger brukte for lang tid på spørringen. Ledgerlink prøver igjen senere.",
    "Xledger took too long to answer the query. Ledgerlink will try again later.",
)
NOT_UNDERSTOOD = Text(
    "Xledger forstod ikke forespørselen fra Ledgerlink; Xledger kan ha endret API-et sitt. "
    "Kontakt Ledgerlink.",
    "Xledger did not understand Ledgerlink's request; Xledger may have changed its API. "
    "Contact Ledgerlink.",
)
REFUSED = Text(
    "Xledger avviste dataene: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Xledger refused the data: {detail}. Correct the field mapping or the claim and send again.",
)
IMPORT_REFUSED = Text(
    "Xledger avviste bilaget: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Xledger refused the voucher: {detail}. Correct the field mapping or the claim and send again.",
)
UNEXPECTED_ANSWER = Text(
    "Xledger svarte uventet (HTTP {status}). Ledgerlink prøver igjen senere.",
    "Xledger gave an unexpected answer (HTTP {status}). Ledgerlink will try again later.",
)


register(XledgerAdapter)
