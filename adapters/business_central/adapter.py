"""The Business Central adapter (API v2.0): journal lines in the chosen journal, then post it;
references in externalDocumentNumber, read back before posting.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import requests

from adapters import register
from adapters.base import AdapterSettings
from adapters.business_central.errors import (
    BAD_ENVIRONMENT,
    BAD_JOURNAL,
    BAD_TENANT,
    COMPANY_NOT_FOUND,
    JOURNAL_NOT_FOUND,
    JOURNALS_THERE,
    POST_FAILED,
    SKIPPED,
    WRITE_CHECKED,
    WRITE_UNCHECKED,
    bc_error,
)
from adapters.business_central.spec import (
    API_HOST,
    DIMENSION_CODES,
    DOCUMENT_NUMBER_LENGTH,
    ENVIRONMENT_PATTERN,
    JOURNAL_PATTERN,
    LINE_FIELDS,
    READBACK_CHUNK,
    TYPE,
)
from adapters.checks import run_checks
from adapters.errors import AdapterError, ConfigError, DataError, PermissionError
from adapters.microsoft import MicrosoftAdapter, json_object, odata_quote, odata_url
from adapters.suggest import did_you_mean
from adapters.types import (
    TENANT_PATTERN,
    CheckResult,
    ExportResult,
    ReferenceItem,
    ReferenceKind,
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
            companies = self._all(self._url("companies"), "companies")
            wanted = self.company.casefold()
            for company in companies:
                names = {str(company.get(k) or "").casefold() for k in ("name", "displayName")}
                if wanted and wanted in names:
                    self._company_id = str(company["id"])
                    break
            else:
                listed = sorted(str(c.get("name")) for c in companies)
                message = COMPANY_NOT_FOUND.format(
                    company=self.company, known=", ".join(listed) or "–"
                )
                hint = did_you_mean(self.company, listed)
                raise ConfigError(
                    Text(message.nb + hint.nb, message.en + hint.en),
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
            # Verify what was asked for: never "the first row" (ACCOUNTING_APIS §8).
            mine = [j for j in journals if str(j.get("code") or "").upper() == self.journal]
            if not mine:
                message = JOURNAL_NOT_FOUND.format(journal=self.journal, company=self.company)
                known = self._journal_codes()
                if known:
                    hint = did_you_mean(self.journal, known.split(", "))
                    message = Text(
                        message.nb + JOURNALS_THERE.nb.format(known=known) + hint.nb,
                        message.en + JOURNALS_THERE.en.format(known=known) + hint.en,
                    )
                raise ConfigError(message, provider_code="journal_not_found", field="journal")
            self._journal_id = str(mine[0]["id"])
        return self._journal_id

    def _journal_codes(self) -> str:
        """The company's journal batches, to offer when the entered one is not there."""
        try:
            rows = self._all(self._company_url("journals", {"$select": "code"}), "journal")
        except AdapterError:
            return ""
        return ", ".join(sorted({str(r.get("code")) for r in rows if r.get("code")}))

    def _dimension_ids(self) -> dict[str, dict[str, str]]:
        """Target field (department/project) → {"id", "code"} of the company's dimension."""
        if self._dimensions is None:
            try:
                rows = self._all(self._company_url("dimensions"))
            except (PermissionError, ConfigError) as error:
                self._dimensions = {}
                self._skip_dimensions(error)
                return self._dimensions
            dimensions = {str(d["code"]).upper(): d for d in rows}
            self._dimensions = {}
            for target, codes in DIMENSION_CODES.items():
                for code in codes:
                    if code in dimensions:
                        found = dimensions[code]
                        self._dimensions[target] = {"id": str(found["id"]), "code": code}
                        break
        return self._dimensions

    def _skip_dimensions(self, error: AdapterError) -> None:
        self.skip(
            "dimensions",
            SKIPPED.format(
                what_nb="Avdelinger og prosjekter (dimensjoner)",
                what_en="Departments and projects (dimensions)",
                table="Dimension (348), Dimension Value (349), Dimension Set Entry (480)",
            ),
            error,
        )

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
            # Exactly once after an interruption needs posted entries read back by reference.
            self._get(self._company_url("generalLedgerEntries", {"$top": "1"}))
            return self._write_check(journal_id)

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

    def _write_check(self, journal_id: str) -> Text:
        """Prove write permission with a marked line that is deleted at once; where the
        line cannot be deleted again, say write permission is checked at the first export."""
        path = f"journals({journal_id})/journalLines"
        body = {
            "accountType": "G/L Account",
            "documentNumber": "LL-CHECK",
            "amount": 0,
            "description": "Ledgerlink: test of write permission (deleted at once)",
            "comment": "LL-CHECK",
        }
        try:
            created = self._request("POST", self._company_url(path), body, idempotent=False)
        except DataError:
            return WRITE_UNCHECKED.format(journal=self.journal)
        line_id = str(json_object(created).get("id") or "")
        if not line_id or not self._remove_lines(journal_id, [line_id]):
            log.warning("the connection test's journal line could not be deleted")
            return WRITE_UNCHECKED.format(journal=self.journal)
        return WRITE_CHECKED.format(journal=self.journal)

    # -- reference data --------------------------------------------------------------------

    def reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
        """The kind's codes; a list the app may not read is skipped with a note (key = kind)."""
        try:
            items = self._reference_data(kind)
        except (PermissionError, ConfigError) as error:
            if isinstance(error, ConfigError) and error.field is not None:
                raise  # environment, company or journal: not an enrichment
            what, table = SKIPPED_LISTS[kind]
            self.skip(kind, SKIPPED.format(what_nb=what.nb, what_en=what.en, table=table), error)
            return []
        dimensions = next((n for n in self.notes if n.key == "dimensions"), None)
        if kind in ("dimension", "project") and dimensions is not None:
            # The dimensions themselves could not be read: this list is unknown, not empty.
            what, table = SKIPPED_LISTS[kind]
            message = SKIPPED.format(what_nb=what.nb, what_en=what.en, table=table)
            if not any(n.key == kind for n in self.notes):
                self.notes.append(replace(dimensions, key=kind, message=message))
        return items

    def _reference_data(self, kind: ReferenceKind) -> list[ReferenceItem]:
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
        # A list the app may not read is not checked here (BC names a wrong code itself).
        skipped = {note.key for note in self.notes}
        if "dimensions" in skipped:
            # One note on the run for the dimensions, not one more per dimension list.
            self.notes = [n for n in self.notes if n.key not in ("dimension", "project")]
        return {name: by_kind[kind] for name, kind in kinds.items() if kind not in skipped}

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
            self.carrying()
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
        for target, dimension in list(self._dimension_ids().items()):
            if line.get(target):
                try:
                    self._request(
                        "POST",
                        self._company_url(f"{path}({line_id})/dimensionSetLines"),
                        {"code": dimension["code"], "valueCode": str(line[target])},
                        idempotent=False,
                    )
                except PermissionError as error:
                    # An enrichment: the line stands without its dimensions from here on.
                    self._dimensions = {}
                    self._skip_dimensions(error)
                    break
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
            numbers = {_reference_number(r): r for r in chunk}
            query = {
                # generalLedgerEntry has documentNumber and no externalDocumentNumber (Learn):
                # every line of a claim carries its reference as the document number.
                "$filter": " or ".join(f"documentNumber eq {odata_quote(n)}" for n in numbers),
                "$select": "documentNumber,entryNumber",
            }
            for entry in self._all(self._company_url("generalLedgerEntries", query)):
                ref = numbers.get(str(entry.get("documentNumber") or ""))
                if ref and ref not in found:
                    found[ref] = str(entry.get("documentNumber"))
        return found

    # -- HTTP ------------------------------------------------------------------------------

    def classify(self, response: requests.Response, context: str | None) -> AdapterError | None:
        return bc_error(
            response, context=context, journal=self.journal, secrets=self.entra.secrets()
        )


# What a skipped reference list is, and the table(s) to grant.
SKIPPED_LISTS: dict[str, tuple[Text, str]] = {
    "account": (Text("Kontoer", "Accounts"), "G/L Account (15)"),
    "tax_code": (Text("Mva-grupper", "Tax groups"), "Tax Group (321)"),
    "dimension": (Text("Avdelinger", "Departments"), "Dimension (348), Dimension Value (349)"),
    "project": (Text("Prosjekter", "Projects"), "Dimension (348), Dimension Value (349)"),
}


def _item(kind: ReferenceKind, code: object, description: object) -> ReferenceItem:
    return ReferenceItem(kind, str(code or ""), str(description or ""))


def _marker(voucher: Voucher, index: int) -> str:
    return f"{voucher.reference}#{index}"


def _document_number(voucher: Voucher) -> str:
    return _reference_number(voucher.reference)


def _reference_number(reference: str) -> str:
    """The document number a claim's lines carry: its reference (≤ 20 characters)."""
    return reference[:DOCUMENT_NUMBER_LENGTH]


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
