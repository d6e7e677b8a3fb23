"""The Tripletex adapter (REST API v2): a session token from the consumer and employee tokens,
HTTP Basic with it, one voucher per claim with its reference in `externalVoucherNumber`, and
a lookup by that reference before anything whose outcome is unknown is sent again."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import requests

from adapters import register
from adapters.base import Adapter, AdapterSettings
from adapters.checks import run_checks
from adapters.errors import AdapterError, AuthError, ConfigError, DataError, PermissionError
from adapters.http import HttpClient, HttpOptions
from adapters.microsoft import json_object
from adapters.tripletex.errors import SESSION_REFUSED, tripletex_error
from adapters.tripletex.spec import (
    DESCRIPTION_LENGTH,
    EXTERNAL_NUMBER_LENGTH,
    HOSTS,
    TYPE,
    VOUCHER_TYPE,
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
    amount,
    date_text,
    failed,
    spread_voucher_fields,
    text_value,
    unbalanced,
)

PAGE = 1000
# A session lasts until midnight of its expiration date (time zone UNCONFIRMED): ask for two
# days and renew a day early.
SESSION_DAYS = 2
# How far back an uncertain claim is searched by date when the reference lookup finds nothing.
SEARCH_DAYS = 400

UNKNOWN_ENVIRONMENT = Text(
    "Ukjent Tripletex-miljø. Velg produksjon eller test.",
    "Unknown Tripletex environment. Choose production or test.",
)
NO_VOUCHER_TYPE = Text(
    "Bilagstypen «Reiseregning» finnes ikke i firmaet. Opprett den i Tripletex, eller be "
    "Tripletex gjenopprette standardtypene.",
    "The voucher type “Reiseregning” does not exist in the company. Create it in Tripletex, "
    "or ask Tripletex to restore the standard types.",
)
UNKNOWN_CODE = Text(
    "{label_nb} «{code}» finnes ikke i Tripletex. Rett opp feltkoblingen eller opprett den i "
    "Tripletex.",
    "{label_en} “{code}” does not exist in Tripletex. Correct the field mapping or create it "
    "in Tripletex.",
)


class TripletexAdapter(Adapter):
    """Tripletex REST API v2."""

    type = TYPE

    def __init__(
        self,
        credentials: Mapping[str, str],
        settings: AdapterSettings,
        *,
        options: HttpOptions | None = None,
    ) -> None:
        super().__init__(credentials, settings)
        self.consumer = self.credentials.get("consumer_token", "").strip()
        self.employee = self.credentials.get("employee_token", "").strip()
        self.environment = self.credentials.get("environment") or "production"
        self.company = (self.credentials.get("company_id") or "").strip() or "0"
        self.http = HttpClient(
            TYPE, settings, secrets=[self.consumer, self.employee], options=options
        )
        self._session: tuple[str, dt.date] | None = None
        self._ids: dict[str, dict[str, int]] = {}

    @property
    def base(self) -> str:
        host = HOSTS.get(self.environment)
        if host is None:
            raise ConfigError(UNKNOWN_ENVIRONMENT, provider_code="environment", field="environment")
        return f"https://{host}/v2"

    # -- sessions ----------------------------------------------------------------------------

    def session(self) -> str:
        """The session token, created (or renewed a day before it ends) from the two tokens."""
        today = dt.date.today()
        if self._session is not None and self._session[1] - today > dt.timedelta(days=1):
            return self._session[0]
        expires = today + dt.timedelta(days=SESSION_DAYS)
        # The tokens travel in the query string, as Tripletex documents (never logged: the
        # HTTP layer logs host and path only).
        query = {
            "consumerToken": self.consumer,
            "employeeToken": self.employee,
            "expirationDate": expires.isoformat(),
        }
        try:
            response = self.http.request(
                "PUT",
                f"{self.base}/token/session/:create?{urlencode(query)}",
                classify=self._classify,
                idempotent=True,
            )
        except PermissionError as refused:
            # Refusing to make a session is refusing the tokens: new ones are needed.
            raise AuthError(
                SESSION_REFUSED,
                provider_code=refused.provider_code,
                field="employee_token",
                details=refused.details,
            ) from refused
        token = str((json_object(response).get("value") or {}).get("token") or "")
        self._session = (token, expires)
        self.http.secrets = (*self.http.secrets, token)
        return token

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """One call with HTTP Basic (company, session token); a refused session is made
        again once, and a second refusal is the answer (an AuthError)."""
        for renewed in (False, True):
            token = self.session()
            basic = base64.b64encode(f"{self.company}:{token}".encode()).decode()
            try:
                query = f"?{urlencode(params)}" if params else ""
                response = self.http.request(
                    method,
                    f"{self.base}/{quote(path, safe='/:')}{query}",
                    classify=self._classify,
                    idempotent=idempotent,
                    json=body,
                    headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                )
                return json_object(response)
            except AuthError:
                if renewed:
                    raise
                self._session = None
        raise AssertionError("unreachable")

    def _classify(self, response: requests.Response) -> AdapterError | None:
        return tripletex_error(response, [s for s in self.http.secrets if s])

    def _all(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict]:
        """Every value of a list, page by page until a short page (fullResultSize is inexact)."""
        start = 0
        while True:
            body = self._request(
                "GET", path, params={**(params or {}), "from": str(start), "count": str(PAGE)}
            )
            values = [v for v in body.get("values") or [] if isinstance(v, dict)]
            yield from values
            if len(values) < PAGE:
                return
            start += PAGE

    # -- test connection ---------------------------------------------------------------------

    def test_connection(self) -> list[CheckResult]:
        found: dict[str, Any] = {}

        def address() -> Text:
            self.http.check_url(self.base)
            return Text(f"Adresse: {self.base}", f"Address: {self.base}")

        def reachable() -> None:
            self.http.probe(self.base)

        def authenticated() -> None:
            self.session()

        def authorised() -> Text:
            who = (
                self._request(
                    "GET", "token/session/>whoAmI", params={"fields": "*,company(*),employee(*)"}
                ).get("value")
                or {}
            )
            name = str((who.get("company") or {}).get("name") or who.get("companyId") or "")
            found["accounts"] = list(self._all("ledger/account", {"fields": "id,number"}))
            list(self._all("ledger/vatType", {"fields": "id,number"}))
            return Text(f"Firma: {name}", f"Company: {name}")

        def ready() -> Text:
            if self._voucher_type() is None:
                raise ConfigError(NO_VOUCHER_TYPE, provider_code="voucher_type")
            return Text(
                f"Bilagene føres som «{VOUCHER_TYPE}».",
                f"Vouchers are posted as “{VOUCHER_TYPE}”.",
            )

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
        self._request("GET", "token/session/>whoAmI", params={"fields": "companyId"})

    # -- reference data ----------------------------------------------------------------------

    LISTS: dict[str, tuple[str, str, str]] = {
        # kind → (path, code field, fields to ask for)
        "account": ("ledger/account", "number", "id,number,name,isInactive"),
        "tax_code": ("ledger/vatType", "number", "id,number,name"),
        "dimension": ("department", "departmentNumber", "id,departmentNumber,name"),
        "project": ("project", "number", "id,number,name"),
    }

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        path, code_field, fields = self.LISTS[kind]
        items = []
        for row in self._all(path, {"fields": fields}):
            code = str(row.get(code_field) or "")
            if not code:
                continue
            name = str(row.get("name") or "")
            if row.get("isInactive"):
                name = f"{name} (inaktiv / inactive)"
            items.append(ReferenceItem(kind, code, name))
        return items

    def _id_map(self, kind: str) -> dict[str, int]:
        """Code → Tripletex's internal id (objects are referenced by id only)."""
        if kind not in self._ids:
            path, code_field, fields = self.LISTS[kind]
            self._ids[kind] = {
                str(r.get(code_field)): int(r["id"])
                for r in self._all(path, {"fields": fields})
                if r.get(code_field) not in (None, "") and r.get("id") is not None
            }
        return self._ids[kind]

    def _voucher_type(self) -> int | None:
        rows = list(self._all("ledger/voucherType", {"name": VOUCHER_TYPE, "fields": "id,name"}))
        mine = [r for r in rows if r.get("name") == VOUCHER_TYPE]  # verify what was asked for
        return int(mine[0]["id"]) if mine else None

    # -- export ------------------------------------------------------------------------------

    def export(self, vouchers: list[Voucher]) -> list[ExportResult]:
        results = []
        voucher_type = None
        for voucher in vouchers:
            problem = unbalanced(voucher, TYPE.batch_limit)
            if problem is not None:
                results.append(failed(voucher, problem, "not_sent"))
                continue
            try:
                body = self._voucher_body(voucher)
            except DataError as error:
                results.append(failed(voucher, error, "unknown_code"))
                continue
            if voucher_type is None:
                voucher_type = self._voucher_type() or 0
            if voucher_type:
                body["voucherType"] = {"id": voucher_type}
            self.carrying()
            try:
                created = self._request(
                    "POST",
                    "ledger/voucher",
                    params={"sendToLedger": "true"},
                    body=body,
                    idempotent=False,
                )
            except DataError as error:
                results.append(failed(voucher, error))
                continue
            value = created.get("value") or {}
            results.append(ExportResult(voucher.reference, external_id=str(value.get("id") or "")))
        return results

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        return [
            {
                "request": "POST /ledger/voucher?sendToLedger=true",
                "body": self._voucher_body(v, ids=False),
            }
            for v in vouchers
        ]

    def _voucher_body(self, voucher: Voucher, ids: bool = True) -> dict[str, Any]:
        lines = spread_voucher_fields(voucher, TYPE)
        date = date_text(lines[0].get("date")) if lines and lines[0].get("date") else None
        postings = []
        for row, line in enumerate(lines, start=1):  # row 0 belongs to Tripletex
            gross = float(amount(line["amount"]))
            posting: dict[str, Any] = {
                "row": row,
                "date": date,
                "amountGross": gross,
                "amountGrossCurrency": gross,
            }
            account = line.get("account") or line.get("balancingAccount")
            posting["account"] = self._ref("account", account, ids)
            for name, kind in (
                ("vatType", "tax_code"),
                ("department", "dimension"),
                ("project", "project"),
            ):
                if line.get(name) not in (None, ""):
                    posting[name] = self._ref(kind, line[name], ids)
            if line.get("description"):
                posting["description"] = text_value(line["description"], DESCRIPTION_LENGTH)
            postings.append(posting)
        description = next((p.get("description") for p in postings if p.get("description")), "")
        return {
            "date": date,
            "description": description or voucher.reference,
            "externalVoucherNumber": voucher.reference[:EXTERNAL_NUMBER_LENGTH],
            "postings": postings,
        }

    def _ref(self, kind: str, code: object, ids: bool) -> dict[str, Any]:
        if not ids:
            return {"code": str(code)}
        found = self._id_map(kind).get(str(code))
        if found is None:
            label = TYPE.target_field(
                {
                    "account": "account",
                    "tax_code": "vatType",
                    "dimension": "department",
                    "project": "project",
                }[kind]
            ).label
            raise DataError(
                UNKNOWN_CODE.format(label_nb=label.nb, label_en=label.en, code=code),
                provider_code="unknown_code",
            )
        return {"id": found}

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """References Tripletex already holds a voucher for → the voucher's id.

        First the reference lookup; when it finds nothing (it may only know imported
        vouchers, ACCOUNTING_APIS §9.3), the vouchers of the last SEARCH_DAYS by date,
        compared on our side."""
        found: dict[str, str] = {}
        for reference in dict.fromkeys(references):
            body = self._request(
                "GET",
                "ledger/voucher/>externalVoucherNumber",
                params={"externalVoucherNumber": reference, "fields": "id,externalVoucherNumber"},
            )
            for value in body.get("values") or []:
                if value.get("externalVoucherNumber") == reference:
                    found[reference] = str(value.get("id"))
                    break
        missing = [r for r in references if r not in found]
        if missing:
            today = dt.date.today()
            params = {
                "dateFrom": (today - dt.timedelta(days=SEARCH_DAYS)).isoformat(),
                "dateTo": (today + dt.timedelta(days=2)).isoformat(),  # exclusive
                "fields": "id,externalVoucherNumber",
            }
            wanted = set(missing)
            for value in self._all("ledger/voucher", params):
                ref = value.get("externalVoucherNumber")
                if ref in wanted and ref not in found:
                    found[ref] = str(value.get("id"))
        return found


register(TripletexAdapter)
