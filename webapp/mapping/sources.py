"""The four kinds of source a row reads from: an app field, a constant, a lookup table, a text
template.
"""

from __future__ import annotations

import datetime as dt
import operator
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from typing import Any

from adapters.types import IntegrationType, TargetField, Text
from webapp.mapping.messages import (
    _E_CONST_EMPTY,
    _E_LOOKUP_DUP,
    _E_LOOKUP_EMPTY,
    _E_LOOKUP_NO_FIELD,
    _E_LOOKUP_NO_KEY,
    _E_LOOKUP_SHAPE,
    _E_NO_FIELD,
    _E_TEMPLATE_BLANK,
    _E_TEMPLATE_CONVERSION,
    _E_TEMPLATE_EMPTY,
    _E_TEMPLATE_FIELD,
    _E_TEMPLATE_SPEC,
    _E_TEMPLATE_SYNTAX,
    _E_TEMPLATE_TARGET,
    _E_UNKNOWN_FIELD,
    _F_REQUIRED_EMPTY,
    _F_REQUIRED_TEMPLATE,
    _F_UNMATCHED,
    _W_LOOKUP_DEFAULT,
    _W_LOOKUP_ROW,
    _fmt,
    _show,
)
from webapp.mapping.spec import (
    _INHERITED,
    _SAMPLES,
    _TYPE_NAMES,
    CATALOGUE,
    OERE,
    Getter,
    MappingRow,
    _Fail,
    _Invalid,
)
from webapp.mapping.transforms import (
    _KEY_NORMALISERS,
    _as_date,
    _as_decimal,
    _as_str,
    _decimal_text,
    _default,
    _length_check,
    _length_rule,
    _parse_constant,
    _parse_date,
    _parse_decimal,
    _steps,
    _valid_strftime,
)

# ---------------------------------------------------------------------------------------------
# Compiling one row


@dataclass(frozen=True)
class _Source:
    # Gives the final target value, or None when empty; raises _Fail for bad claim data.
    get: Getter
    needs_line: bool
    label: Text | None
    empty: Text


def _chain(get: Getter, steps: tuple[Callable[[Any], Any], ...], default: object) -> Getter:
    """One closure: source value → transforms → target type; `default` when empty."""
    if not steps:
        if default is None:
            return get

        def with_default(c: Any, ln: Any, tz: dt.tzinfo) -> Any:
            value = get(c, ln, tz)
            return default if value is None else value

        return with_default

    def chained(c: Any, ln: Any, tz: dt.tzinfo) -> Any:
        value = get(c, ln, tz)
        if value is None:
            return default
        for step in steps:
            value = step(value)
        return value

    return chained


# ---------------------------------------------------------------------------------------------
# Sources


def _field_source(
    itype: IntegrationType, tf: TargetField, raw: object, opts: dict[str, str]
) -> _Source:
    name = str(raw or "").strip()
    if not name:
        raise _Invalid(_fmt(_E_NO_FIELD))
    if name not in CATALOGUE:
        raise _Invalid(_fmt(_E_UNKNOWN_FIELD, field=_show(name)))
    dtype, label = CATALOGUE[name]
    steps = _steps(itype, tf, opts, dtype, label)
    default = _default(itype, tf, opts)
    if dtype in ("text", "code") and tf.data_type in ("text", "code"):
        # Text to text is the common case: one closure, no steps (see _str_getter).
        get = _str_getter(itype, name, _length_rule(itype, tf, opts), default)
    else:
        get = _chain(_field_getter(name), tuple(steps), default)
    empty = _fmt(_F_REQUIRED_EMPTY, source=label)
    on_line = name.startswith("line.")
    return _Source(get, on_line, label, empty)


def _str_getter(
    itype: IntegrationType, name: str, rule: tuple[int | None, int | None], default: object
) -> Getter:
    """A text or code field, stripped, cut or length-checked, `default` when empty."""
    scope, attr = name.split(".", 1)
    on_line, inherit = scope == "line", name in _INHERITED
    cut_to, limit = rule
    longest = cut_to or limit or sys.maxsize
    too_long = _length_check(itype, limit) if limit else None

    def get(c: Any, ln: Any, tz: dt.tzinfo) -> Any:
        value = getattr(ln if on_line else c, attr, None)
        if type(value) is str:
            value = value.strip()
            if value and len(value) <= longest:
                return value
        else:
            value = "" if value is None else str(value).strip()
        if not value:
            if inherit:
                value = getattr(c, attr, None)
                value = value.strip() if type(value) is str else _as_str(value)
            if not value:
                return default
        if len(value) > longest:
            return value[:cut_to].rstrip() if cut_to or too_long is None else too_long(value)
        return value

    return get


def _field_getter(name: str) -> Getter:
    """A closure reading one catalogue field from (claim, line) as a normalised value."""
    scope, attr = name.split(".", 1)
    dtype, label = CATALOGUE[name]
    if name in _INHERITED:

        def inherited(c: Any, ln: Any, tz: dt.tzinfo) -> str | None:
            return _as_str(getattr(ln, attr, None)) or _as_str(getattr(c, attr, None))

        return inherited
    on_line = scope == "line"
    if dtype == "date":

        def date_of(c: Any, ln: Any, tz: dt.tzinfo) -> dt.date | None:
            value = getattr(ln if on_line else c, attr, None)
            if type(value) is dt.datetime and value.tzinfo is not None:
                try:
                    return value.astimezone(tz).date()
                except (OverflowError, ValueError):
                    pass  # reported by _as_date
            return _as_date(value, tz, label)

        return date_of
    if dtype == "decimal":
        if on_line:
            return lambda c, ln, tz: _as_decimal(getattr(ln, attr, None), label)
        return lambda c, ln, tz: _as_decimal(getattr(c, attr, None), label)
    if on_line:
        return lambda c, ln, tz: _as_str(getattr(ln, attr, None))
    return lambda c, ln, tz: _as_str(getattr(c, attr, None))


def _constant_source(
    itype: IntegrationType, tf: TargetField, raw: object, opts: dict[str, str]
) -> _Source:
    value = _parse_constant(itype, tf, raw, Text("", ""))
    steps = _steps(itype, tf, opts, tf.data_type, None)
    _default(itype, tf, opts)  # validated, though a constant is never empty
    value = _apply(steps, value)
    return _Source(lambda c, ln, tz: value, False, None, _fmt(_E_CONST_EMPTY, what=""))


def _apply(steps: list[Callable[[Any], Any]], value: object) -> object:
    """Transform a value typed into the mapping, once, at compile time."""
    try:
        for step in steps:
            value = step(value)
    except _Fail as fail:
        raise _Invalid(fail.text) from None
    return value


def _lookup_source(
    itype: IntegrationType, tf: TargetField, row: MappingRow, opts: dict[str, str]
) -> _Source:
    name = str(row.value or "").strip()
    if not name:
        raise _Invalid(_fmt(_E_LOOKUP_NO_FIELD))
    if name not in CATALOGUE:
        raise _Invalid(_fmt(_E_UNKNOWN_FIELD, field=_show(name)))
    src_type, src_label = CATALOGUE[name]
    table, fallback = _lookup_table(itype, tf, row, src_type)
    # Table values are constants: transform them now rather than for every line.
    steps = _steps(itype, tf, opts, tf.data_type, None)
    table = {key: _apply(steps, value) for key, value in table.items()}
    has_fallback = fallback is not None
    if has_fallback:
        fallback = _apply(steps, fallback)
    when_empty = fallback if has_fallback else _default(itype, tf, opts)
    normalise = _KEY_NORMALISERS[src_type]
    exact: dict[str, object] = {}
    if src_type in ("text", "code"):
        key_of = _str_getter(itype, name, (None, None), None)
        # Keys exactly as typed into the table, so the usual hit needs no normalising.
        exact = {str(k).strip(): table[str(k).strip().casefold()] for k, _ in row.lookup}
    else:
        key_of = _field_getter(name)
    attr = name.split(".", 1)[1]
    on_line = name.startswith("line.")

    def look_up(c: Any, ln: Any, tz: dt.tzinfo) -> Any:
        raw = getattr(ln if on_line else c, attr, None)
        if type(raw) is str:
            hit = exact.get(raw)
            if hit is not None:
                return hit
        raw = key_of(c, ln, tz)
        if raw is None:
            return when_empty
        hit = table.get(normalise(raw))
        if hit is None:
            if has_fallback:
                return fallback
            raise _Fail(_fmt(_F_UNMATCHED, key=_show(raw), source=src_label))
        return hit

    empty = _fmt(_F_REQUIRED_EMPTY, source=src_label)
    return _Source(look_up, on_line, src_label, empty)


def _lookup_table(
    itype: IntegrationType, tf: TargetField, row: MappingRow, src_type: str
) -> tuple[dict[str, object], object]:
    """Normalised key → parsed value, and the parsed default (None without one)."""
    if not isinstance(row.lookup, tuple | list) or len(_pairs(row.lookup)) != len(row.lookup):
        raise _Invalid(_fmt(_E_LOOKUP_SHAPE))
    table: dict[str, object] = {}
    for key, value in row.lookup:
        where = _fmt(_W_LOOKUP_ROW, key=_show(key))
        normal = _table_key(src_type, key, where)
        if normal in table:
            raise _Invalid(_fmt(_E_LOOKUP_DUP, key=_show(str(key).strip())))
        table[normal] = _parse_constant(itype, tf, value, where)
    fallback = None
    if row.lookup_default is not None and str(row.lookup_default).strip():
        fallback = _parse_constant(itype, tf, row.lookup_default, _fmt(_W_LOOKUP_DEFAULT))
    if not table and fallback is None:
        raise _Invalid(_fmt(_E_LOOKUP_EMPTY))
    return table, fallback


def _pairs(lookup: object) -> list[tuple[str, str]]:
    """The well-formed (key, value) pairs of a lookup table."""
    if not isinstance(lookup, tuple | list):
        return []
    return [(p[0], p[1]) for p in lookup if isinstance(p, tuple | list) and len(p) == 2]


def _table_key(src_type: str, key: object, where: Text) -> str:
    text = str(key if key is not None else "").strip()
    if not text:
        raise _Invalid(_fmt(_E_LOOKUP_NO_KEY))
    if src_type == "date":
        return _parse_date(text, where).isoformat()
    if src_type == "decimal":
        return _decimal_text(_parse_decimal(text, where).quantize(OERE, ROUND_HALF_UP))
    return text.casefold()


def _template_source(
    itype: IntegrationType, tf: TargetField, raw: object, opts: dict[str, str]
) -> _Source:
    if tf.data_type not in ("text", "code"):
        raise _Invalid(_fmt(_E_TEMPLATE_TARGET, system=itype.name, ttype=_TYPE_NAMES[tf.data_type]))
    template = "" if raw is None else str(raw)
    if not template.strip():
        raise _Invalid(_fmt(_E_TEMPLATE_EMPTY))
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise _Invalid(_fmt(_E_TEMPLATE_SYNTAX)) from None
    # Literal text around the fields: literals[i] comes before field i, the last one after.
    literals: list[str] = []
    literal_run = ""
    parts: list[tuple[Getter, Callable[[Any], str]]] = []
    plain: list[str] = []
    needs_line = False
    for literal, name, spec, conversion in parsed:
        literal_run += literal
        if name is None:
            continue
        full = _template_field(name.strip())
        if conversion:
            raise _Invalid(_fmt(_E_TEMPLATE_CONVERSION, conversion=conversion, name=name))
        parts.append(_template_part(full, spec or ""))
        if full.startswith("claim.") and CATALOGUE[full][0] in ("text", "code") and not spec:
            plain.append(full.split(".", 1)[1])
        literals.append(literal_run)
        literal_run = ""
        needs_line = needs_line or full.startswith("line.")
    literals.append(literal_run)
    label = Text("malen", "the template")
    _steps(itype, tf, opts, "text", label)  # validates the transforms
    # Templates of plain claim text fields only (the usual kind) read them all in one go.
    fetch = operator.attrgetter(*plain) if plain and len(plain) == len(parts) else None
    render = _template_getter(
        itype,
        literals,
        tuple(parts),
        fetch,
        _length_rule(itype, tf, opts),
        _default(itype, tf, opts),
    )
    return _Source(render, needs_line, label, _fmt(_F_REQUIRED_TEMPLATE))


def _template_field(name: str) -> str:
    if not name:
        raise _Invalid(_fmt(_E_TEMPLATE_BLANK))
    if name in CATALOGUE:
        return name
    if "." not in name:
        for scope in ("claim", "line"):
            if f"{scope}.{name}" in CATALOGUE:
                return f"{scope}.{name}"
    raise _Invalid(_fmt(_E_TEMPLATE_FIELD, name=_show(name)))


def _template_part(name: str, spec: str) -> tuple[Getter, Callable[[Any], str]]:
    """How one template field is read and written as text (None is written as nothing)."""
    dtype = CATALOGUE[name][0]
    if spec:
        if "{" in spec or "}" in spec:
            valid = False
        elif dtype == "date":
            valid = _valid_strftime(spec)
        else:
            try:
                format(_SAMPLES[dtype], spec)
                valid = True
            except (ValueError, TypeError):
                valid = False
        if not valid:
            raise _Invalid(_fmt(_E_TEMPLATE_SPEC, spec=_show(spec), name=name))
        # Text fields are read as stored, so they may hold anything: format them as text.
        as_text = dtype in ("text", "code")
        convert: Callable[[Any], str] = lambda value: format(  # noqa: E731
            str(value) if as_text else value, spec
        )
    else:
        converters: dict[str, Callable[[Any], str]] = {
            "date": dt.date.isoformat,
            "decimal": _decimal_text,
        }
        convert = converters.get(dtype, str)
    if dtype in ("text", "code") and name not in _INHERITED:
        # Text goes in as stored, as in the one-go path of _template_getter.
        scope, attr = name.split(".", 1)
        on_line = scope == "line"
        return (lambda c, ln, tz: getattr(ln if on_line else c, attr, None)), convert
    return _field_getter(name), convert


def _template_getter(
    itype: IntegrationType,
    literals: list[str],
    parts: tuple[tuple[Getter, Callable[[Any], str]], ...],
    fetch: Callable[[Any], Any] | None,
    rule: tuple[int | None, int | None],
    default: object,
) -> Getter:
    """Render the template, trimmed; then cut or check its length, or give the default."""
    cut_to, limit = rule
    longest = cut_to or limit or sys.maxsize
    too_long = _length_check(itype, limit) if limit else None
    # Literals at even positions, field values to fill in at odd ones.
    pieces = [""] * (2 * len(literals) - 1)
    pieces[::2] = literals
    if len(parts) == 1 and fetch is not None:
        one = fetch
        fetch = lambda c: (one(c),)  # noqa: E731 - attrgetter of one name gives no tuple

    def render_parts(c: Any, ln: Any, tz: dt.tzinfo) -> str:
        filled = pieces.copy()
        for i, (get, convert) in enumerate(parts):
            value = get(c, ln, tz)
            filled[2 * i + 1] = "" if value is None else convert(value)
        return "".join(filled)

    def render(c: Any, ln: Any, tz: dt.tzinfo) -> object:
        if fetch is None:
            text = render_parts(c, ln, tz).strip()
        else:
            filled = pieces.copy()
            try:
                filled[1::2] = fetch(c)
                text = "".join(filled).strip()
            except (AttributeError, TypeError):  # a value missing, None or not text
                text = render_parts(c, ln, tz).strip()
        if not text:
            return default
        if len(text) > longest:
            return text[:cut_to].rstrip() if cut_to or too_long is None else too_long(text)
        return text

    return render
