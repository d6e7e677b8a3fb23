"""Xledger's answers as typed errors (ACCOUNTING_APIS §1.4), with coordinator messages in
Bokmål and English.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
    TransientError,
)
from adapters.http import (
    redact,
)
from adapters.types import (
    Text,
)
from adapters.xledger.queries import BURST_WAIT, CONCURRENCY_WAIT, CREDITS_WAIT

# -- errors -------------------------------------------------------------------------------------


def xledger_error(error: dict[str, Any], status: int, secrets: list[str]) -> AdapterError:
    """The typed error for one entry of Xledger's `errors` array (ACCOUNTING_APIS §1.4)."""
    raw_extensions = error.get("extensions")
    extensions: dict[str, Any] = raw_extensions if isinstance(raw_extensions, dict) else {}
    code = str(error.get("code") or extensions.get("code") or "")
    message = str(error.get("message") or "")
    if code == "BAD_REQUEST.BURST_RATE_LIMIT_REACHED":
        return TransientError(RATE_LIMITED, provider_code=code, retry_after=BURST_WAIT)
    if code == "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED":
        return TransientError(RATE_LIMITED, provider_code=code, retry_after=CONCURRENCY_WAIT)
    if code == "BAD_REQUEST.INSUFFICIENT_CREDITS":
        return _credits_error(code, extensions.get("resetAt"))
    if message.startswith("Bad format for API Token"):
        return AuthError(BAD_FORMAT, provider_code="BAD_TOKEN_FORMAT", field="api_token")
    if code == "UNAUTHENTICATED" or status == 401 or _token_refused(message):
        return AuthError(TOKEN_REFUSED, provider_code=code or "UNAUTHENTICATED", field="api_token")
    area_named = re.search(r"access to (.+?)\.?$", message)
    if _not_signed_in(message) and not area_named:
        # "Unauthorized", a bare "Access denied": who we are was refused, not one dataset
        # (ACCOUNTING_APIS §8), so the integration must ask for a new token.
        return AuthError(TOKEN_REFUSED, provider_code=code or "UNAUTHORIZED", field="api_token")
    if code == "FORBIDDEN" or status == 403 or message.startswith("Access denied"):
        match = area_named
        area = redact(match.group(1), secrets)[:80] if match else "?"
        return PermissionError(
            NO_ACCESS.format(area=area), provider_code=code or "FORBIDDEN", field="api_token"
        )
    if message.startswith("Too many requests"):
        return TransientError(RATE_LIMITED, provider_code=code or "429", retry_after=BURST_WAIT)
    if message.startswith("Your query timed out"):
        return TransientError(QUERY_TIMEOUT, provider_code="QUERY_TIMEOUT")
    if message.startswith("Cannot query field"):
        return ConfigError(NOT_UNDERSTOOD, provider_code="GRAPHQL_VALIDATION")
    detail = redact(message, secrets)[:300]
    return DataError(REFUSED.format(detail=detail), provider_code=code or "BAD_REQUEST")


# Xledger's names of the lines' lookups in its GL import errors → the mapping's words.
LOOKUP_LABELS = {
    "Account": ("Kontoen", "The account"),
    "Tax rule": ("Avgiftskoden", "The tax code"),
    "Project": ("Prosjektet", "The project"),
    "GL object 1": ("Avdelingen", "The department"),
}


def _import_reason(message: str, secrets: list[str]) -> tuple[str, str]:
    """One GL import error row in the coordinator's words where its form is known; Xledger's
    own sentence otherwise (the only thing that says what to fix)."""
    match = re.match(r"(.+?) '([^']{1,40})' does not exist", message)
    if match and match.group(1) in LOOKUP_LABELS:
        nb, en = LOOKUP_LABELS[match.group(1)]
        code = redact(match.group(2), secrets)
        return f"{nb} {code} finnes ikke i Xledger", f"{en} {code} does not exist in Xledger"
    if "does not balance" in message:
        return "linjene går ikke i null", "the lines do not add up to zero"
    if message.endswith("is required"):
        field = message[: -len(" is required")]
        return f"et påkrevd felt mangler ({field})", f"a required field is missing ({field})"
    said = redact(message, secrets)[:200]
    return said, said


def import_refused(messages: list[str], secrets: list[str]) -> Text:
    """The refusal of one voucher's GL import error rows, in each language."""
    reasons = list(
        dict.fromkeys(
            _import_reason(part.strip(), secrets)
            for message in messages
            for part in message.split(";")
            if part.strip()
        )
    )
    return Text(
        IMPORT_REFUSED.nb.format(detail="; ".join(nb for nb, _en in reasons)[:500]),
        IMPORT_REFUSED.en.format(detail="; ".join(en for _nb, en in reasons)[:500]),
    )


def status_error(response: requests.Response) -> AdapterError:
    """An answer without a GraphQL `errors` array that is still not a success."""
    status = response.status_code
    if status == 401:
        return AuthError(TOKEN_REFUSED, provider_code="401", field="api_token")
    if status == 403:
        return PermissionError(NO_ACCESS.format(area="?"), provider_code="403", field="api_token")
    if status == 429:
        return TransientError(RATE_LIMITED, provider_code="429", retry_after=BURST_WAIT)
    if status >= 500 or status < 300:
        return TransientError(UNEXPECTED_ANSWER.format(status=status), provider_code=str(status))
    return ConfigError(UNEXPECTED_ANSWER.format(status=status), provider_code=str(status))


def _not_signed_in(message: str) -> bool:
    lowered = message.strip().lower()
    return lowered.startswith(
        ("unauthorized", "unauthorised", "not authorized", "not authenticated", "access denied")
    )


def _token_refused(message: str) -> bool:
    lowered = message.lower()
    return "token" in lowered and any(w in lowered for w in ("invalid", "expired", "revoked"))


def _credits_error(code: str, reset_at: object) -> TransientError:
    when = None
    if isinstance(reset_at, str):
        try:
            when = datetime.fromisoformat(reset_at.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if when is None:
        return TransientError(CREDITS, provider_code=code, retry_after=CREDITS_WAIT)
    if when.tzinfo is None:
        # Xledger's timestamps are Norwegian time (modifiedAt is CET, ACCOUNTING_APIS §1.6):
        # read wrongly as UTC, the run would resume an hour late; this way at worst one
        # cheap call is refused an hour early.
        when = when.replace(tzinfo=ZoneInfo("Europe/Oslo"))
    # The whole wait, however long: the export run tells the coordinator until when, in
    # the organisation's time zone (the message itself names no time).
    wait = max(0.0, (when - datetime.now(UTC)).total_seconds())
    return TransientError(
        CREDITS, provider_code=code, retry_after=wait, details={"reset_at": when.isoformat()}
    )


UNKNOWN_ENVIRONMENT = Text(
    "Ukjent Xledger-miljø. Velg produksjon eller demo.",
    "Unknown Xledger environment. Choose production or demo.",
)
MISSING_TOKEN = Text(
    "API-nøkkelen mangler. Lag en under Administrasjon → Systemtilgang → GraphQL → API-nøkler "
    "og lim den inn her.",
    "The API token is missing. Create one under Administration → System access → GraphQL → "
    "API tokens and paste it here.",
)
BAD_FORMAT = Text(
    "Xledger avviste API-nøkkelen fordi den har feil format. Lim inn hele nøkkelen slik "
    "Xledger viste den, uten «token» foran og uten mellomrom.",
    "Xledger rejected the API token because of its format. Paste the whole token as Xledger "
    "showed it, without “token” in front and without spaces.",
)
TOKEN_REFUSED = Text(
    "Xledger avviste API-nøkkelen: den er utløpt eller trukket tilbake. Lag en ny under "
    "Administrasjon → Systemtilgang → GraphQL → API-nøkler og lim den inn her.",
    "Xledger rejected the API token: it has expired or been revoked. Create a new one under "
    "Administration → System access → GraphQL → API tokens and paste it here.",
)
NO_ACCESS = Text(
    "API-nøkkelen mangler tilgang i Xledger ({area}). Lag en nøkkel med lesetilgang til "
    "kontoplan, prosjekter og dimensjoner og skrivetilgang til hovedbokimport, og lim den inn "
    "her.",
    "The API token lacks access in Xledger ({area}). Create a token with read access to the "
    "chart of accounts, projects and dimensions and write access to GL import, and paste it "
    "here.",
)
ENTITY_NOT_FOUND = Text(
    "API-nøkkelen når ikke firmaet {code}. En nøkkel når firmaet den ble laget i og dets "
    "underenheter: sjekk firmakoden, eller lag nøkkelen i riktig firma.",
    "The API token cannot reach entity {code}. A token reaches the entity it was created in "
    "and its sub-entities: check the entity code, or create the token in the right entity.",
)
EMPTY_CHART = Text(
    "Kontoplanen i Xledger er tom for denne nøkkelen, så bilag kan ikke føres. Sjekk at "
    "nøkkelen hører til riktig firma.",
    "The chart of accounts in Xledger is empty for this token, so vouchers cannot be posted. "
    "Check that the token belongs to the right entity.",
)
READY = Text(
    "Kontoplanen og hovedbokimporten kan leses.",
    "The chart of accounts and GL import are readable.",
)
RATE_LIMITED = Text(
    "Xledger ber Ledgerlink vente litt (for mange forespørsler). Ledgerlink prøver igjen om "
    "noen sekunder.",
    "Xledger asks Ledgerlink to slow down (too many requests). Ledgerlink will try again in a "
    "few seconds.",
)
CREDITS = Text(
    "Xledger har stoppet API-et for denne nøkkelen fordi kvoten er brukt opp. Ledgerlink "
    "fortsetter når Xledger åpner igjen; kontakt Xledger hvis det haster.",
    "Xledger has paused the API for this token because its allowance is used up. Ledgerlink "
    "goes on when Xledger opens again; contact Xledger if it is urgent.",
)
WRONG_ENVIRONMENT = Text(
    "Xledger godtar API-nøkkelen i {there_nb}, men ikke i {here_nb}. En nøkkel laget i "
    "demomiljøet virker bare der. Velg {there_nb} under Miljø, eller lag nøkkelen i {here_nb}.",
    "Xledger accepts the API token in {there_en}, not in {here_en}. A token made in the demo "
    "environment works only there. Choose {there_en} under Environment, or create the token "
    "in {here_en}.",
)
SKIPPED_LIST = Text(
    "{what_nb} ble ikke kontrollert: API-nøkkelen kan ikke lese dem i Xledger. Gi nøkkelen "
    "lesetilgang til {what_lower_nb} under Administrasjon → Systemtilgang → GraphQL → "
    "API-nøkler, og hent kodene på nytt.",
    "{what_en} were not checked: the API token may not read them in Xledger. Give the token "
    "read access to {what_lower_en} under Administration → System access → GraphQL → API "
    "tokens, and fetch the codes again.",
)
QUERY_TIMEOUT = Text(
    "Xledger brukte for lang tid på spørringen. Ledgerlink prøver igjen senere.",
    "Xledger took too long to answer the query. Ledgerlink will try again later.",
)
NOT_UNDERSTOOD = Text(
    "Xledger forstod ikke forespørselen fra Ledgerlink; Xledger kan ha endret API-et sitt. "
    "Kontakt Ledgerlink.",
    "Xledger did not understand Ledgerlink's request; Xledger may have changed its API. "
    "Contact Ledgerlink.",
)
REFUSED = Text(
    "Xledger avviste dataene: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Xledger refused the data: {detail}. Correct the field mapping or the claim and send again.",
)
IMPORT_REFUSED = Text(
    "Xledger avviste bilaget: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Xledger refused the voucher: {detail}. Correct the field mapping or the claim and send again.",
)
UNEXPECTED_ANSWER = Text(
    "Xledger svarte uventet (HTTP {status}). Ledgerlink prøver igjen senere.",
    "Xledger gave an unexpected answer (HTTP {status}). Ledgerlink will try again later.",
)
