"""Tripletex's answers as typed errors (ACCOUNTING_APIS §9.4), with coordinator messages in
Bokmål and English; the provider's own words and request id go to the error's details."""

from __future__ import annotations

import requests

from adapters.errors import (
    AdapterError,
    AuthError,
    ConfigError,
    DataError,
    PermissionError,
    TransientError,
)
from adapters.http import THROTTLED, parse_retry_after, redact, transient_for_status
from adapters.microsoft import json_object
from adapters.types import Text

SYSTEM = "Tripletex"
# When a 429 has no X-Rate-Limit-Reset (issue #103): back off on our own clock.
DEFAULT_WAIT = 10.0


def tripletex_error(response: requests.Response, secrets: list[str]) -> AdapterError | None:
    """The typed error for a Tripletex answer, or None for success."""
    status = response.status_code
    if status < 300:
        return None
    body = json_object(response)
    details = {}
    request_id = response.headers.get("x-tlx-request-id") or body.get("requestId")
    if request_id:
        details["request_id"] = str(request_id)[:100]
    message = redact(str(body.get("message") or ""), secrets)[:300]
    if message:
        details["provider_message"] = message
    code = str(body.get("code") or status)
    if status == 429:
        wait = parse_retry_after(response.headers.get("X-Rate-Limit-Reset"))
        return TransientError(
            THROTTLED_TEXT, provider_code="429", retry_after=wait or DEFAULT_WAIT, details=details
        )
    transient = transient_for_status(response, SYSTEM)
    if transient is not None:
        transient.details = details
        return transient
    validations = [v for v in body.get("validationMessages") or [] if isinstance(v, dict)]
    if status == 401:
        return AuthError(
            SESSION_REFUSED, provider_code=code, field="employee_token", details=details
        )
    if status == 403:
        return PermissionError(
            NOT_ALLOWED, provider_code=code, field="employee_token", details=details
        )
    if status == 404:
        return ConfigError(NOT_FOUND, provider_code=code, details=details)
    if status == 422 and validations:
        fields = {str(v.get("field") or "") for v in validations}
        if "arg:consumerToken" in fields:
            return ConfigError(
                OTHER_ENVIRONMENT, provider_code=code, field="environment", details=details
            )
        return DataError(refused(validations, secrets), provider_code=code, details=details)
    return ConfigError(UNEXPECTED.format(status=status), provider_code=code, details=details)


# Tripletex's validation fields → the mapping's target field they come from.
FIELD_TARGETS = {
    "date": "date",
    "postings.date": "date",
    "postings.account": "account",
    "postings.department": "department",
    "postings.project": "project",
    "postings.vatType": "vatType",
    "postings.description": "description",
    "description": "description",
}


def refused(validations: list[dict], secrets: list[str]) -> Text:
    """Each validation message under the name of the mapping field it belongs to, in the
    coordinator's language (Tripletex's own sentence, Norwegian for Norwegian users, after)."""
    from adapters.tripletex.spec import TYPE

    nb, en = [], []
    for validation in validations:
        said = redact(str(validation.get("message") or ""), secrets)[:200].rstrip(". ")
        target = FIELD_TARGETS.get(str(validation.get("field") or ""))
        if target is None:
            nb.append(said)
            en.append(said)
            continue
        label = TYPE.target_field(target).label
        nb.append(f"{label.nb}: {said}")
        en.append(f"{label.en}: {said}")
    return Text(
        REFUSED.nb.format(detail="; ".join(nb)[:500]),
        REFUSED.en.format(detail="; ".join(en)[:500]),
    )


THROTTLED_TEXT = THROTTLED.format(system=SYSTEM)
SESSION_REFUSED = Text(
    "Tripletex avviste nøklene. Ansattnøkkelen er trolig utløpt eller slettet: lag en ny i "
    "Tripletex (Innstillinger → Brukere → brukeren → API-tilgang) og lim den inn her.",
    "Tripletex rejected the tokens. The employee token has probably expired or been deleted: "
    "create a new one in Tripletex (Settings → Users → the user → API access) and paste it here.",
)
NOT_ALLOWED = Text(
    "Tripletex nektet nøklene tilgang. Sjekk at ansattnøkkelen er laget for Ledgerlink og at "
    "brukeren har rett til å føre bilag.",
    "Tripletex refused the tokens access. Check that the employee token was made for "
    "Ledgerlink and that the user may post vouchers.",
)
OTHER_ENVIRONMENT = Text(
    "Forbrukernøkkelen hører til det andre Tripletex-miljøet. Nøkler som begynner med «test-» "
    "virker bare i testmiljøet: velg riktig miljø.",
    "The consumer token belongs to the other Tripletex environment. Tokens starting with "
    "“test-” only work in the test environment: choose the right environment.",
)
NOT_FOUND = Text(
    "Tripletex fant ikke det Ledgerlink ba om. Sjekk miljøet og klientens firma-ID.",
    "Tripletex did not find what Ledgerlink asked for. Check the environment and the client "
    "company id.",
)
REFUSED = Text(
    "Tripletex avviste bilaget: {detail}. Rett opp feltkoblingen eller utlegget og send på nytt.",
    "Tripletex refused the voucher: {detail}. Correct the field mapping or the claim and send "
    "again.",
)
UNEXPECTED = Text(
    "Tripletex svarte uventet (HTTP {status}). Ledgerlink prøver igjen senere.",
    "Tripletex gave an unexpected answer (HTTP {status}). Ledgerlink will try again later.",
)
