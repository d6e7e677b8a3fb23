"""Dynamics 365 Business Central through its API v2.0: general journal lines, then post."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from adapters import register
from adapters.base import AdapterSettings
from adapters.checks import run_checks
from adapters.defaults import BC_TAX_GROUPS, standard_checks, standard_mapping
from adapters.entra import ENTRA_FIELDS, LOGIN_HOST
from adapters.errors import AdapterError, ConfigError, DataError, PermissionError
from adapters.http import redact, transient_for_status
from adapters.microsoft import MicrosoftAdapter, odata_error, odata_quote, odata_url
from adapters.types import (
    TENANT_PATTERN,
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
    batches,
    chunks,
    date_text,
    failed,
    spread_voucher_fields,
    text_value,
    unbalanced,
)

log = logging.getLogger(__name__)

API_HOST = "api.businesscentral.dynamics.com"
ADMIN_CENTER_URL = "https://businesscentral.dynamics.com/"
# Page 9860 "Microsoft Entra Applications", where an app is enabled and given permissions.
ENTRA_APPS_PAGE_URL = "https://businesscentral.dynamics.com/?page=9860"
JOURNALS_PAGE_URL = "https://businesscentral.dynamics.com/?page=251"
DESCRIPTION_LENGTH = 100
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$"
JOURNAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,9}$"
DOCUMENT_NUMBER_LENGTH = 20

CREDENTIAL_FIELDS = (
    *ENTRA_FIELDS,
    CredentialField(
        name="environment",
        label=Text("Miljø", "Environment"),
        kind="text",
        pattern=ENVIRONMENT_PATTERN,
        pattern_message=Text(
            "Miljønavnet er bokstaver, tall og bindestrek, f.eks. production eller sandbox.",
            "The environment name is letters, digits and hyphens, e.g. production or sandbox.",
        ),
        help=Text(
            "Navnet på Business Central-miljøet slik det står i administrasjonssenteret, "
            "f.eks. production eller sandbox.",
            "The Business Central environment's name as shown in the admin center, e.g. "
            "production or sandbox.",
        ),
        help_url=ADMIN_CENTER_URL,
        default="production",
        max_length=30,
    ),
    CredentialField(
        name="company",
        label=Text("Selskap", "Company"),
        kind="text",
        pattern=r"^\S.{0,29}$",
        pattern_message=Text(
            "Skriv selskapets navn nøyaktig slik det står i Business Central (høyst 30 tegn).",
            "Enter the company's name exactly as in Business Central (at most 30 characters).",
        ),
        help=Text(
            "Selskapets navn, f.eks. «CRONUS Norge AS». Appen må være aktivert på siden "
            "Microsoft Entra-applikasjoner og ha tillatelsessett for selskapet.",
            "The company's name, e.g. “CRONUS Norge AS”. The app must be enabled on the "
            "Microsoft Entra Applications page and have permission sets for the company.",
        ),
        help_url=ENTRA_APPS_PAGE_URL,
        max_length=30,
    ),
    CredentialField(
        name="journal",
        label=Text("Kladd (finanskladdnavn)", "Journal (batch name)"),
        kind="text",
        pattern=JOURNAL_PATTERN,
        pattern_message=Text(
            "Kladdenavnet er høyst 10 tegn, bokstaver og tall, f.eks. LEDGERLINK.",
            "The journal batch name is at most 10 letters and digits, e.g. LEDGERLINK.",
        ),
        help=Text(
            "En finanskladd som bare Ledgerlink bruker. Lag den i Business Central under "
            "Finanskladder → Kladdenavn.",
            "A general journal batch that only Ledgerlink uses. Create it in Business Central "
            "under General Journals → Batch Name.",
        ),
        help_url=JOURNALS_PAGE_URL,
        default="LEDGERLINK",
        max_length=10,
    ),
)

TARGET_FIELDS = (
    TargetField("postingDate", Text("Bokføringsdato", "Posting date"), "date", "voucher", True),
    TargetField(
        "accountNumber",
        Text("Kontonummer", "Account number"),
        "code",
        required=True,
        max_length=20,
        reference="account",
    ),
    TargetField(
        "description",
        Text("Beskrivelse", "Description"),
        "text",
        max_length=DESCRIPTION_LENGTH,
    ),
    TargetField(
        "documentNumber",
        Text("Bilagsnummer", "Document number"),
        "code",
        role="voucher",
        required=True,
        max_length=DOCUMENT_NUMBER_LENGTH,
    ),
    TargetField(
        "taxCode",
        Text("Mva-kode", "Tax code"),
        "code",
        max_length=20,
        reference="tax_code",
    ),
    TargetField(
        "department",
        Text("Avdeling (dimensjon)", "Department (dimension)"),
        "code",
        max_length=20,
        reference="dimension",
    ),
    TargetField(
        "project",
        Text("Prosjekt (dimensjon)", "Project (dimension)"),
        "code",
        max_length=20,
        reference="project",
    ),
    TargetField(
        "balancingAccountNumber",
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
)

TYPE = IntegrationType(
    key="dynamics_bc",
    name=Text("Dynamics 365 Business Central", "Dynamics 365 Business Central"),
    summary=Text(
        "For organisasjoner som fører regnskapet i Business Central. Utleggene føres som "
        "linjer i en egen finanskladd som så bokføres.",
        "For organisations that keep their accounts in Business Central. Claims become lines "
        "in a journal of their own, which is then posted.",
    ),
    credential_fields=CREDENTIAL_FIELDS,
    target_fields=TARGET_FIELDS,
    checks=standard_checks(
        Text("Tilgang til selskapet", "Authorised for the company"),
        Text("Klar til eksport (kladden finnes)", "Ready to export (journal exists)"),
    ),
    allowed_hosts=(LOGIN_HOST, API_HOST),
    batch_limit=100,
    default_mapping=standard_mapping(
        date="postingDate",
        account="accountNumber",
        text="description",
        text_length=DESCRIPTION_LENGTH,
        department="department",
        project="project",
        tax_code="taxCode",
        tax_lookup=BC_TAX_GROUPS,
        balancing_account="balancingAccountNumber",
        extra=(
            MappingDefault(
                "documentNumber",
                "field",
                "claim.claim_number",
                transforms=(("truncate", str(DOCUMENT_NUMBER_LENGTH)),),
            ),
        ),
    ),
    docs_url=ENTRA_APPS_PAGE_URL,
)


# Dimension codes Ledgerlink recognises for the two dimension target fields, in the order
# tried: Norwegian companies name them in Norwegian, W1 companies in English.
DIMENSION_CODES = {
    "department": ("AVDELING", "DEPARTMENT", "AVD"),
    "project": ("PROSJEKT", "PROJECT"),
}
# References per `$filter` when reading back: keeps the URL well under 2,000 characters.
READBACK_CHUNK = 25
LINE_FIELDS = ("postingDate", "accountNumber", "description", "documentNumber", "taxCode")


class BusinessCentralAdapter(MicrosoftAdapter):
    """Business Central API v2.0: journal lines in the chosen journal, then post it."""

    type = TYPE

    def __init__(self, credentials: Mapping[str, str], settings: AdapterSettings, **kw) -> None:
        super().__init__(credentials, settings, **kw)
        self.tenant = (self.credentials.get("tenant_id") or "").strip()
        self.environment = (self.credentials.get("environment") or "production").strip()
        self.company = (self.credentials.get("company") or "").strip()
        self.journal = (self.credentials.get("journal") or "LEDGERLINK").strip().upper()
        # Looked up once per adapter instance: ids and reference codes do not change mid-job.
        self._company_id: str | None = None
        self._journal_id: str | None = None
        self._dimensions: dict[str, dict[str, str]] | None = None

    def resource(self) -> str:
        return f"https://{API_HOST}"

    # -- addresses -------------------------------------------------------------------------

    def _base(self) -> str:
        if not re.fullmatch(TENANT_PATTERN, self.tenant):
            raise ConfigError(BAD_TENANT, provider_code="tenant_id", field="tenant_id")
        if not re.fullmatch(ENVIRONMENT_PATTERN, self.environment):
            raise ConfigError(BAD_ENVIRONMENT, provider_code="environment", field="environment")
        return f"https://{API_HOST}/v2.0/{quote(self.tenant)}/{quote(self.environment)}/api/v2.0"

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        return odata_url(self._base(), path, query)

    def _company_url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        return self._url(f"companies({self.company_id()})/{path}", query)

    # -- lookups ---------------------------------------------------------------------------

    def company_id(self) -> str:
        if self._company_id is None:
            companies = self._all(self._url("companies"), "company")
            wanted = self.company.casefold()
            for company in companies:
                names = {str(company.get(k) or "").casefold() for k in ("name", "displayName")}
                if wanted and wanted in names:
                    self._company_id = str(company["id"])
                    break
            else:
                known = ", ".join(sorted(str(c.get("name")) for c in companies)) or "–"
                raise ConfigError(
                    COMPANY_NOT_FOUND.format(company=self.company, known=known),
                    provider_code="company_not_found",
                    field="company",
                )
        return self._company_id

    def journal_id(self) -> str:
        if self._journal_id is None:
            if not re.fullmatch(JOURNAL_PATTERN, self.journal):
                raise ConfigError(BAD_JOURNAL, provider_code="journal", field="journal")
            query = {"$filter": f"code eq {odata_quote(self.journal)}"}
            journals = self._all(self._company_url("journals", query), "journal")
            if not journals:
                raise ConfigError(
                    JOURNAL_NOT_FOUND.format(journal=self.journal, company=self.company),
                    provider_code="journal_not_found",
                    field="journal",
                )
            self._journal_id = str(journals[0]["id"])
        return self._journal_id

    def _dimension_ids(self) -> dict[str, dict[str, str]]:
        """Target field (department/project) → {"id", "code"} of the company's dimension."""
        if self._dimensions is None:
            dimensions = {
                str(d["code"]).upper(): d for d in self._all(self._company_url("dimensions"))
            }
            self._dimensions = {}
            for target, codes in DIMENSION_CODES.items():
                for code in codes:
                    if code in dimensions:
                        found = dimensions[code]
                        self._dimensions[target] = {"id": str(found["id"]), "code": code}
                        break
        return self._dimensions

    # -- test connection -------------------------------------------------------------------

    def test_connection(self) -> list[CheckResult]:
        def address() -> Text:
            self.http.check_url(self._url("companies"))
            self.http.check_url(self.entra.token_url)
            return Text(f"Miljø: {self.environment}", f"Environment: {self.environment}")

        def reachable() -> None:
            self.http.probe(self.entra.token_url)
            self.http.probe(self._url("companies"))

        def authenticated() -> None:
            self.entra.token()

        def authorised() -> Text:
            self.company_id()
            return Text(f"Selskap: {self.company}", f"Company: {self.company}")

        def ready() -> Text:
            journal_id = self.journal_id()
            self._get(self._company_url(f"journals({journal_id})/journalLines", {"$top": "1"}))
            return Text(
                f"Kladden {self.journal} finnes og kan leses.",
                f"The journal {self.journal} exists and is readable.",
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

    # -- reference data --------------------------------------------------------------------

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        if kind == "account":
            rows = self._all(self._company_url("accounts"))
            return [_item(kind, r.get("number"), r.get("displayName")) for r in rows]
        if kind == "tax_code":
            rows = self._all(self._company_url("taxGroups"))
            return [_item(kind, r.get("code"), r.get("displayName")) for r in rows]
        target = {"dimension": "department", "project": "project"}.get(kind)
        if target is None:
            raise ValueError(f"unknown reference kind {kind!r}")
        dimension = self._dimension_ids().get(target)
        if dimension is None:
            return []
        rows = self._all(self._company_url(f"dimensions({dimension['id']})/dimensionValues"))
        return [_item(kind, r.get("code"), r.get("displayName")) for r in rows]

    # -- export ----------------------------------------------------------------------------

    def check_access(self) -> None:
        self.company_id()

    def export(self, vouchers: list[Voucher]) -> list[ExportResult]:
        results: dict[str, ExportResult] = {}
        sendable = []
        for voucher in vouchers:
            problem = unbalanced(voucher, TYPE.batch_limit)
            if problem is not None:
                results[voucher.reference] = failed(voucher, problem, "not_sent")
            else:
                sendable.append(voucher)
        if sendable:
            journal_id = self.journal_id()
            known = self._known_codes()
            for batch in batches(sendable, TYPE.batch_limit):
                for result in self._send(journal_id, known, batch):
                    results[result.reference] = result
        return [results[v.reference] for v in vouchers]

    def _known_codes(self) -> dict[str, set[str]]:
        """Codes a line may use, so that a voucher is refused whole before any line is made.

        A journal is posted as a whole: one half-created voucher would stop every other.
        """
        kinds: dict[str, ReferenceKind] = {
            "accountNumber": "account",
            "balancingAccountNumber": "account",
            "taxCode": "tax_code",
            "department": "dimension",
            "project": "project",
        }
        by_kind = {
            kind: {i.code for i in self.reference_data(kind)} for kind in set(kinds.values())
        }
        return {name: by_kind[kind] for name, kind in kinds.items()}

    def _send(
        self, journal_id: str, known: dict[str, set[str]], batch: list[Voucher]
    ) -> list[ExportResult]:
        results: dict[str, ExportResult] = {}
        existing = self._journal_markers(journal_id, [v.reference for v in batch])
        created: dict[str, list[str]] = {}
        for voucher in batch:
            lines = spread_voucher_fields(voucher, TYPE)
            problem = _unknown_codes(lines, known)
            if problem is not None:
                results[voucher.reference] = failed(voucher, problem, "unknown_code")
                continue
            try:
                created[voucher.reference] = self._create_lines(
                    journal_id, voucher, lines, existing
                )
            except DataError as error:
                results[voucher.reference] = failed(voucher, error)
        if created:
            self._post(journal_id, batch, created, results)
        for voucher in batch:
            results.setdefault(
                voucher.reference,
                ExportResult(voucher.reference, external_id=_document_number(voucher)),
            )
        return [results[v.reference] for v in batch]

    def _journal_markers(self, journal_id: str, references: list[str]) -> dict[str, str]:
        """Lines a crashed earlier attempt left in the journal: marker comment → line id."""
        markers = {}
        for chunk in chunks(references, READBACK_CHUNK):
            query = {
                "$filter": " or ".join(f"externalDocumentNumber eq {odata_quote(r)}" for r in chunk)
            }
            url = self._company_url(f"journals({journal_id})/journalLines", query)
            for line in self._all(url):
                if line.get("comment"):
                    markers[str(line["comment"])] = str(line["id"])
        return markers

    def _create_lines(
        self,
        journal_id: str,
        voucher: Voucher,
        lines: list[dict[str, Any]],
        existing: dict[str, str],
    ) -> list[str]:
        """Create the voucher's journal lines not already there; return every line's id."""
        ids = []
        try:
            for index, line in enumerate(lines):
                marker = _marker(voucher, index)
                if marker in existing:
                    ids.append(existing[marker])
                    continue
                ids.append(self._create_line(journal_id, voucher, line, marker))
        except DataError:
            self._remove_lines(journal_id, [i for i in ids if i not in existing.values()])
            raise
        return ids

    def payload(self, vouchers: list[Voucher]) -> list[dict[str, object]]:
        return [
            {
                "request": "POST companies({company})/journals({journal})/journalLines",
                "body": _line_body(voucher, line, _marker(voucher, index)),
            }
            for voucher in vouchers
            for index, line in enumerate(spread_voucher_fields(voucher, TYPE))
        ]

    def _create_line(
        self, journal_id: str, voucher: Voucher, line: dict[str, Any], marker: str
    ) -> str:
        body = _line_body(voucher, line, marker)
        path = f"journals({journal_id})/journalLines"
        created = self._request("POST", self._company_url(path), body, idempotent=False).json()
        line_id = str(created["id"])
        for target, dimension in self._dimension_ids().items():
            if line.get(target):
                self._request(
                    "POST",
                    self._company_url(f"{path}({line_id})/dimensionSetLines"),
                    {"code": dimension["code"], "valueCode": str(line[target])},
                    idempotent=False,
                )
        return line_id

    def _remove_lines(self, journal_id: str, line_ids: list[str]) -> bool:
        """Best effort: take a half-created voucher back out of the journal."""
        for line_id in line_ids:
            url = self._company_url(f"journals({journal_id})/journalLines({line_id})")
            try:
                self._request("DELETE", url, headers={"If-Match": "*"})
            except AdapterError as error:
                log.warning("could not remove a journal line: %s", error.provider_code)
                return False
        return True

    def _post(
        self,
        journal_id: str,
        batch: list[Voucher],
        created: dict[str, list[str]],
        results: dict[str, ExportResult],
    ) -> None:
        """Post the journal; when BC names a document out of balance, take it out and retry."""
        url = self._company_url(f"journals({journal_id})/Microsoft.NAV.post")
        for _attempt in range(2):
            try:
                self._request("POST", url, None, idempotent=False)
                return
            except DataError as error:
                culprit = _named_voucher(error, batch, created)
                if culprit is None or not self._remove_lines(
                    journal_id, created.pop(culprit.reference)
                ):
                    for voucher in batch:
                        if voucher.reference in created:
                            results[voucher.reference] = failed(voucher, error)
                    return
                results[culprit.reference] = failed(culprit, error)
                if not created:
                    return
        for voucher in batch:
            if voucher.reference in created:
                results.setdefault(voucher.reference, failed(voucher, POST_FAILED, "post_failed"))

    def find_exported(self, references: list[str]) -> dict[str, str]:
        """References posted to the general ledger → their document number."""
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(references)), READBACK_CHUNK):
            query = {
                "$filter": " or ".join(
                    f"externalDocumentNumber eq {odata_quote(r)}" for r in chunk
                ),
                "$select": "externalDocumentNumber,documentNumber,entryNumber",
            }
            for entry in self._all(self._company_url("generalLedgerEntries", query)):
                ref = entry.get("externalDocumentNumber")
                if ref and ref not in found:
                    found[ref] = str(entry.get("documentNumber") or entry.get("entryNumber"))
        return found

    # -- HTTP ------------------------------------------------------------------------------

    def classify(self, response: requests.Response, context: str | None) -> AdapterError | None:
        return bc_error(
            response, context=context, journal=self.journal, secrets=self.entra.secrets()
        )


def _item(kind: ReferenceKind, code: object, description: object) -> ReferenceItem:
    return ReferenceItem(kind, str(code or ""), str(description or ""))


def _marker(voucher: Voucher, index: int) -> str:
    return f"{voucher.reference}#{index}"


def _document_number(voucher: Voucher) -> str:
    for line in voucher.lines:
        if line.get("documentNumber"):
            return text_value(line["documentNumber"], DOCUMENT_NUMBER_LENGTH)
    return voucher.reference[:DOCUMENT_NUMBER_LENGTH]


def _unknown_codes(lines: list[dict[str, Any]], known: dict[str, set[str]]) -> Text | None:
    for line in lines:
        for name, codes in known.items():
            value = line.get(name)
            if value not in (None, "") and str(value) not in codes:
                label = TYPE.target_field(name).label
                return Text(
                    f"{label.nb} «{value}» finnes ikke i Business Central. Rett opp "
                    "feltkoblingen eller opprett koden i Business Central.",
                    f"{label.en} “{value}” does not exist in Business Central. Correct the "
                    "field mapping or create the code in Business Central.",
                )
    return None


def _named_voucher(
    error: AdapterError, batch: list[Voucher], created: dict[str, list[str]]
) -> Voucher | None:
    for voucher in batch:
        if voucher.reference in created and f"Document No. {_document_number(voucher)} " in (
            error.message.en
        ):
            return voucher
    return None


# -- errors -------------------------------------------------------------------------------------


def bc_error(
    response: requests.Response, *, context: str | None, journal: str, secrets: list[str]
) -> AdapterError | None:
    """The typed error for a Business Central answer (ACCOUNTING_APIS §4.3), or None."""
    status = response.status_code
    if status < 300:
        return None
    transient = transient_for_status(response, TYPE.name.en)
    if transient is not None:
        return transient
    code, message = odata_error(response)
    detail = redact(message, secrets)[:300]
    if status == 401:
        return PermissionError(NOT_ENABLED, provider_code=code or "401", field="client_id")
    if status == 403:
        return PermissionError(NO_PERMISSION.format(detail=detail), provider_code=code or "403")
    if status == 404 and message.startswith("Environment"):
        return ConfigError(ENVIRONMENT_NOT_FOUND, provider_code=code or "404", field="environment")
    if status == 404 and context == "company":
        return ConfigError(COMPANY_GONE, provider_code=code or "404", field="company")
    if status == 404 and context == "journal":
        return ConfigError(
            JOURNAL_NOT_FOUND.format(journal=journal, company="?"),
            provider_code=code or "404",
            field="journal",
        )
    if status == 404:
        return ConfigError(NOT_FOUND.format(detail=detail), provider_code=code or "404")
    if "permission" in message.lower():
        return PermissionError(NO_PERMISSION.format(detail=detail), provider_code=code or "400")
    if status == 400:
        return DataError(REFUSED.format(detail=detail), provider_code=code or "400")
    return ConfigError(UNEXPECTED.format(status=status), provider_code=code or str(status))


BAD_TENANT = Text(
    "Tenant-ID-en er verken en GUID eller et domene. Kopier «Directory (tenant) ID» fra "
    "appregistreringen.",
    "The tenant ID is neither a GUID nor a domain. Copy the “Directory (tenant) ID” from the "
    "app registration.",
)
BAD_ENVIRONMENT = Text(
    "Miljønavnet kan bare ha bokstaver, tall og bindestrek, f.eks. production.",
    "The environment name may only have letters, digits and hyphens, e.g. production.",
)
BAD_JOURNAL = Text(
    "Kladdenavnet er høyst 10 tegn, bokstaver og tall, f.eks. LEDGERLINK.",
    "The journal batch name is at most 10 letters and digits, e.g. LEDGERLINK.",
)
NOT_ENABLED = Text(
    "Business Central avviste appen. Åpne siden Microsoft Entra-applikasjoner i Business "
    "Central, legg inn klient-ID-en, sett Tilstand til Aktivert og gi appen tillatelsessett. "
    "I Azure må appen ha tillatelsen API.ReadWrite.All med administratorsamtykke.",
    "Business Central refused the app. Open the Microsoft Entra Applications page in Business "
    "Central, add the client ID, set State to Enabled and assign permission sets. In Azure, the "
    "app needs the API.ReadWrite.All permission with admin consent.",
)
NO_PERMISSION = Text(
    "Appen mangler tillatelse i Business Central ({detail}). Gi appen et tillatelsessett som "
    "kan lese kontoplan og dimensjoner og bokføre finanskladder, på siden Microsoft "
    "Entra-applikasjoner.",
    "The app lacks a permission in Business Central ({detail}). On the Microsoft Entra "
    "Applications page, give it a permission set that can read the chart of accounts and "
    "dimensions and post general journals.",
)
ENVIRONMENT_NOT_FOUND = Text(
    "Fant ikke miljøet i Business Central. Skriv navnet slik det står i "
    "administrasjonssenteret, f.eks. production eller sandbox.",
    "The environment does not exist in Business Central. Enter the name as shown in the admin "
    "center, e.g. production or sandbox.",
)
COMPANY_NOT_FOUND = Text(
    "Fant ikke selskapet «{company}» i miljøet. Selskaper appen ser: {known}.",
    "The company “{company}” does not exist in the environment. Companies the app can see: "
    "{known}.",
)
COMPANY_GONE = Text(
    "Fant ikke selskapet i miljøet. Sjekk selskapsnavnet.",
    "The company does not exist in the environment. Check the company name.",
)
JOURNAL_NOT_FOUND = Text(
    "Fant ikke kladden {journal} i selskapet {company}. Lag en finanskladd med dette navnet i "
    "Business Central (Finanskladder → Kladdenavn), eller skriv navnet på en som finnes.",
    "The journal {journal} does not exist in the company {company}. Create a general journal "
    "batch with this name in Business Central (General Journals → Batch Name), or enter the "
    "name of one that exists.",
)
NOT_FOUND = Text(
    "Business Central fant ikke det Ledgerlink ba om ({detail}).",
    "Business Central did not find what Ledgerlink asked for ({detail}).",
)
REFUSED = Text(
    "Business Central avviste bilaget: {detail}. Rett opp feltkoblingen eller utlegget og send "
    "på nytt.",
    "Business Central refused the voucher: {detail}. Correct the field mapping or the claim "
    "and send again.",
)
POST_FAILED = Text(
    "Business Central bokførte ikke kladden. Linjene ligger i kladden; prøv igjen senere.",
    "Business Central did not post the journal. The lines are in the journal; try again later.",
)
UNEXPECTED = Text(
    "Business Central svarte uventet (HTTP {status}). Prøv igjen senere.",
    "Business Central gave an unexpected answer (HTTP {status}). Try again later.",
)


def _line_body(voucher: Voucher, line: dict[str, Any], marker: str) -> dict[str, Any]:
    """One journal line's JSON body."""
    body: dict[str, Any] = {
        "accountType": "G/L Account",
        "externalDocumentNumber": voucher.reference,
        "documentNumber": _document_number(voucher),
        # JSON number: BC's Edm.Decimal; two decimals survive a float at these sizes.
        "amount": float(amount(line["amount"])),
        # Marks the line so that a retry after a crash can tell which lines exist.
        "comment": marker,
    }
    for name in LINE_FIELDS:
        if name in line:
            value = line[name]
            max_length = TYPE.target_field(name).max_length
            body[name] = (
                date_text(value) if name == "postingDate" else text_value(value, max_length)
            )
    if "balancingAccountNumber" in line:
        # The balancing line is an ordinary line on the payable account: BC's own
        # balancing account field would post a second, opposite line.
        body["accountNumber"] = str(line["balancingAccountNumber"])
    return body


register(BusinessCentralAdapter)
