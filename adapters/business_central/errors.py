"""Business Central's answers as typed errors (ACCOUNTING_APIS §4.3), with coordinator messages
in Bokmål and English.
"""

from __future__ import annotations

import re

import requests

from adapters.business_central.spec import TYPE
from adapters.errors import AdapterError, ConfigError, DataError, PermissionError
from adapters.http import redact, transient_for_status
from adapters.microsoft import json_object, odata_error
from adapters.types import (
    Text,
)

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
    details = request_ids(response)
    if detail:
        # BC's own words, for support under "Technical details"; never in the message.
        details["provider_message"] = detail
    if status == 401:
        return PermissionError(
            NOT_ENABLED, provider_code=code or "401", field="client_id", details=details
        )
    if status == 403 or (status == 400 and "permission" in message.lower()):
        return PermissionError(
            missing_permission(message), provider_code=code or str(status), details=details
        )
    if status == 404 and (message.startswith("Environment") or context == "companies"):
        # The environment is the first thing in the path: an unknown one fails the very first
        # call, before any company is involved (ACCOUNTING_APIS §8).
        return ConfigError(
            ENVIRONMENT_NOT_FOUND, provider_code=code or "404", field="environment", details=details
        )
    if status == 404 and context == "company":
        return ConfigError(COMPANY_GONE, provider_code=code or "404", field="company")
    if status == 404 and context == "journal":
        return ConfigError(
            JOURNAL_NOT_FOUND.format(journal=journal, company="?"),
            provider_code=code or "404",
            field="journal",
        )
    if status == 404:
        return ConfigError(NOT_FOUND, provider_code=code or "404", details=details)
    if status == 400:
        # One line refused: its reason is the only thing telling the coordinator what to fix.
        return DataError(REFUSED.format(detail=detail), provider_code=code or "400")
    return ConfigError(
        UNEXPECTED.format(status=status), provider_code=code or str(status), details=details
    )


def request_ids(response: requests.Response) -> dict[str, str]:
    """Business Central's ids of this answer, for support ("Technical details")."""
    ids = {}
    if response.headers.get("request-id"):
        ids["request_id"] = response.headers["request-id"][:100]
    error = json_object(response).get("error")
    raw = str(error.get("message") or "") if isinstance(error, dict) else ""
    if match := re.search(r"CorrelationId:\s+([0-9a-fA-F-]{8,})", raw):
        ids["correlation_id"] = match.group(1)
    return ids


# BC's verbs in a missing-permission message, in words.
VERBS = {
    "Read": Text("lese", "read"),
    "Insert": Text("opprette", "insert"),
    "Modify": Text("endre", "modify"),
    "Delete": Text("slette", "delete"),
    "Execute": Text("kjøre", "execute"),
}


def missing_permission(message: str) -> Text:
    """Which object the app may not use and what to grant, without BC's own sentence."""
    match = re.search(r"TableData (\d+) ([^:()]+?) (Read|Insert|Modify|Delete)\b", message)
    if match is None:
        return NO_PERMISSION_ANY
    number, name, verb = match.group(1), match.group(2).strip()[:60], VERBS[match.group(3)]
    return NO_PERMISSION.format(verb_nb=verb.nb, verb_en=verb.en, table=name, number=number)


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
    "Appen har ikke lov til å {verb_nb} {table} (tabell {number}) i Business Central. Gi "
    "appen et tillatelsessett som kan det, på siden Microsoft Entra-applikasjoner.",
    "The app may not {verb_en} {table} (table {number}) in Business Central. On the Microsoft "
    "Entra Applications page, give it a permission set that can.",
)
NO_PERMISSION_ANY = Text(
    "Appen mangler tillatelse i Business Central. Gi appen et tillatelsessett som kan lese "
    "kontoplan og bokføre finanskladder, på siden Microsoft Entra-applikasjoner.",
    "The app lacks a permission in Business Central. On the Microsoft Entra Applications page, "
    "give it a permission set that can read the chart of accounts and post general journals.",
)
JOURNALS_THERE = Text(
    " Kladder i selskapet: {known}.",
    " Journals in the company: {known}.",
)
SKIPPED = Text(
    "{what_nb} ble ikke brukt: appen har ikke lov til å lese dem i Business Central. Gi "
    "appen tillatelse til {table} på siden Microsoft Entra-applikasjoner for å få dem med.",
    "{what_en} were left out: the app may not read them in Business Central. Give the app "
    "permission on {table} on the Microsoft Entra Applications page to include them.",
)
NO_READBACK = Text(
    "Bokførte poster ble ikke lest tilbake: appen har ikke lov til å lese finansposter (tabell "
    "17). Ledgerlink bygger på sin egen logg; et avbrutt utlegg kan ikke kontrolleres i Business "
    "Central før appen får lesetilgang til finansposter.",
    "Posted entries were not read back: the app may not read G/L entries (table 17). Ledgerlink "
    "relies on its own record; an interrupted claim cannot be checked in Business Central "
    "until the app may read G/L entries.",
)
WRITE_UNCHECKED = Text(
    "Kladden {journal} finnes og kan leses. Skrivetilgang kontrolleres ved første eksport.",
    "The journal {journal} exists and is readable. Write permission is checked at the first "
    "export.",
)
WRITE_CHECKED = Text(
    "Kladden {journal} finnes, og appen kan skrive linjer i den (en prøvelinje ble laget og "
    "slettet igjen).",
    "The journal {journal} exists and the app can write lines to it (a test line was made and "
    "deleted again).",
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
    "Business Central fant ikke det Ledgerlink ba om. Sjekk miljø, selskap og kladd i "
    "innstillingene; detaljene under «Tekniske detaljer» hjelper brukerstøtte.",
    "Business Central did not find what Ledgerlink asked for. Check the environment, company "
    "and journal in the settings; the technical details help support.",
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
