"""Running a type's named checks: in order, the first failure skips the rest, never raising."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from adapters.errors import AdapterError
from adapters.types import CheckResult, CheckSpec, Text

log = logging.getLogger(__name__)

# A check step returns an optional message saying what it found, or raises a typed error.
Step = Callable[[], Text | None]

PASSED = Text("OK", "OK")
SKIPPED = Text(
    "Ikke kjørt fordi et tidligere steg feilet.", "Not run because an earlier step failed."
)
UNEXPECTED = Text(
    "Systemet svarte på en måte Ledgerlink ikke forstod. Prøv igjen; hvis det gjentar seg, "
    "kontakt Ledgerlink.",
    "The system answered in a way Ledgerlink did not understand. Try again; if it happens "
    "again, contact Ledgerlink.",
)
# What to do when a step fails and the error carries no more specific hint.
HINTS: dict[str, Text] = {
    "address": Text(
        "Rett opp adressefeltene og test på nytt.",
        "Correct the address fields and test again.",
    ),
    "reachable": Text(
        "Sjekk adressen. Hvis den er riktig, kan tjenesten være nede: prøv igjen om litt.",
        "Check the address. If it is right, the service may be down: try again shortly.",
    ),
    "authenticated": Text(
        "Rett opp feltet som er markert, og test på nytt.",
        "Correct the marked field and test again.",
    ),
    "authorised": Text(
        "Be en administrator hos systemet gi tilgangen som mangler, og test på nytt.",
        "Ask an administrator of the system to grant the missing access, then test again.",
    ),
    "ready": Text(
        "Rett opp det som mangler i systemet eller i feltet som er markert, og test på nytt.",
        "Fix what is missing in the system or in the marked field, then test again.",
    ),
}


def run_checks(specs: tuple[CheckSpec, ...], steps: Mapping[str, Step]) -> list[CheckResult]:
    """One result per spec: passed, failed (with message, hint, field) or skipped."""
    results: list[CheckResult] = []
    failed = False
    for spec in specs:
        if failed:
            results.append(CheckResult(spec.key, spec.label, "skipped", message=SKIPPED))
            continue
        result = _run_one(spec, steps[spec.key])
        failed = result.status == "failed"
        results.append(result)
    return results


def _run_one(spec: CheckSpec, step: Step) -> CheckResult:
    try:
        message = step()
    except AdapterError as error:
        return CheckResult(
            spec.key,
            spec.label,
            "failed",
            message=error.message,
            hint=error.hint or HINTS.get(spec.key),
            field=error.field,
            provider_code=error.provider_code,
            kind=error.kind,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        # An answer in a shape we did not expect: a failed check, not a crashed job.
        log.exception("check %s: unexpected answer", spec.key)
        return CheckResult(
            spec.key,
            spec.label,
            "failed",
            message=UNEXPECTED,
            hint=HINTS.get(spec.key),
            provider_code="unexpected_answer",
            kind="transient",
        )
    return CheckResult(spec.key, spec.label, "passed", message=message or PASSED)
