"""Microsoft Entra ID client credentials: the fields both Dynamics types ask for, and tokens.

Dataverse and Business Central authenticate the same way: an app registration's tenant,
client id and secret buy a bearer token for one resource (`{resource}/.default`).
"""

from __future__ import annotations

from adapters.types import GUID_PATTERN, TENANT_PATTERN, CredentialField, Text

LOGIN_HOST = "login.microsoftonline.com"
APP_REGISTRATIONS_URL = (
    "https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade"
)

TENANT_FIELD = CredentialField(
    name="tenant_id",
    label=Text("Tenant-ID (katalog)", "Tenant ID (directory)"),
    kind="uuid",
    pattern=TENANT_PATTERN,
    pattern_message=Text(
        "Skriv inn en tenant-ID (GUID, f.eks. 7b9c7a2e-4f1d-…) eller et verifisert domene "
        "som organisasjon.onmicrosoft.com.",
        "Enter a tenant ID (a GUID such as 7b9c7a2e-4f1d-…) or a verified domain such as "
        "organisation.onmicrosoft.com.",
    ),
    help=Text(
        "Står som «Directory (tenant) ID» på oversiktssiden til appregistreringen i "
        "Azure-portalen (App registrations → appen → Overview).",
        "Shown as “Directory (tenant) ID” on the app registration's Overview page in the "
        "Azure portal (App registrations → your app → Overview).",
    ),
    help_url=APP_REGISTRATIONS_URL,
    max_length=253,
)

CLIENT_ID_FIELD = CredentialField(
    name="client_id",
    label=Text("Klient-ID (applikasjons-ID)", "Client ID (application ID)"),
    kind="uuid",
    pattern=GUID_PATTERN,
    pattern_message=Text(
        "Klient-ID-en er en GUID på formen 3f2b8c1d-6e4a-4b7f-8c2d-1a9e5f7b3c60.",
        "The client ID is a GUID like 3f2b8c1d-6e4a-4b7f-8c2d-1a9e5f7b3c60.",
    ),
    help=Text(
        "Står som «Application (client) ID» på oversiktssiden til appregistreringen.",
        "Shown as “Application (client) ID” on the app registration's Overview page.",
    ),
    help_url=APP_REGISTRATIONS_URL,
    max_length=36,
)

CLIENT_SECRET_FIELD = CredentialField(
    name="client_secret",
    label=Text("Klienthemmelighet", "Client secret"),
    kind="secret",
    pattern=r"^\S{8,}$",
    pattern_message=Text(
        "Lim inn hele hemmeligheten, uten mellomrom. Den er minst 8 tegn lang.",
        "Paste the whole secret, without spaces. It is at least 8 characters long.",
    ),
    help=Text(
        "Lag en hemmelighet under App registrations → appen → Certificates & secrets → "
        "New client secret, og lim inn verdien i kolonnen «Value» (ikke «Secret ID»). "
        "Verdien vises bare én gang.",
        "Create one under App registrations → your app → Certificates & secrets → New client "
        "secret, and paste the “Value” column (not the “Secret ID”). It is shown only once.",
    ),
    help_url=APP_REGISTRATIONS_URL,
    max_length=200,
)

ENTRA_FIELDS = (TENANT_FIELD, CLIENT_ID_FIELD, CLIENT_SECRET_FIELD)
