"""Turning resolved vouchers into what providers accept: money, dates, text, batches.

Shared by every adapter so that each sends amounts with two decimals, dates as YYYY-MM-DD,
refuses an unbalanced voucher before it leaves, and never splits a voucher across calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from adapters.errors import AdapterError
from adapters.types import ExportResult, IntegrationType, Text, Voucher

CENT = Decimal("0.01")


def amount(value: object) -> Decimal:
    """A line amount rounded to øre; ValueError when it is not a number."""
    if type(value) is Decimal:
        number = value  # what resolved vouchers carry: no round trip through text
    else:
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: object) -> str:
    """An amount as providers want it in JSON: a string with exactly two decimals."""
    return str(amount(value))


def date_text(value: object) -> str:
    """A date as YYYY-MM-DD from a date, a datetime (its own calendar day) or ISO text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return date.fromisoformat(text[:10]).isoformat()


def text_value(value: object, max_length: int | None) -> str:
    text = " ".join(str(value).split())
    return text[:max_length] if max_length else text


def unbalanced(voucher: Voucher, line_limit: int) -> Text | None:
    """Why a voucher cannot be sent as it is, or None when it can."""
    if not voucher.lines:
        return Text("Bilaget har ingen linjer.", "The voucher has no lines.")
    if len(voucher.lines) > line_limit:
        return Text(
            f"Bilaget har {len(voucher.lines)} linjer; systemet tar høyst {line_limit} i én "
            "sending. Del utlegget i flere.",
            f"The voucher has {len(voucher.lines)} lines; the system takes at most "
            f"{line_limit} in one call. Split the claim.",
        )
    try:
        total = sum((amount(line.get("amount")) for line in voucher.lines), Decimal(0))
    except ValueError:
        return Text(
            "En linje i bilaget mangler et gyldig beløp.",
            "A line of the voucher has no valid amount.",
        )
    if total != 0:
        return Text(
            f"Bilaget går ikke i balanse: linjene summerer seg til {total}. Sjekk motkontoen "
            "i feltkoblingen.",
            f"The voucher does not balance: its lines add up to {total}. Check the balancing "
            "account in the field mapping.",
        )
    return None


def batches(vouchers: Iterable[Voucher], line_limit: int) -> Iterator[list[Voucher]]:
    """Consecutive groups of whole vouchers with at most `line_limit` lines in each."""
    batch: list[Voucher] = []
    lines = 0
    for voucher in vouchers:
        if batch and lines + len(voucher.lines) > line_limit:
            yield batch
            batch, lines = [], 0
        batch.append(voucher)
        lines += len(voucher.lines)
    if batch:
        yield batch


def spread_voucher_fields(voucher: Voucher, integration_type: IntegrationType) -> list[dict]:
    """The lines, each carrying every voucher-level field some line of the voucher has.

    The posting date and document number belong to the whole voucher; a resolver may have put
    them on the expense lines only, and the balancing line needs them as well.
    """
    shared = voucher_fields(voucher, integration_type)
    return [
        {**shared, **{k: v for k, v in line.items() if v is not None and v != ""}}
        for line in voucher.lines
    ]


def voucher_fields(voucher: Voucher, integration_type: IntegrationType) -> dict[str, object]:
    """The voucher-level fields some line of the voucher has (the first line's value wins):
    what `spread_voucher_fields` puts under every line's own non-empty fields."""
    shared = {}
    for name in _voucher_fields(integration_type):
        for line in voucher.lines:
            value = line.get(name)
            if value is not None and value != "":
                shared[name] = value
                break
    return shared


# Integration type → the names of its voucher-level fields (asked for every voucher sent).
_voucher_names: dict[str, tuple[IntegrationType, tuple[str, ...]]] = {}


def _voucher_fields(integration_type: IntegrationType) -> tuple[str, ...]:
    known = _voucher_names.get(integration_type.key)
    if known is None or known[0] is not integration_type:
        names = tuple(f.name for f in integration_type.target_fields if f.role == "voucher")
        known = _voucher_names[integration_type.key] = (integration_type, names)
    return known[1]


def failed(voucher: Voucher, error: AdapterError | Text, code: str | None = None) -> ExportResult:
    if isinstance(error, AdapterError):
        return ExportResult(
            voucher.reference, error=error.message, provider_code=error.provider_code
        )
    return ExportResult(voucher.reference, error=error, provider_code=code)


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
