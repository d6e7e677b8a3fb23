"""Microsoft Entra ID client credentials: the fields both Dynamics types ask for, and tokens.

Dataverse and Business Central authenticate the same way: an app registration's tenant,
client id and secret buy a bearer token for one resource (`{resource}/.default`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from adapters.errors import AdapterError, AuthError, ConfigError, PermissionError, TransientError
from adapters.http import HttpClient, fingerprint, transient_for_status
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


# --- tokens ------------------------------------------------------------------------------------


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float


class TokenCache:
    """Access tokens shared by every adapter in the process, keyed by credential fingerprint.

    A token is reused until `margin` seconds before it expires, so that a long export never
    starts a call with a token about to lapse. One lock per key makes concurrent callers wait
    for a single token request instead of each asking Entra.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, margin: float = 60.0) -> None:
        self.clock = clock
        self.margin = margin
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TokenCache {len(self._tokens)} tokens>"

    def get(self, key: str, fetch: Callable[[], tuple[str, float]]) -> str:
        """The cached token for `key`, or a new one from `fetch()` → (token, lifetime in s)."""
        with self._lock:
            key_lock = self._locks.setdefault(key, threading.Lock())
        with key_lock:
            token = self._tokens.get(key)
            if token is not None and self.clock() < token.expires_at:
                return token.value
            value, lifetime = fetch()
            expires_at = self.clock() + max(0.0, lifetime - self.margin)
            self._tokens[key] = _Token(value, expires_at)
            return value

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def peek(self, key: str) -> str | None:
        """The cached token for `key` if any, without fetching (for redaction)."""
        token = self._tokens.get(key)
        return token.value if token is not None else None


TOKENS = TokenCache()


class EntraClient:
    """Client-credentials tokens for one app registration and one resource."""

    def __init__(
        self,
        http: HttpClient,
        credentials: Mapping[str, str],
        resource: str,
        *,
        resource_field: str | None = None,
        cache: TokenCache = TOKENS,
    ) -> None:
        self.http = http
        self.tenant = credentials.get("tenant_id", "").strip()
        self.client_id = credentials.get("client_id", "").strip()
        self._secret = credentials.get("client_secret", "")
        self.scope = resource.rstrip("/") + "/.default"
        # The credential field that names the resource (Dataverse: environment_url).
        self.resource_field = resource_field
        self.cache = cache
        self.key = fingerprint(
            self.tenant.lower(), self.client_id.lower(), self._secret, self.scope
        )

    def __repr__(self) -> str:
        return f"<EntraClient tenant={self.tenant!r} client_id={self.client_id!r}>"

    @property
    def token_url(self) -> str:
        return f"https://{LOGIN_HOST}/{quote(self.tenant, safe='')}/oauth2/v2.0/token"

    def token(self) -> str:
        """A bearer token for the resource; raises a typed error naming the field to fix."""
        if not re.fullmatch(TENANT_PATTERN, self.tenant):
            raise ConfigError(MALFORMED_TENANT, provider_code="tenant_id", field="tenant_id")
        return self.cache.get(self.key, self._fetch)

    def invalidate(self) -> None:
        self.cache.invalidate(self.key)

    def secrets(self) -> list[str]:
        """What must never appear in a message: the client secret and the bearer token sent."""
        return [s for s in (self._secret, self.cache.peek(self.key)) if s]

    def _fetch(self) -> tuple[str, float]:
        response = self.http.request(
            "POST",
            self.token_url,
            classify=self._classify,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
                "scope": self.scope,
            },
            headers={"Accept": "application/json"},
        )
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 3599))

    def _classify(self, response: requests.Response) -> AdapterError | None:
        if response.status_code == 200:
            body = _json(response)
            if isinstance(body.get("access_token"), str) and body["access_token"]:
                return None
            return TransientError(NO_TOKEN, provider_code="no_access_token")
        transient = transient_for_status(response, "Microsoft Entra ID")
        if transient is not None:
            return transient
        return entra_error(response, self.resource_field)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def entra_error(response: requests.Response, resource_field: str | None) -> AdapterError:
    """The typed error for an Entra token refusal (ACCOUNTING_APIS §2.2)."""
    body = _json(response)
    error = str(body.get("error", ""))
    codes = body.get("error_codes") or []
    code = int(codes[0]) if codes and str(codes[0]).isdigit() else None
    if code is None:
        match = re.match(r"AADSTS(\d+)", str(body.get("error_description", "")))
        code = int(match.group(1)) if match else None
    provider_code = f"AADSTS{code}" if code is not None else (error or str(response.status_code))
    entry = _ENTRA_CODES.get(code) if code is not None else None
    if entry is None:
        entry = _ENTRA_ERRORS.get(error, _ENTRA_FALLBACK)
    kind, message, field_name = entry
    if field_name == RESOURCE:
        field_name = resource_field
        if resource_field is None:
            message = RESOURCE_NOT_IN_TENANT
    return kind(message, provider_code=provider_code, field=field_name)


MALFORMED_TENANT = Text(
    "Tenant-ID-en er verken en GUID eller et domene. Kopier «Directory (tenant) ID» fra "
    "oversiktssiden til appregistreringen.",
    "The tenant ID is neither a GUID nor a domain. Copy the “Directory (tenant) ID” from the "
    "app registration's Overview page.",
)
NO_TOKEN = Text(
    "Microsoft svarte uten tilgangsnøkkel. Ledgerlink prøver igjen senere.",
    "Microsoft answered without an access token. Ledgerlink will try again later.",
)
RESOURCE_NOT_IN_TENANT = Text(
    "Microsoft fant ikke tjenesten i denne tenanten. Sjekk at tenant-ID-en er den "
    "organisasjonen som har Dynamics 365, og at appen har fått administratorsamtykke.",
    "Microsoft did not find the service in this tenant. Check that the tenant ID is the "
    "organisation that has Dynamics 365, and that the app has admin consent.",
)
# Marks "the credential field naming the resource", which differs between the two types.
RESOURCE = "<resource>"

_Entry = tuple[type[AdapterError], Text, str | None]

_WRONG_SECRET: _Entry = (
    AuthError,
    Text(
        "Microsoft avviste klienthemmeligheten: den er feil. Lim inn verdien i kolonnen "
        "«Value» under App registrations → Certificates & secrets, ikke «Secret ID».",
        "Microsoft rejected the client secret: it is wrong. Paste the Value from App "
        "registrations → Certificates & secrets, not the Secret ID.",
    ),
    "client_secret",
)
_EXPIRED_SECRET: _Entry = (
    AuthError,
    Text(
        "Microsoft avviste klienthemmeligheten: den er utløpt. Lag en ny hemmelighet under "
        "App registrations → Certificates & secrets, og lim inn verdien (Value) her.",
        "Microsoft rejected the client secret: it has expired. Create a new secret under App "
        "registrations → Certificates & secrets, then paste its Value here.",
    ),
    "client_secret",
)
_MISSING_SECRET: _Entry = (
    AuthError,
    Text(
        "Microsoft fikk ingen klienthemmelighet. Lim inn verdien (Value) fra App "
        "registrations → Certificates & secrets.",
        "Microsoft received no client secret. Paste the Value from App registrations → "
        "Certificates & secrets.",
    ),
    "client_secret",
)
_UNKNOWN_APP: _Entry = (
    AuthError,
    Text(
        "Microsoft fant ingen app med denne klient-ID-en i tenanten. Kopier «Application "
        "(client) ID» fra appregistreringen, og sjekk at tenant-ID-en er for samme katalog.",
        "Microsoft found no app with this client ID in the tenant. Copy the “Application "
        "(client) ID” from the app registration, and check that the tenant ID is the same "
        "directory.",
    ),
    "client_id",
)
_DISABLED_APP: _Entry = (
    PermissionError,
    Text(
        "Microsoft sier at appen er deaktivert. Be en administrator aktivere den under "
        "Enterprise applications → appen → Properties.",
        "Microsoft says the app is disabled. Ask an administrator to enable it under "
        "Enterprise applications → your app → Properties.",
    ),
    "client_id",
)
_UNKNOWN_TENANT: _Entry = (
    ConfigError,
    Text(
        "Microsoft fant ikke tenanten. Kopier «Directory (tenant) ID» fra oversiktssiden til "
        "appregistreringen.",
        "Microsoft did not find the tenant. Copy the “Directory (tenant) ID” from the app "
        "registration's Overview page.",
    ),
    "tenant_id",
)
_BAD_TENANT: _Entry = (ConfigError, MALFORMED_TENANT, "tenant_id")
_BAD_SCOPE: _Entry = (
    ConfigError,
    Text(
        "Microsoft godtok ikke adressen Ledgerlink ba om tilgang til. Sjekk miljøadressen.",
        "Microsoft did not accept the address Ledgerlink asked for access to. Check the "
        "environment URL.",
    ),
    RESOURCE,
)
_RESOURCE_NOT_FOUND: _Entry = (
    ConfigError,
    Text(
        "Microsoft fant ikke miljøet i denne tenanten. Sjekk at miljøadressen er skrevet "
        "riktig og hører til samme tenant som appregistreringen.",
        "Microsoft did not find the environment in this tenant. Check that the environment "
        "URL is spelled correctly and belongs to the same tenant as the app registration.",
    ),
    RESOURCE,
)
_ENTRA_FALLBACK: _Entry = (
    AuthError,
    Text(
        "Microsoft avviste påloggingen. Sjekk tenant-ID, klient-ID og klienthemmelighet.",
        "Microsoft refused the sign-in. Check the tenant ID, client ID and client secret.",
    ),
    None,
)

_ENTRA_CODES: dict[int, _Entry] = {
    7000215: _WRONG_SECRET,
    7000222: _EXPIRED_SECRET,
    7000218: _MISSING_SECRET,
    90014: _MISSING_SECRET,
    700016: _UNKNOWN_APP,
    7000112: _DISABLED_APP,
    90002: _UNKNOWN_TENANT,
    900023: _BAD_TENANT,
    70011: _BAD_SCOPE,
    500011: _RESOURCE_NOT_FOUND,
}
# When the body has no AADSTS code, the OAuth `error` alone.
_ENTRA_ERRORS: dict[str, _Entry] = {
    "invalid_client": _WRONG_SECRET,
    "unauthorized_client": _UNKNOWN_APP,
    "invalid_tenant": _UNKNOWN_TENANT,
    "invalid_scope": _BAD_SCOPE,
    "invalid_resource": _RESOURCE_NOT_FOUND,
}
