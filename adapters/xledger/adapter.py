"""The Xledger adapter: test connection, reference data, voucher export with idempotency
references and readback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any

import requests

from adapters import register
from adapters.base import Adapter, AdapterSettings
from adapters.checks import run_checks
from adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
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
    ExportResult,
    ReferenceItem,
    ReferenceKind,
    Text,
    Voucher,
)
from adapters.vouchers import (
    batches,
    chunks,
    date_text,
    failed,
    money,
    text_value,
    unbalanced,
    voucher_fields,
)
from adapters.xledger.errors import (
    EMPTY_CHART,
    ENTITY_NOT_FOUND,
    MISSING_TOKEN,
    READY,
    SKIPPED_LIST,
    UNKNOWN_ENVIRONMENT,
    WRONG_ENVIRONMENT,
    import_refused,
    status_error,
    xledger_error,
)
from adapters.xledger.queries import (
    ACCOUNTS,
    ADD_GL_IMPORT_ITEMS,
    BURST_LIMIT,
    BURST_WINDOW,
    ENTITIES,
    GL_IMPORT_ITEM_ERRORS,
    GL_IMPORT_ITEMS,
    LOOKUPS,
    OBJECT_KIND_NAMES,
    OBJECT_KINDS,
    OBJECT_VALUES,
    PAGE_SIZE,
    PLAIN,
    PROJECTS,
    READBACK_CHUNK,
)
from adapters.xledger.spec import HOSTS, TYPE

# How a skipped reference list is named to the coordinator.
LIST_NAMES = {
    "account": Text("Kontoer", "Accounts"),
    "tax_code": Text("Avgiftskoder", "Tax codes"),
    "project": Text("Prosjekter", "Projects"),
    "dimension": Text("Avdelinger og andre dimensjoner", "Departments and other dimensions"),
}


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
        # id(voucher) → (voucher, `_encoded(voucher)`), from `prepare` until `export` takes it.
        self._prepared: dict[int, tuple[Voucher, Text | str]] = {}

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
            try:
                found["entities"] = self._first_page(ENTITIES, "entities", 1, entity_filter)
            except AuthError as refused:
                self._other_environment_accepts(refused)
                raise

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

    def _other_environment_accepts(self, refused: AuthError) -> None:
        """A token refused here that the other environment accepts is an Environment
        problem (a demo token sent to production): ConfigError on that field."""
        other = "demo" if self.environment == "production" else "production"
        if self.environment not in HOSTS or refused.provider_code == "BAD_TOKEN_FORMAT":
            return
        probe = XledgerAdapter(
            {**self.credentials, "environment": other},
            self.settings,
            options=self.http.options,
        )
        try:
            probe._first_page(ENTITIES, "entities", 1)
        except AdapterError:
            return
        names = {"production": Text("produksjon", "Production"), "demo": Text("demo", "Demo")}
        raise ConfigError(
            WRONG_ENVIRONMENT.format(
                there_nb=names[other].nb,
                there_en=names[other].en,
                here_nb=names[self.environment].nb,
                here_en=names[self.environment].en,
            ),
            provider_code="wrong_environment",
            field="environment",
        ) from refused

    def check_access(self) -> None:
        self._first_page(ENTITIES, "entities", 1)

    # -- reference data --------------------------------------------------------------------

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        """The kind's codes; a list the token may not read (or this Xledger does not offer)
        is skipped with a note (`self.notes`, key = kind) and comes back empty."""
        try:
            return self._reference_data(kind)
        except (PermissionError, ConfigError) as error:
            if isinstance(error, ConfigError) and error.provider_code != "GRAPHQL_VALIDATION":
                raise
            what = LIST_NAMES.get(kind, LIST_NAMES["dimension"])
            self.skip(
                kind,
                SKIPPED_LIST.format(
                    what_nb=what.nb,
                    what_en=what.en,
                    what_lower_nb=what.nb.lower(),
                    what_lower_en=what.en.lower(),
                ),
                error,
            )
            return []

    def _reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
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
        encoded: dict[int, str] = {}
        sendable = []
        for voucher in vouchers:
            inputs = self._take(voucher)
            if isinstance(inputs, Text):
                results[voucher.reference] = failed(voucher, inputs, "not_sent")
            else:
                encoded[id(voucher)] = inputs
                sendable.append(voucher)
        for batch in batches(sendable, TYPE.batch_limit):
            for result in self._send_isolating(batch, encoded):
                results[result.reference] = result
        return [results[v.reference] for v in vouchers]

    def prepare(self, vouchers: list[Voucher]) -> None:
        """Check and encode the vouchers' lines now; `export` of these same voucher objects
        sends what was encoded here (a run prepares a batch while the one before is sent)."""
        for voucher in vouchers:
            self._prepared[id(voucher)] = (voucher, self._encoded(voucher))

    def _take(self, voucher: Voucher) -> Text | str:
        entry = self._prepared.pop(id(voucher), None)
        if entry is not None and entry[0] is voucher:
            return entry[1]
        return self._encoded(voucher)

    def _encoded(self, voucher: Voucher) -> Text | str:
        """Why the voucher cannot be sent as it is, or its `addGLImportItems` inputs as JSON
        (the list's items, without its brackets)."""
        problem = unbalanced(voucher, TYPE.batch_limit)
        if problem is not None:
            return problem
        inputs = [
            {"clientId": f"{voucher.reference}#{index}", "node": node}
            for index, node in enumerate(self._nodes(voucher))
        ]
        return json.dumps(inputs, allow_nan=False)[1:-1]

    def _send_isolating(self, batch: list[Voucher], encoded: dict[int, str]) -> list[ExportResult]:
        # Xledger refuses a whole call for one bad value; send the vouchers one by one then, so
        # that the good ones go through and the bad one is named.
        try:
            return self._send(batch, encoded)
        except _CallRefused as refused:
            if len(batch) == 1:
                return [failed(batch[0], refused.error)]
        return [r for voucher in batch for r in self._send_isolating([voucher], encoded)]

    def _send(self, batch: list[Voucher], encoded: dict[int, str]) -> list[ExportResult]:
        body = _INPUTS_OPEN + ", ".join(encoded[id(voucher)] for voucher in batch) + _INPUTS_CLOSE
        self.carrying()
        try:
            data = self._post(body.encode(), idempotent=False)
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
        # `spread_voucher_fields` without its copy of every line: the voucher's shared fields
        # first, then the line's own non-empty ones over them.
        shared = voucher_fields(voucher, TYPE).items()
        nodes = []
        number, reference, owner = voucher.number, voucher.reference, self.entity_code
        for line in voucher.lines:
            node: dict[str, Any] = {
                "trRegNumber": number,
                "transactionSource": {"code": "GL"},
                "extIdentifier": reference,
                "amount": money(line["amount"]),
            }
            if owner:
                node["owner"] = {"code": owner}
            for name, value in chain(shared, line.items()):
                kind = _NODE_FIELDS.get(name, _SKIP)
                if kind is _SKIP or value is None or value == "":
                    continue
                if kind is _LOOKUP:
                    node[name] = {"code": str(value)}
                elif kind is _DATE:
                    node[name] = date_text(value)
                elif kind is _BALANCING:
                    # The balancing line is an ordinary line on the payable account.
                    node["account"] = {"code": str(value)}
                else:
                    node[name] = text_value(value, kind)
            nodes.append(node)
        return nodes

    def _data_error(self, messages: list[str]) -> DataError:
        return DataError(
            import_refused(messages, [self._token]),
            provider_code="GL_IMPORT_ERROR",
            details={"provider_message": redact("; ".join(messages), [self._token])[:500]},
        )

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
        return self._post(
            json.dumps({"query": query, "variables": variables}, allow_nan=False).encode(),
            idempotent=idempotent,
        )

    def _post(self, body: bytes, *, idempotent: bool = True) -> dict[str, Any]:
        """POST one GraphQL request (`{"query", "variables"}` as JSON); its `data`."""
        if not self._token:
            raise AuthError(MISSING_TOKEN, provider_code="no_token", field="api_token")
        response = self.http.request(
            "POST",
            self.url,
            classify=self._classify,
            idempotent=idempotent,
            limiter=self.limiter,
            data=body,
            headers={
                "Authorization": f"token {self._token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        # `_classify` accepted the answer, so it is a JSON object with `data`.
        return _decoded(response)["data"]

    def _classify(self, response: requests.Response) -> AdapterError | None:
        body = _decoded(response)
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


# What each line field becomes in a node: a lookup, a date, the balancing line's account, or
# plain text with its longest accepted length (looked up once per field: the export builds a
# node per voucher line, on the thread that sends).
_SKIP, _LOOKUP, _DATE, _BALANCING = object(), object(), object(), object()
_NODE_FIELDS: dict[str, Any] = {
    **{name: TYPE.target_field(name).max_length for name in PLAIN},
    **dict.fromkeys(LOOKUPS, _LOOKUP),
    "postedDate": _DATE,
    "balancingAccount": _BALANCING,
}


def _decoded(response: requests.Response) -> Any:
    """The answer's JSON (None when it is not JSON), decoded once: `_classify` and the
    caller both read it, and an export answer names every line it stored."""
    cache = response.__dict__
    if "_xledger_body" not in cache:
        try:
            cache["_xledger_body"] = response.json()
        except ValueError:
            cache["_xledger_body"] = None
    return cache["_xledger_body"]


# An `addGLImportItems` body around its inputs, as `json.dumps` writes the whole body: the
# inputs encoded a voucher at a time are joined into the same bytes.
_INPUTS_OPEN = '{"query": ' + json.dumps(ADD_GL_IMPORT_ITEMS) + ', "variables": {"inputs": ['
_INPUTS_CLOSE = "]}}"


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


register(XledgerAdapter)
