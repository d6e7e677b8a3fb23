"""Validating a mapping and compiling it once into a MappingPlan: one closure per row,
constants placed once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from adapters.types import IntegrationType, TargetField, Text
from webapp.mapping.messages import (
    _E_AMOUNT,
    _E_DUPLICATE,
    _E_KIND,
    _E_REQUIRED,
    _E_SCOPE,
    _E_TRANSFORM_UNKNOWN,
    _E_TRANSFORMS_SHAPE,
    _E_UNKNOWN_TARGET,
    _fmt,
    _label,
    _prefixed,
    _show,
)
from webapp.mapping.sources import _constant_source, _field_source, _lookup_source, _template_source
from webapp.mapping.spec import (
    _WHERE,
    AMOUNT,
    TRANSFORMS,
    MappingPlan,
    MappingRow,
    _Fail,
    _Invalid,
    _Row,
)

# ---------------------------------------------------------------------------------------------
# Validation


def validate_row(itype: IntegrationType, row: MappingRow) -> Text | None:
    """What is wrong with one row, naming the target field and what to do; None if fine."""
    try:
        _build_row(itype, row)
    except _Invalid as invalid:
        return invalid.text
    return None


def validate_mapping(itype: IntegrationType, rows: Iterable[MappingRow]) -> dict[str, Text]:
    """Target field → what is wrong; empty when the mapping can be saved."""
    return compile_mapping(itype, rows).errors


def compile_mapping(itype: IntegrationType, rows: Iterable[MappingRow]) -> MappingPlan:
    """Validate the rows and compile them into a plan that resolves claims quickly."""
    errors: dict[str, Text] = {}
    built: list[_Row] = []
    seen: set[str] = set()
    for row in rows:
        target = str(row.target)
        if target in seen:
            errors.setdefault(target, _prefixed(_label(itype, target), _fmt(_E_DUPLICATE)))
            continue
        seen.add(target)
        try:
            built.append(_build_row(itype, row))
        except _Invalid as invalid:
            errors[target] = invalid.text
    for tf in itype.target_fields:
        if tf.required and tf.name != AMOUNT and tf.name not in seen:
            errors[tf.name] = _fmt(_E_REQUIRED, label=tf.label, system=itype.name)
    if errors:
        return MappingPlan(itype, errors)
    constants = [r for r in built if r.constant is not None]
    return MappingPlan(
        itype,
        {},
        rows=tuple(built),
        claim_steps=tuple(
            (r.target, r.fn, r, r.role != "balance", r.role != "line")
            for r in built
            if not r.needs_line and r.constant is None
        ),
        fill_line=_line_filler([r for r in built if r.needs_line]),
        debit_start={r.target: r.constant for r in constants if r.role != "balance"},
        balance_start={r.target: r.constant for r in constants if r.role != "line"},
        max_lines=itype.batch_limit - 1,
    )


def _build_row(itype: IntegrationType, row: MappingRow) -> _Row:
    target = str(row.target)
    if target == AMOUNT:
        raise _Invalid(_prefixed(_label(itype, target), _fmt(_E_AMOUNT)))
    tf = next((f for f in itype.target_fields if f.name == target), None)
    if tf is None:
        raise _Invalid(_fmt(_E_UNKNOWN_TARGET, target=_show(target), system=itype.name))
    try:
        return _build_for(itype, tf, row)
    except _Invalid as invalid:
        raise _Invalid(_prefixed(tf.label, invalid.text)) from None


def _build_for(itype: IntegrationType, tf: TargetField, row: MappingRow) -> _Row:
    opts = _options(row.transforms)
    if row.kind == "constant":
        source = _constant_source(itype, tf, row.value, opts)
    elif row.kind == "field":
        source = _field_source(itype, tf, row.value, opts)
    elif row.kind == "lookup":
        source = _lookup_source(itype, tf, row, opts)
    elif row.kind == "template":
        source = _template_source(itype, tf, row.value, opts)
    else:
        raise _Invalid(_fmt(_E_KIND, kind=_show(row.kind)))
    if source.needs_line and tf.role != "line":
        where = _WHERE.get(tf.role, _WHERE["voucher"])
        raise _Invalid(_fmt(_E_SCOPE, source=source.label, where=where))
    constant = source.get(None, None, dt.UTC) if row.kind == "constant" else None
    return _Row(
        tf.name,
        tf.role,
        tf.required,
        tf.label,
        source.get,
        source.needs_line,
        source.empty,
        constant,
    )


def _options(transforms: object) -> dict[str, str]:
    """Transform name → option; an empty option means the transform is not used."""
    if not isinstance(transforms, dict):
        raise _Invalid(_fmt(_E_TRANSFORMS_SHAPE))
    opts = {}
    for name, option in transforms.items():
        if name not in TRANSFORMS:
            raise _Invalid(_fmt(_E_TRANSFORM_UNKNOWN, name=_show(name)))
        option = "" if option is None else str(option).strip()
        if option:
            opts[name] = option
    return opts


# ---------------------------------------------------------------------------------------------
# Filling a debit line: each line-role row's closure in turn


def _line_filler(rows: list[_Row]) -> Callable[..., None]:
    """fill(claim, ln, zone, line, problems, number): set the line's values from `rows`."""
    steps = tuple((row.target, row.fn, row) for row in rows)

    def fill(claim: Any, ln: Any, zone: dt.tzinfo, line: dict, problems: list, number: int):
        for target, fn, row in steps:
            try:
                value = fn(claim, ln, zone)
            except _Fail as fail:
                problems.append((target, row.label, fail.text, number))
                continue
            if value is not None:
                line[target] = value
            elif row.required:
                problems.append((target, row.label, row.empty, number))

    return fill
