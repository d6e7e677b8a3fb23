"""Dataverse's answers as typed errors (ACCOUNTING_APIS §3.4), with coordinator messages in
Bokmål and English.
"""

from __future__ import annotations

import re

import requests

from adapters.errors import AdapterError, AuthError, ConfigError, DataError, PermissionError
from adapters.http import redact, transient_for_status
from adapters.microsoft import odata_error
from adapters.types import Text

SYSTEM = "Dynamics 365 (Dataverse)"
# Dataverse errors by code (ACCOUNTING_APIS §3.4).
NOT_A_MEMBER = "0x80072560"
API_BLOCKED = "0x80095ffc"
MISSING_PRIVILEGE = "0x80040220"


# -- errors -------------------------------------------------------------------------------------


def dataverse_error(
    response: requests.Response, *, table: bool, table_name: str, secrets: list[str]
) -> AdapterError | None:
    """The typed error for a Dataverse answer (ACCOUNTING_APIS §3.4), or None for success."""
    status = response.status_code
    if status < 300:
        return None
    transient = transient_for_status(response, SYSTEM)
    if transient is not None:
        return transient
    error = _error(response, table=table, table_name=table_name, secrets=secrets)
    error.details = request_ids(response)
    _code, message = odata_error(response)
    if message:
        # Dataverse's own words, for support under "Technical details".
        error.details["provider_message"] = redact(message, secrets)[:300]
    return error


def request_ids(response: requests.Response) -> dict[str, str]:
    """Dataverse's id of this request, for support ("Technical details")."""
    ids = {}
    for header, key in (("x-ms-service-request-id", "request_id"), ("REQ_ID", "request_id")):
        if response.headers.get(header) and key not in ids:
            ids[key] = response.headers[header][:100]
    if response.headers.get("x-ms-activity-id"):
        ids["activity_id"] = response.headers["x-ms-activity-id"][:100]
    return ids


def _error(
    response: requests.Response, *, table: bool, table_name: str, secrets: list[str]
) -> AdapterError:
    status = response.status_code
    code, message = odata_error(response)
    if status == 401:
        return AuthError(TOKEN_NOT_ACCEPTED, provider_code="401", field="tenant_id")
    if code == NOT_A_MEMBER:
        return PermissionError(NOT_APPLICATION_USER, provider_code=code, field="client_id")
    if code == API_BLOCKED:
        return PermissionError(APP_BLOCKED, provider_code=code, field="client_id")
    if code == MISSING_PRIVILEGE:
        match = re.search(r"missing (prv\w+) privilege", message)
        privilege = match.group(1) if match else "?"
        return PermissionError(
            NO_PRIVILEGE.format(privilege=privilege, table=table_name), provider_code=code
        )
    if status == 403:
        return PermissionError(FORBIDDEN, provider_code=code or "403", field="client_id")
    if status == 412:
        return DataError(ALREADY_THERE, provider_code="412")
    if status == 404 and table:
        return ConfigError(
            TABLE_NOT_FOUND.format(table=table_name), provider_code=code or "404", field="table"
        )
    if status == 404:
        return ConfigError(
            ENVIRONMENT_NOT_FOUND, provider_code=code or "404", field="environment_url"
        )
    if status == 400:
        detail = redact(message, secrets)[:300]
        return DataError(REFUSED.format(detail=detail), provider_code=code or "400")
    return ConfigError(UNEXPECTED.format(status=status), provider_code=code or str(status))


BAD_ENVIRONMENT_URL = Text(
    "Miljøadressen må være på formen https://organisasjon.crm4.dynamics.com. Kopier "
    "«Miljø-URL» fra Power Platform administrasjonssenter.",
    "The environment URL must look like https://organisation.crm4.dynamics.com. Copy the "
    "“Environment URL” from the Power Platform admin center.",
)
BAD_TABLE = Text(
    "Tabellnavnet må være et entitetssettnavn med små bokstaver, f.eks. ll_expenselines.",
    "The table must be an entity set name in lower case, e.g. ll_expenselines.",
)
TOKEN_NOT_ACCEPTED = Text(
    "Dynamics godtok ikke tilgangsnøkkelen fra Microsoft. Sjekk at miljøadressen hører til "
    "samme tenant som appregistreringen.",
    "Dynamics did not accept Microsoft's access token. Check that the environment URL belongs "
    "to the same tenant as the app registration.",
)
NOT_APPLICATION_USER = Text(
    "Appen er ikke applikasjonsbruker i dette miljøet. I Power Platform administrasjonssenter: "
    "Miljøer → miljøet → Innstillinger → Brukere + tillatelser → Applikasjonsbrukere → Ny "
    "appbruker; velg appen (klient-ID-en) og gi den en sikkerhetsrolle.",
    "The app is not an application user in this environment. In the Power Platform admin "
    "center: Environments → the environment → Settings → Users + permissions → Application "
    "users → New app user; choose the app (the client ID) and give it a security role.",
)
APP_BLOCKED = Text(
    "En administrator har sperret denne appen for Dataverse-API-et. Be administratoren åpne "
    "for klient-ID-en.",
    "An administrator has blocked this app from the Dataverse API. Ask the administrator to "
    "allow the client ID.",
)
NO_PRIVILEGE = Text(
    "Appens sikkerhetsrolle mangler rettigheten {privilege} på tabellen {table}. Gi rollen "
    "den i Power Platform administrasjonssenter: Miljøer → miljøet → Innstillinger → Brukere + "
    "tillatelser → Applikasjonsbrukere → appen → Sikkerhetsroller.",
    "The app's security role lacks the privilege {privilege} on the table {table}. Give the "
    "role that privilege in the Power Platform admin center: Environments → the environment → "
    "Settings → Users + permissions → Application users → the app → Security roles.",
)
NO_SAFE_WAY = Text(
    "Tabellen {table} har ingen alternativ nøkkel på kolonnen {column}, og appens "
    "sikkerhetsrolle kan ikke lese tabellen. Da kan ikke Ledgerlink unngå å sende et utlegg to "
    "ganger etter et avbrudd. Lag en alternativ nøkkel på {column} (Power Apps → Tabeller → "
    "tabellen → Nøkler), eller gi rollen lesetilgang ({privilege}) i Power Platform "
    "administrasjonssenter: Miljøer → miljøet → Innstillinger → Brukere + tillatelser → "
    "Applikasjonsbrukere → appen → Sikkerhetsroller.",
    "The table {table} has no alternate key on the column {column}, and the app's security "
    "role may not read the table, so Ledgerlink could not avoid sending a claim twice after an "
    "interruption. Create an alternate key on {column} (Power Apps → Tables → the table → "
    "Keys), or give the role Read ({privilege}) in the Power Platform admin center: "
    "Environments → the environment → Settings → Users + permissions → Application users → the "
    "app → Security roles.",
)
READY_WITH_KEY = Text(
    "Tabellen {table} finnes, og den alternative nøkkelen på {column} sørger for at hver linje "
    "skrives én gang.",
    "The table {table} exists, and its alternate key on {column} makes sure each line is "
    "written once.",
)
READY_WITH_READ = Text(
    "Tabellen {table} finnes og kan leses. (En alternativ nøkkel på {column} ville gjort "
    "lesetilgang unødvendig.)",
    "The table {table} exists and is readable. (An alternate key on {column} would make read "
    "access unnecessary.)",
)
ALREADY_THERE = Text(
    "Linjen finnes allerede i tabellen.",
    "The line is already in the table.",
)
FORBIDDEN = Text(
    "Dynamics nektet appen tilgang. Sjekk at appen er applikasjonsbruker med en "
    "sikkerhetsrolle i miljøet.",
    "Dynamics refused the app access. Check that the app is an application user with a "
    "security role in the environment.",
)
TABLE_NOT_FOUND = Text(
    "Fant ikke tabellen {table} i miljøet. Sjekk entitetssettnavnet, og at Ledgerlink-løsningen "
    "er installert.",
    "The table {table} does not exist in the environment. Check the entity set name, and that "
    "the Ledgerlink solution is installed.",
)
ENVIRONMENT_NOT_FOUND = Text(
    "Fant ikke Dataverse-API-et på miljøadressen. Kopier «Miljø-URL» fra Power Platform "
    "administrasjonssenter.",
    "The Dataverse API was not found at the environment URL. Copy the “Environment URL” from "
    "the Power Platform admin center.",
)
REFUSED = Text(
    "Dynamics avviste linjen: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Dynamics refused the line: {detail}. Correct the field mapping or the claim and send again.",
)
UNEXPECTED = Text(
    "Dynamics svarte uventet (HTTP {status}). Prøv igjen senere.",
    "Dynamics gave an unexpected answer (HTTP {status}). Try again later.",
)
