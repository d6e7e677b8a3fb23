"""Transforms and target types: date format, sign, rounding, truncation, defaults; reading
claim values as text, numbers and dates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from adapters.types import IntegrationType, TargetField, Text
from webapp.mapping.messages import (
    _E_CONST_EMPTY,
    _E_CONST_TOO_LONG,
    _E_DATE_FORMAT_BAD,
    _E_DATE_FORMAT_TARGET,
    _E_DATE_FORMAT_TYPE,
    _E_NOT_CODE,
    _E_NOT_DATE,
    _E_NOT_INTEGER,
    _E_NOT_NUMBER,
    _E_ROUND_BAD,
    _E_ROUND_TYPE,
    _E_SIGN_BAD,
    _E_SIGN_TYPE,
    _E_TOO_BIG,
    _E_TRUNCATE_BAD,
    _E_TRUNCATE_TYPE,
    _E_TYPE,
    _F_NOT_DATE,
    _F_NOT_INTEGER,
    _F_NOT_NUMBER,
    _F_TOO_BIG,
    _F_TOO_LONG,
    _W_DEFAULT,
    _fmt,
    _show,
)
from webapp.mapping.spec import (
    _CODE_RE,
    _COMPATIBLE,
    _DATE_DIRECTIVES,
    _MAX_DIGITS,
    _STRFTIME_RE,
    _TYPE_NAMES,
    MAX_AMOUNT,
    OERE,
    _Fail,
    _Invalid,
)

# ---------------------------------------------------------------------------------------------
# Transforms and target types


def _steps(
    itype: IntegrationType, tf: TargetField, opts: dict[str, str], vt: str, label: Text | None
) -> list[Callable[[Any], Any]]:
    """Steps from a source value of type `vt` to the target's type, in a fixed order:
    date format, sign, rounding, conversion, truncation or length check."""
    steps: list[Callable[[Any], Any]] = []
    t = tf.data_type
    if "date_format" in opts:
        pattern = opts["date_format"]
        if vt != "date":
            raise _Invalid(_fmt(_E_DATE_FORMAT_TYPE, vtype=_TYPE_NAMES[vt]))
        if t not in _COMPATIBLE["formatted"]:
            raise _Invalid(_fmt(_E_DATE_FORMAT_TARGET, system=itype.name, ttype=_TYPE_NAMES[t]))
        if not _valid_strftime(pattern):
            raise _Invalid(_fmt(_E_DATE_FORMAT_BAD, option=_show(pattern)))
        steps.append(lambda value: value.strftime(pattern))
        vt = "formatted"
    if "sign" in opts:
        sign = opts["sign"].lower()
        if sign not in ("negate", "keep"):
            raise _Invalid(_fmt(_E_SIGN_BAD, option=_show(opts["sign"])))
        if vt not in ("decimal", "integer"):
            raise _Invalid(_fmt(_E_SIGN_TYPE, vtype=_TYPE_NAMES[vt]))
        if sign == "negate":
            steps.append(_negate)
    if "round" in opts:
        if not re.fullmatch(r"[0-6]", opts["round"]):
            raise _Invalid(_fmt(_E_ROUND_BAD, option=_show(opts["round"])))
        if vt != "decimal":
            raise _Invalid(_fmt(_E_ROUND_TYPE, vtype=_TYPE_NAMES[vt]))
        steps.append(_rounder(int(opts["round"])))
    if vt != t and t not in _COMPATIBLE[vt]:
        raise _Invalid(
            _fmt(
                _E_TYPE,
                source=label or Text("verdien", "the value"),
                vtype=_TYPE_NAMES[vt],
                ttype=_TYPE_NAMES[t],
                system=itype.name,
            )
        )
    convert = _conversion(itype, vt, t)
    if convert is not None:
        steps.append(convert)
    steps.extend(_length_steps(itype, tf, opts))
    return steps


def _conversion(itype: IntegrationType, vt: str, t: str) -> Callable[[Any], Any] | None:
    if vt == "date" and t == "text":
        return dt.date.isoformat
    if vt == "decimal" and t == "text":
        return _decimal_text
    if vt == "integer":
        return {"decimal": Decimal, "text": str}.get(t)
    if vt == "code" and t == "integer":

        def to_int(value: str) -> int:
            if not re.fullmatch(r"[-+]?[0-9]{1,18}", value):
                raise _Fail(_fmt(_F_NOT_INTEGER, value=_show(value), system=itype.name))
            return int(value)

        return to_int
    return None


def _length_steps(
    itype: IntegrationType, tf: TargetField, opts: dict[str, str]
) -> list[Callable[[str], str]]:
    cut_to, limit = _length_rule(itype, tf, opts)
    if cut_to:
        return [_truncator(cut_to)]
    if limit:
        return [_length_check(itype, limit)]
    return []


def _length_rule(
    itype: IntegrationType, tf: TargetField, opts: dict[str, str]
) -> tuple[int | None, int | None]:
    """(length to cut text to, or None; longest value allowed, or None) for the target."""
    t, limit = tf.data_type, tf.max_length
    option = opts.get("truncate")
    if t not in ("text", "code"):
        if option is not None:
            raise _Invalid(_fmt(_E_TRUNCATE_TYPE, system=itype.name, ttype=_TYPE_NAMES[t]))
        return None, None
    # Text is cut to fit by default; a code is never cut unless asked, since a shorter
    # code names something else.
    cut_to = limit if t == "text" else None
    if option is not None:
        lowered = option.lower()
        if lowered in ("on", "off"):
            cut_to = limit if lowered == "on" else None
        elif re.fullmatch(r"[0-9]{1,6}", option) and 0 < int(option) <= (limit or 999_999):
            cut_to = int(option)
        else:
            raise _Invalid(_fmt(_E_TRUNCATE_BAD, max=limit or 999_999, option=_show(option)))
    return cut_to, limit


def _truncator(length: int) -> Callable[[str], str]:
    def truncate(value: str) -> str:
        return value if len(value) <= length else value[:length].rstrip()

    return truncate


def _length_check(itype: IntegrationType, limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise _Fail(
                _fmt(
                    _F_TOO_LONG,
                    value=_show(value),
                    length=len(value),
                    max=limit,
                    system=itype.name,
                )
            )
        return value

    return check


def _negate(value: Any) -> Any:
    # 0 - x rather than -x: never a negative zero.
    return 0 - value


def _rounder(places: int) -> Callable[[Decimal], Decimal]:
    quantum = Decimal(1).scaleb(-places)

    def round_(value: Decimal) -> Decimal:
        rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
        return rounded if rounded else rounded.copy_abs()

    return round_


def _default(itype: IntegrationType, tf: TargetField, opts: dict[str, str]) -> object:
    """The "default when empty" value, final (after the date format), or None."""
    if "default" not in opts:
        return None
    value = _parse_constant(itype, tf, opts["default"], _fmt(_W_DEFAULT))
    if "date_format" in opts and isinstance(value, dt.date):
        return value.strftime(opts["date_format"])
    return value


def _valid_strftime(pattern: str) -> bool:
    """A pattern of date directives only (%Y, %m, %d …), at least one, none unknown."""
    found = False
    for match in _STRFTIME_RE.finditer(pattern):
        flag, directive = match.groups()
        if directive == "%" and not flag:
            continue
        if directive not in _DATE_DIRECTIVES:
            return False
        found = True
    return found


def _parse_constant(itype: IntegrationType, tf: TargetField, raw: object, what: Text) -> object:
    """A value typed by the coordinator, checked and converted for the target field."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        raise _Invalid(_fmt(_E_CONST_EMPTY, what=what))
    t = tf.data_type
    if t == "decimal":
        return _parse_decimal(text, what)
    if t == "date":
        return _parse_date(text, what)
    if t == "integer":
        if not re.fullmatch(r"[-+]?[0-9]{1,18}", text):
            raise _Invalid(_fmt(_E_NOT_INTEGER, what=what, value=_show(text)))
        return int(text)
    if t == "code" and not _CODE_RE.fullmatch(text):
        raise _Invalid(_fmt(_E_NOT_CODE, what=what, value=_show(text), system=itype.name))
    if tf.max_length and len(text) > tf.max_length:
        raise _Invalid(
            _fmt(
                _E_CONST_TOO_LONG,
                what=what,
                value=_show(text),
                length=len(text),
                max=tf.max_length,
                system=itype.name,
            )
        )
    return text


def _parse_decimal(text: str, what: Text) -> Decimal:
    """A number as a Norwegian or English user types it: 1 250,50 or 1250.50."""
    compact = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"[-+]?[0-9]+(\.[0-9]+)?", compact):
        raise _Invalid(_fmt(_E_NOT_NUMBER, what=what, value=_show(text)))
    number = Decimal(compact)
    if abs(number) >= MAX_AMOUNT:
        raise _Invalid(_fmt(_E_TOO_BIG, what=what, value=_show(text)))
    return number


def _parse_date(text: str, what: Text) -> dt.date:
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return dt.date.fromisoformat(text)
        if re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}", text):
            return dt.datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        pass
    raise _Invalid(_fmt(_E_NOT_DATE, what=what, value=_show(text)))


# ---------------------------------------------------------------------------------------------
# Reading claim values


def _as_str(value: object) -> str | None:
    if type(value) is not str:
        if value is None:
            return None
        value = str(value)
    return value.strip() or None


def _as_decimal(value: object, label: Text) -> Decimal | None:
    """A claim amount as Decimal rounded to øre; None when empty; _Fail when not a number."""
    if type(value) is Decimal and value.is_finite() and value.adjusted() < _MAX_DIGITS:
        rounded = value.quantize(OERE, rounding=ROUND_HALF_UP)
        return rounded if rounded else _ZERO_OERE
    if value is None or (type(value) is str and not value.strip()):
        return None
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise _Fail(_fmt(_F_NOT_NUMBER, value=_show(value), source=label))
    if abs(number) >= MAX_AMOUNT:
        raise _Fail(_fmt(_F_TOO_BIG, value=_show(value), source=label))
    rounded = number.quantize(OERE, rounding=ROUND_HALF_UP)
    return rounded if rounded else _ZERO_OERE


def _as_date(value: object, tz: dt.tzinfo, label: Text) -> dt.date | None:
    """A calendar date; an instant becomes its date in `tz` (naive instants are UTC)."""
    try:
        if type(value) is dt.date:
            return value
        if type(value) is dt.datetime and value.tzinfo is not None:
            return value.astimezone(tz).date()
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            value = dt.datetime.fromisoformat(text)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.astimezone(tz).date()
        if isinstance(value, dt.date):
            return value
    except (ValueError, OverflowError):
        pass
    raise _Fail(_fmt(_F_NOT_DATE, value=_show(value), source=label))


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


_ZERO_OERE = Decimal("0.00")
_KEY_NORMALISERS: dict[str, Callable[[Any], str]] = {
    "text": str.casefold,
    "code": str.casefold,
    "date": dt.date.isoformat,
    "decimal": _decimal_text,
}
