"""Resolving claims into balanced vouchers with a compiled plan; problems with a claim come
back as data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapters.types import IntegrationType, Text, Voucher
from webapp.mapping.codes import reference_for
from webapp.mapping.compile import compile_mapping
from webapp.mapping.messages import (
    _F_MAPPING,
    _F_NO_AMOUNT,
    _F_NO_ID,
    _F_NO_LINES,
    _F_REFERENCE,
    _F_TIME_ZONE,
    _F_TOO_MANY_LINES,
    _F_UNEXPECTED,
    _fmt,
    _show,
)
from webapp.mapping.spec import (
    _MAX_DIGITS,
    _ZERO,
    AMOUNT,
    CATALOGUE,
    DEFAULT_TZ,
    OERE,
    REFERENCE_MAX_LENGTH,
    REFERENCE_PREFIX,
    ClaimError,
    MappingPlan,
    MappingRow,
    _Fail,
    _Problem,
)
from webapp.mapping.transforms import _ZERO_OERE, _as_decimal, _as_str

# ---------------------------------------------------------------------------------------------
# Resolving claims

_PLANS: dict[tuple[object, ...], MappingPlan] = {}
_AMOUNT_LABEL = CATALOGUE["line.amount"][1]


def resolve_claim(
    itype: IntegrationType,
    rows: Sequence[MappingRow] | MappingPlan,
    claim: Any,
    *,
    integration_id: int,
    tz: str | dt.tzinfo = DEFAULT_TZ,
) -> Voucher | list[ClaimError]:
    """One claim → its balanced voucher, or every reason it cannot become one.

    `rows` may be a `MappingPlan` from `compile_mapping` (then its own type is used);
    plain rows are compiled once and cached. Never raises for bad claim data.
    """
    plan = rows if isinstance(rows, MappingPlan) else plan_for(itype, rows)
    return _resolve(plan, claim, _zone(tz), tz, integration_id)


def resolve_claims(
    itype: IntegrationType,
    rows: Sequence[MappingRow] | MappingPlan,
    claims: Iterable[Any],
    *,
    integration_id: int,
    tz: str | dt.tzinfo = DEFAULT_TZ,
) -> tuple[list[Voucher], list[ClaimError]]:
    """A batch of claims → (vouchers, errors of the claims that gave none).

    The mapping is compiled once for the batch. One claim's problem, even an unexpected
    one, becomes its `ClaimError`s and never stops the others.
    """
    plan = rows if isinstance(rows, MappingPlan) else compile_mapping(itype, list(rows))
    zone = _zone(tz)
    vouchers: list[Voucher] = []
    errors: list[ClaimError] = []
    for claim in claims:
        try:
            result = _resolve(plan, claim, zone, tz, integration_id)
        except Exception as exc:  # a bug in one claim must not stop the batch
            detail = _fmt(_F_UNEXPECTED, error=type(exc).__name__)
            result = _claim_errors(claim, [(None, None, detail, None)])
        if isinstance(result, Voucher):
            vouchers.append(result)
        else:
            errors.extend(result)
    return vouchers, errors


def _claim_errors(claim: Any, problems: list[_Problem]) -> list[ClaimError]:
    """Problems → ClaimErrors whose messages say which claim and line, in both languages."""
    claim_id = getattr(claim, "id", None)
    number = _as_str(getattr(claim, "claim_number", None)) or ""
    shown = number or f"id {_show(claim_id)}"
    errors = []
    for target, label, detail, line in problems:
        nb, en = f"Reiseregning {shown}", f"Expense claim {shown}"
        if line is not None:
            nb, en = f"{nb}, linje {line}", f"{en}, line {line}"
        if label is not None:
            nb, en = f"{nb} – {label.nb}", f"{en} – {label.en}"
        message = Text(f"{nb}: {detail.nb}", f"{en}: {detail.en}")
        errors.append(ClaimError(claim_id, number, target, message, line))
    return errors


def plan_for(itype: IntegrationType, rows: Iterable[MappingRow]) -> MappingPlan:
    """The compiled plan for these rows, from a small cache keyed by the rows' contents
    (`compile_mapping` once per mapping, however many pages show it)."""
    rows = list(rows)
    key = (id(itype), tuple(row.key() for row in rows))
    plan = _PLANS.get(key)
    if plan is None or plan.itype is not itype:
        plan = compile_mapping(itype, rows)
        if len(_PLANS) >= 64:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


def _zone(tz: object) -> dt.tzinfo | None:
    if isinstance(tz, dt.tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (KeyError, ValueError, OSError):
        return None


def _resolve(
    plan: MappingPlan, claim: Any, zone: dt.tzinfo | None, tz: object, integration_id: object
) -> Voucher | list[ClaimError]:
    """The hot path: written for speed, since it runs once per claim of every export."""
    problems: list[_Problem] = []
    if plan.errors or zone is None:
        return _claim_errors(claim, _setup_problems(plan, tz))
    claim_id = getattr(claim, "id", None)
    reference = _reference(integration_id, claim_id, problems)
    lines = getattr(claim, "lines", None)
    if type(lines) is not tuple or not lines or len(lines) > plan.max_lines:
        lines = _claim_lines(lines, plan.itype, problems)
    base, balance = _claim_values(plan, claim, zone, problems)
    fill_line = plan.fill_line
    assert fill_line is not None  # a plan without errors always has one
    out: list[dict[str, object]] = []
    total = _ZERO
    for number, ln in enumerate(lines, 1):
        line = base.copy()
        fill_line(claim, ln, zone, line, problems, number)
        amount = getattr(ln, "amount", None)
        # adjusted() < 12: |amount| < MAX_AMOUNT, without two slow Decimal comparisons.
        if type(amount) is Decimal and amount.is_finite() and amount.adjusted() < _MAX_DIGITS:
            amount = amount.quantize(OERE, ROUND_HALF_UP) or _ZERO_OERE
        else:
            amount = _line_amount(amount, problems, number)
        line[AMOUNT] = amount
        total += amount
        out.append(line)
    if problems:
        return _claim_errors(claim, problems)
    balance[AMOUNT] = _ZERO - total
    out.append(balance)
    # A claim without an id got a problem from _reference above and returned already.
    return Voucher(claim_id, reference, claim_id, out)  # type: ignore[arg-type]


def _claim_values(
    plan: MappingPlan, claim: Any, zone: dt.tzinfo, problems: list[_Problem]
) -> tuple[dict[str, object], dict[str, object]]:
    """What every debit line and the balancing line start from: constants, claim values."""
    base = plan.debit_start.copy()
    balance = plan.balance_start.copy()
    for target, fn, row, on_debit, on_balance in plan.claim_steps:
        try:
            value = fn(claim, None, zone)
        except _Fail as fail:
            problems.append((target, row.label, fail.text, None))
            continue
        if value is not None:
            if on_debit:
                base[target] = value
            if on_balance:
                balance[target] = value
        elif row.required:
            problems.append((target, row.label, row.empty, None))
    return base, balance


def _setup_problems(plan: MappingPlan, tz: object) -> list[_Problem]:
    """Why no claim can be resolved: the mapping is invalid or the time zone unknown."""
    if plan.errors:
        return [
            (target, None, _fmt(_F_MAPPING, message=message), None)
            for target, message in plan.errors.items()
        ]
    return [(None, None, _fmt(_F_TIME_ZONE, tz=_show(tz)), None)]


def _reference(integration_id: object, claim_id: object, problems: list[_Problem]) -> str:
    """reference_for(integration_id, claim_id), or "" and a problem saying why not."""
    if type(claim_id) is not int or claim_id <= 0:
        problems.append((None, None, _fmt(_F_NO_ID), None))
        return ""
    if type(integration_id) is int and integration_id > 0:
        # reference_for's usual case, without its checks (just made).
        reference = f"{REFERENCE_PREFIX}-{integration_id}-{claim_id}"
        if len(reference) <= REFERENCE_MAX_LENGTH:
            return reference
    try:
        return reference_for(integration_id, claim_id)  # type: ignore[arg-type]
    except ValueError:
        detail = _fmt(_F_REFERENCE, integration=_show(integration_id), claim=claim_id)
        problems.append((None, None, detail, None))
        return ""


def _claim_lines(raw: object, itype: IntegrationType, problems: list[_Problem]) -> tuple:
    lines: tuple[Any, ...] = ()
    if raw is not None and not isinstance(raw, str | bytes | dict):
        try:
            lines = tuple(raw)  # type: ignore[arg-type]
        except TypeError:
            lines = ()
    if not lines:
        problems.append((None, None, _fmt(_F_NO_LINES), None))
    elif len(lines) >= itype.batch_limit:
        detail = _fmt(
            _F_TOO_MANY_LINES, count=len(lines), system=itype.name, limit=itype.batch_limit - 1
        )
        problems.append((None, None, detail, None))
    return lines


def _line_amount(raw: object, problems: list[_Problem], number: int) -> Decimal:
    """The slow path of a line amount: not a plain Decimal, or one out of range."""
    try:
        amount = _as_decimal(raw, _AMOUNT_LABEL)
    except _Fail as fail:
        problems.append((AMOUNT, None, fail.text, number))
        return _ZERO
    if amount is None:
        problems.append((AMOUNT, None, _fmt(_F_NO_AMOUNT), number))
        return _ZERO
    return amount
