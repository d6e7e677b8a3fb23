"""The usual paste mistakes in credential fields, caught before anything is sent.

Each check looks at one field's value (and the form's other values) and says, in both
languages, what was most likely pasted and where the right value is. Pure and Flask-free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from adapters.types import Text

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DYNAMICS_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.(?:api\.)?crm[0-9]{0,2}\.dynamics\.com$")


def mistake(field: str, value: str, values: Mapping[str, str]) -> Text | None:
    """What looks wrong with `value` in `field`, or None."""
    check = _CHECKS.get(field)
    return check(value.strip(), values) if check else None


def _client_secret(value: str, values: Mapping[str, str]) -> Text | None:
    if GUID.fullmatch(value):
        return Text(
            "Dette ser ut som hemmelighetens ID (en GUID), ikke verdien. I Azure-portalen, "
            "under Certificates & secrets, kopier kolonnen «Value» (f.eks. "
            "Abc8Q~x1y2z3…), ikke «Secret ID». Verdien vises bare rett etter at "
            "hemmeligheten er laget; er den skjult, lag en ny.",
            "This looks like the secret's ID (a GUID), not its value. In the Azure portal, "
            "under Certificates & secrets, copy the “Value” column (e.g. Abc8Q~x1y2z3…), not "
            "“Secret ID”. The value is shown only right after the secret is created; if it is "
            "hidden, create a new one.",
        )
    return None


def _tenant(value: str, values: Mapping[str, str]) -> Text | None:
    client = (values.get("client_id") or "").strip()
    if GUID.fullmatch(value) and client and value.lower() == client.lower():
        return Text(
            "Tenant-ID-en er den samme som klient-ID-en. Tenant-ID-en står som «Directory "
            "(tenant) ID» på oversiktssiden til appregistreringen, rett under klient-ID-en.",
            "The tenant ID is the same as the client ID. The tenant ID is shown as “Directory "
            "(tenant) ID” on the app registration's Overview page, just below the client ID.",
        )
    if "://" in value or "/" in value:
        found = GUID.search(value)
        if found:
            return Text(
                f"Lim inn bare tenant-ID-en, ikke en nettadresse. Mente du {found.group(0)}?",
                f"Paste only the tenant ID, not a web address. Did you mean {found.group(0)}?",
            )
        return Text(
            "Lim inn bare tenant-ID-en (en GUID som 7b9c7a2e-4f1d-…) eller domenet "
            "(organisasjon.onmicrosoft.com), ikke en nettadresse.",
            "Paste only the tenant ID (a GUID like 7b9c7a2e-4f1d-…) or its domain "
            "(organisation.onmicrosoft.com), not a web address.",
        )
    if "@" in value:
        domain = value.rsplit("@", 1)[1]
        return Text(
            f"Dette er en e-postadresse. Skriv tenant-ID-en (GUID) eller bare domenet, f.eks. "
            f"{domain}, hvis det er verifisert i tenanten.",
            f"This is an e-mail address. Enter the tenant ID (a GUID), or only the domain, "
            f"e.g. {domain}, if it is verified in the tenant.",
        )
    return None


def _environment_url(value: str, values: Mapping[str, str]) -> Text | None:
    parts = urlsplit(value if "://" in value else f"https://{value}")
    host = (parts.hostname or "").lower()
    if DYNAMICS_HOST.fullmatch(host) and (
        parts.path.strip("/") or parts.query or "://" not in value
    ):
        return Text(
            f"Skriv bare miljøets adresse, uten sti eller parametere: https://{host}",
            f"Enter only the environment's address, without a path or parameters: https://{host}",
        )
    return None


def _xledger_token(value: str, values: Mapping[str, str]) -> Text | None:
    if value.lower().startswith(("token ", "bearer ")):
        return Text(
            "Lim inn bare selve nøkkelen, uten «token» eller «Bearer» foran.",
            "Paste only the token itself, without “token” or “Bearer” in front.",
        )
    return None


_CHECKS = {
    "client_secret": _client_secret,
    "tenant_id": _tenant,
    "environment_url": _environment_url,
    "api_token": _xledger_token,
}
