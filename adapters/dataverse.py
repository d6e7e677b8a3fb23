"""Dynamics 365 through the Dataverse Web API: HLF's portal and its `ll_expenselines` table."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from adapters import register
from adapters.base import AdapterSettings
from adapters.checks import run_checks
from adapters.dataverse_errors import (
    BAD_ENVIRONMENT_URL,
    BAD_TABLE,
    NO_SAFE_WAY,
    READY_WITH_KEY,
    READY_WITH_READ,
    TABLE_NOT_FOUND,
    dataverse_error,
)
from adapters.defaults import standard_checks, standard_mapping
from adapters.entra import ENTRA_FIELDS, LOGIN_HOST
from adapters.errors import (
    AdapterError,
    ConfigError,
    DataError,
    PermissionError,
)
from adapters.microsoft import (
    ODATA_HEADERS,
    MicrosoftAdapter,
    odata_quote,
    odata_url,
)
from adapters.types import (
    CheckResult,
    CredentialField,
    ExportResult,
    IntegrationType,
    MappingDefault,
    ReferenceItem,
    ReferenceKind,
    TargetField,
    Text,
    Voucher,
)
from adapters.vouchers import (
    amount,
    chunks,
    date_text,
    failed,
    spread_voucher_fields,
    text_value,
    unbalanced,
)

log = logging.getLogger(__name__)

# Environment hosts: {org}.crm{N}.dynamics.com, also the {org}.api.crm{N} form (§3.1).
HOST_PATTERN = r"[a-z0-9][a-z0-9-]*\.(api\.)?crm([0-9]{1,2})?\.dynamics\.com"
ENVIRONMENT_URL_PATTERN = rf"^https://{HOST_PATTERN}/?$"
TABLE_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"
POWER_PLATFORM_URL = "https://admin.powerplatform.microsoft.com/environments"
MAKER_TABLES_URL = "https://make.powerapps.com/"
DESCRIPTION_LENGTH = 200

CREDENTIAL_FIELDS = (
    *ENTRA_FIELDS,
    CredentialField(
        name="environment_url",
        label=Text("Miljøadresse (URL)", "Environment URL"),
        kind="url",
        pattern=ENVIRONMENT_URL_PATTERN,
        pattern_message=Text(
            "Skriv inn miljøets adresse slik den står i Power Platform administrasjonssenter, "
            "f.eks. https://organisasjon.crm4.dynamics.com.",
            "Enter the environment's address as shown in the Power Platform admin center, "
            "e.g. https://organisation.crm4.dynamics.com.",
        ),
        help=Text(
            "Power Platform administrasjonssenter → Miljøer → velg miljøet → «Miljø-URL». "
            "Appregistreringen må være lagt til som applikasjonsbruker der, med en "
            "sikkerhetsrolle.",
            "Power Platform admin center → Environments → choose the environment → "
            "“Environment URL”. The app registration must be added there as an application "
            "user, with a security role.",
        ),
        help_url=POWER_PLATFORM_URL,
        max_length=200,
    ),
    CredentialField(
        name="table",
        label=Text("Tabell (entitetssett)", "Table (entity set)"),
        kind="text",
        pattern=TABLE_PATTERN,
        pattern_message=Text(
            "Skriv tabellens entitetssettnavn med små bokstaver, f.eks. ll_expenselines.",
            "Enter the table's entity set name in lower case, e.g. ll_expenselines.",
        ),
        help=Text(
            "Ledgerlink-løsningen lager tabellen ll_expenselines. Endre bare hvis "
            "organisasjonen bruker en egen tabell; navnet står under Tabeller → tabellen → "
            "Egenskaper → «Navn på entitetssett».",
            "The Ledgerlink solution creates the table ll_expenselines. Change it only when "
            "your organisation uses its own table; the name is under Tables → the table → "
            "Properties → “Entity set name”.",
        ),
        help_url=MAKER_TABLES_URL,
        default="ll_expenselines",
        max_length=64,
    ),
)

TARGET_FIELDS = (
    TargetField("ll_date", Text("Bilagsdato", "Posting date"), "date", "voucher", True),
    TargetField(
        "ll_accountnumber",
        Text("Kontonummer", "Account number"),
        "code",
        required=True,
        max_length=20,
        help=Text(
            "Kostnadskontoen hver utgiftslinje føres på (NS 4102).",
            "The expense account of each expense line (NS 4102).",
        ),
    ),
    TargetField(
        "ll_description",
        Text("Beskrivelse", "Description"),
        "text",
        max_length=DESCRIPTION_LENGTH,
    ),
    TargetField("ll_department", Text("Avdeling", "Department"), "code", max_length=20),
    TargetField("ll_project", Text("Prosjekt", "Project"), "code", max_length=20),
    TargetField("ll_vatcode", Text("Mva-kode", "VAT code"), "code", max_length=10),
    TargetField(
        "ll_vouchernumber",
        Text("Bilagsnummer", "Voucher number"),
        "text",
        role="voucher",
        max_length=20,
        help=Text(
            "Nummeret regnskapet kjenner bilaget igjen på, vanligvis utleggets nummer.",
            "The number the accounts know the voucher by, usually the claim's number.",
        ),
    ),
    TargetField(
        "ll_balancingaccount",
        Text("Motkonto (skyldig utlegg)", "Balancing account (payable)"),
        "code",
        role="balance",
        required=True,
        max_length=20,
    ),
)

TYPE = IntegrationType(
    key="dynamics_dataverse",
    name=Text("Dynamics 365 (Dataverse)", "Dynamics 365 (Dataverse)"),
    summary=Text(
        "For organisasjoner med en Dynamics 365-portal (Dataverse), som HLF. Utleggslinjene "
        "skrives til en tabell i miljøet, og regnskapet henter dem derfra.",
        "For organisations with a Dynamics 365 portal (Dataverse), such as HLF. Expense lines "
        "are written to a table in the environment, where the accounts pick them up.",
    ),
    credential_fields=CREDENTIAL_FIELDS,
    target_fields=TARGET_FIELDS,
    checks=standard_checks(
        Text("Tilgang til miljøet", "Authorised for the environment"),
        Text("Klar til eksport (tabellen finnes)", "Ready to export (table exists)"),
    ),
    allowed_hosts=(LOGIN_HOST, f"re:{HOST_PATTERN}"),
    batch_limit=100,
    default_mapping=standard_mapping(
        date="ll_date",
        account="ll_accountnumber",
        text="ll_description",
        text_length=DESCRIPTION_LENGTH,
        department="ll_department",
        project="ll_project",
        tax_code="ll_vatcode",
        balancing_account="ll_balancingaccount",
        extra=(
            MappingDefault(
                "ll_vouchernumber", "field", "claim.claim_number", transforms=(("truncate", "20"),)
            ),
        ),
    ),
    docs_url=POWER_PLATFORM_URL,
    # The HLF table holds no chart of accounts, so there is nothing to check codes against.
    extra={"reference_kinds": ()},
)


API = "/api/data/v9.2"
REFERENCE_COLUMN = "ll_reference"
# One value per record (claim reference + "#" + line number): the column an alternate key
# must cover for exactly-once writes without Read (ACCOUNTING_APIS §8).
KEY_COLUMN = "ll_linekey"
QUOTE = "'"
AMOUNT_COLUMN = "ll_amount"
BALANCE_COLUMN = "ll_balancingaccount"
# References per `$filter` when reading back: keeps the URL well under 2,000 characters.
READBACK_CHUNK = 25


class DataverseAdapter(MicrosoftAdapter):
    """Dataverse Web API with an Entra app token; one record per voucher line."""

    type = TYPE
    resource_field = "environment_url"
    headers = ODATA_HEADERS

    def __init__(self, credentials: Mapping[str, str], settings: AdapterSettings, **kw) -> None:
        self.environment_url = (credentials.get("environment_url") or "").strip().rstrip("/")
        self.table = (credentials.get("table") or "ll_expenselines").strip()
        super().__init__(credentials, settings, **kw)
        # (logical name, primary id column, keyed on KEY_COLUMN), read once from metadata.
        self._definition: tuple[str, str, bool] | None = None

    def resource(self) -> str:
        # The `.api.` host form shares the plain host's token audience (§3.1).
        host = (urlsplit(self.environment_url).hostname or "").lower()
        return "https://" + re.sub(r"\.api\.crm", ".crm", host, count=1)

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        if not re.fullmatch(ENVIRONMENT_URL_PATTERN, self.environment_url):
            raise ConfigError(BAD_ENVIRONMENT_URL, provider_code="address", field="environment_url")
        return odata_url(f"{self.environment_url.lower()}{API}", path, query)

    def _table_path(self) -> str:
        if not re.fullmatch(TABLE_PATTERN, self.table):
            raise ConfigError(BAD_TABLE, provider_code="table", field="table")
        return self.table

    def _table_definition(self) -> tuple[str, str, bool]:
        """The table's logical name, id column and whether an alternate key covers the line
        key, from metadata (EntityDefinitions), which needs no privilege on the table."""
        if self._definition is None:
            table = self._table_path()
            query = {
                "$filter": f"EntitySetName eq {odata_quote(table)}",
                "$select": "LogicalName,EntitySetName,PrimaryIdAttribute",
            }
            rows = [
                r
                for r in self._all(self._url("EntityDefinitions", query))
                if r.get("EntitySetName") == table  # verify what was asked for
            ]
            if not rows:
                raise ConfigError(
                    TABLE_NOT_FOUND.format(table=table), provider_code="table", field="table"
                )
            logical = str(rows[0]["LogicalName"])
            id_column = str(rows[0].get("PrimaryIdAttribute") or f"{logical}id")
            keys_url = self._url(
                f"EntityDefinitions(LogicalName={odata_quote(logical)})/Keys",
                {"$select": "LogicalName,KeyAttributes"},
            )
            try:
                keys = self._all(keys_url)
            except (PermissionError, ConfigError):
                keys = []
            keyed = any(list(k.get("KeyAttributes") or []) == [KEY_COLUMN] for k in keys)
            self._definition = (logical, id_column, keyed)
        return self._definition

    # -- test connection -------------------------------------------------------------------

    def test_connection(self) -> list[CheckResult]:
        def address() -> Text:
            url = self._url("WhoAmI")
            self.http.check_url(url)
            self.http.check_url(self.entra.token_url)
            self._table_path()
            return Text(f"Adresse: {self.environment_url}", f"Address: {self.environment_url}")

        def reachable() -> None:
            self.http.probe(self.entra.token_url)
            self.http.probe(self._url("WhoAmI"))

        def authenticated() -> None:
            self.entra.token()

        def authorised() -> Text:
            self._get(self._url("WhoAmI"))
            return Text(
                "Appen er applikasjonsbruker i miljøet.",
                "The app is an application user in the environment.",
            )

        def ready() -> Text:
            logical, id_column, keyed = self._table_definition()
            if keyed:
                return READY_WITH_KEY.format(table=self.table, column=KEY_COLUMN)
            try:
                self._get(self._url(self.table, {"$top": "1", "$select": id_column}), "table")
            except PermissionError as error:
                raise PermissionError(
                    NO_SAFE_WAY.format(
                        table=self.table, column=KEY_COLUMN, privilege=f"prvRead{logical}"
                    ),
                    provider_code=error.provider_code,
                    details=error.details,
                ) from error
            return READY_WITH_READ.format(table=self.table, column=KEY_COLUMN)

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

    # -- reference data --------------------------------------------------------------------

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        # The HLF table holds expense lines only: Dataverse has no chart of accounts to read.
        return []

    # -- export ----------------------------------------------------------------------------

    def check_access(self) -> None:
        self._get(self._url("WhoAmI"))

    def export(self, vouchers: list[Voucher]) -> list[ExportResult]:
        """One record per line, the balancing line last, so its record marks a whole voucher."""
        table = self._table_path()
        # The app's token and the table are known before any record leaves.
        keyed = self._table_definition()[2]
        results = []
        for voucher in vouchers:
            problem = unbalanced(voucher, TYPE.batch_limit)
            if problem is not None:
                results.append(failed(voucher, problem, "not_sent"))
                continue
            results.append(self._upsert(table, voucher) if keyed else self._send(table, voucher))
        return results

    def _upsert(self, table: str, voucher: Voucher) -> ExportResult:
        """Each line by its alternate key with `If-None-Match: *`: created, or 412 when it
        is there already (a retry after an interruption), never a second record."""
        first = None
        for index, line in enumerate(spread_voucher_fields(voucher, TYPE)):
            key = f"{voucher.reference}#{index}"
            self.carrying()
            try:
                response = self.api.request(
                    "PATCH",
                    # "#" would end the URL's path: the key literal is percent-encoded.
                    self._url(f"{table}({KEY_COLUMN}={quote(odata_quote(key), safe=QUOTE)})"),
                    classify=self._classifier("table"),
                    # Safe to repeat: the key makes a second attempt a 412, not a record.
                    idempotent=True,
                    json=self._record(voucher, line),
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "If-None-Match": "*",
                    },
                )
                record_id = _record_id(response.headers.get("OData-EntityId", "")) or key
            except DataError as error:
                if error.provider_code != "412":
                    return failed(voucher, error)
                record_id = key  # already there: written by an earlier attempt
            first = first or record_id
        return ExportResult(voucher.reference, external_id=first)

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        table = self.table
        return [
            {"request": f"POST {table}", "body": self._record(voucher, line)}
            for voucher in vouchers
            for line in spread_voucher_fields(voucher, TYPE)
        ]

    def _send(self, table: str, voucher: Voucher) -> ExportResult:
        created: list[str] = []
        try:
            for line in spread_voucher_fields(voucher, TYPE):
                self.carrying()
                response = self.api.request(
                    "POST",
                    self._url(table),
                    classify=self._classifier("table"),
                    idempotent=False,
                    json=self._record(voucher, line),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                )
                created.append(_record_id(response.headers.get("OData-EntityId", "")))
        except DataError as error:
            self._remove(table, created)
            return failed(voucher, error)
        except AdapterError:
            self._remove(table, created)
            raise
        return ExportResult(voucher.reference, external_id=created[0] if created else None)

    def _record(self, voucher: Voucher, line: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            REFERENCE_COLUMN: voucher.reference,
            # A JSON number: Dataverse decimal columns take numbers; two decimals survive a
            # float exactly at any amount an expense claim can have.
            AMOUNT_COLUMN: float(amount(line["amount"])),
        }
        for name, value in line.items():
            if name == "amount":
                continue
            try:
                target = TYPE.target_field(name)
            except KeyError:
                continue
            if target.data_type == "date":
                record[name] = date_text(value)
            else:
                record[name] = text_value(value, target.max_length)
        return record

    def _remove(self, table: str, record_ids: list[str]) -> None:
        """Best effort: take back the lines of a voucher that failed half way."""
        for record_id in record_ids:
            if not record_id:
                continue
            try:
                self.api.request(
                    "DELETE",
                    self._url(f"{table}({record_id})"),
                    classify=self._classifier("table"),
                )
            except AdapterError as error:
                log.warning(
                    "could not remove a partly exported line from %s: %s",
                    table,
                    error.provider_code,
                )

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """References with a complete voucher (its balancing line exists) → first record id.

        With an alternate key the upsert itself is the answer (a line already there is a
        412), so a role that may not read the table finds nothing here and loses nothing."""
        table = self._table_path()
        _logical, id_column, keyed = self._table_definition()
        if keyed:
            try:
                return self._read_back(table, id_column, references)
            except PermissionError:
                return {}
        return self._read_back(table, id_column, references)

    def _read_back(self, table: str, id_column: str, references: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(references)), READBACK_CHUNK):
            query = {
                "$select": f"{REFERENCE_COLUMN},{BALANCE_COLUMN},{id_column}",
                "$filter": " or ".join(f"{REFERENCE_COLUMN} eq {odata_quote(r)}" for r in chunk),
                "$orderby": "createdon asc",
            }
            records = list(
                self.api.pages(self._url(table, query), classify=self._classifier("table"))
            )
            found.update(_complete(records, id_column))
        return found

    # -- HTTP ------------------------------------------------------------------------------

    def classify(self, response: requests.Response, context: str | None) -> AdapterError | None:
        return dataverse_error(
            response, table=context == "table", table_name=self.table, secrets=self.entra.secrets()
        )


def _record_id(entity_id: str) -> str:
    match = re.search(r"\(([0-9a-fA-F-]{36})\)\s*$", entity_id)
    return match.group(1) if match else ""


def _complete(records: list[dict[str, Any]], id_column: str) -> dict[str, str]:
    first: dict[str, str] = {}
    complete: set[str] = set()
    for record in records:
        ref = record.get(REFERENCE_COLUMN)
        if not ref:
            continue
        first.setdefault(ref, str(record.get(id_column) or ""))
        if record.get(BALANCE_COLUMN):
            complete.add(ref)
    return {ref: record_id for ref, record_id in first.items() if ref in complete}


register(DataverseAdapter)
