"""The edit form of one row as a Draft: parsed and checked field by field; lookup keys checked
against the keys that waiting claims really use.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext
from peewee import fn

from adapters.errors import AdapterError
from adapters.types import IntegrationType, TargetField, Text
from webapp import mapping as resolver
from webapp.mapping import CATALOGUE, MappingRow
from webapp.models import (
    ExpenseClaim,
    ExpenseClaimLine,
    ExportItem,
    Integration,
)
from webapp.services.mappings.rows import (
    CODE_WHAT,
    KEY_SAMPLE,
    KINDS,
    MAX_ENTRIES,
    NONE,
    TRANSFORMS_FOR,
    cached_references,
    reference_kinds,
    refresh_references,
    remember_unreachable,
    skipped_references,
    stored_rows,
    target_field,
)
from webapp.services.mappings.times import _t

log = logging.getLogger("ledgerlink.mappings")

# ---------------------------------------------------------------------------------------------
# The edit form


@dataclass
class Draft:
    """The edit form of one row: what was typed, and what is wrong with it."""

    target: str
    kind: str
    version: int
    field: str = ""
    constant: str = ""
    template: str = ""
    lookup_field: str = ""
    entries: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    lookup_default: str = ""
    transforms: dict[str, str] = dataclasses.field(default_factory=dict)
    new_key: str = ""
    new_value: str = ""
    # Input name → message; `row_error` for what belongs to the row as a whole.
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    row_error: str | None = None
    conflict: str | None = None

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.row_error or self.conflict)

    def row(self) -> MappingRow | None:
        """The row this draft describes (None for "no source")."""
        if self.kind == NONE:
            return None
        value = {
            "field": self.field,
            "constant": self.constant,
            "template": self.template,
            "lookup": self.lookup_field,
        }.get(self.kind, "")
        entries = self.entries if self.kind == "lookup" else []
        if self.kind == "lookup" and (self.new_key.strip() or self.new_value.strip()):
            entries = [*entries, (self.new_key.strip(), self.new_value.strip())]
        return MappingRow(
            target=self.target,
            kind=self.kind,
            value=value.strip() if self.kind != "template" else value,
            lookup=tuple(entries),
            lookup_default=(self.lookup_default.strip() or None) if self.kind == "lookup" else None,
            transforms={k: v for k, v in self.transforms.items() if v.strip()},
        )


def draft_for(
    integration: Integration, itype: IntegrationType, target: str, kind: str | None = None
) -> Draft:
    """The edit form filled from the stored row; `kind` switches the source type."""
    row = stored_rows(integration).get(target)
    tf = target_field(itype, target)
    draft = Draft(target, row.kind if row else NONE, integration.version)
    if row is not None:
        draft.transforms = dict(row.transforms)
        if row.kind == "lookup":
            draft.lookup_field = row.value
            draft.entries = [(str(k), str(v)) for k, v in row.lookup]
            draft.lookup_default = row.lookup_default or ""
        elif row.kind in ("field", "constant", "template"):
            setattr(draft, row.kind, row.value)
    if kind in KINDS and kind != draft.kind:
        draft.kind = kind
        if kind == "lookup" and not draft.lookup_field:
            draft.lookup_field = "line.expense_type" if _on_lines(tf) else "claim.department"
        if kind == "field" and not draft.field:
            draft.field = next((name for name, _label in field_choices(tf)), "")
    allowed = transforms_for(tf, draft.kind)
    draft.transforms = {k: v for k, v in draft.transforms.items() if k in allowed}
    return draft


def _on_lines(tf: TargetField | None) -> bool:
    return tf is None or tf.role == "line"


def field_choices(tf: TargetField | None) -> list[tuple[str, Text]]:
    """App fields that can fill the target: line fields only on expense lines."""
    return [
        (name, label)
        for name, (_dtype, label) in CATALOGUE.items()
        if _on_lines(tf) or name.startswith("claim.")
    ]


def transforms_for(tf: TargetField | None, kind: str) -> tuple[str, ...]:
    names = TRANSFORMS_FOR.get(tf.data_type if tf else "text", ())
    if kind == "constant":
        # A constant is never empty and is typed as the target wants it already.
        names = tuple(n for n in names if n in ("truncate",))
    if kind != "field":
        names = tuple(n for n in names if n != "date_format")
    if kind == "lookup":
        # The table's own "any other value" is the default a coordinator looks for.
        names = tuple(n for n in names if n != "default")
    return names if kind != NONE else ()


def parse_form(itype: IntegrationType, target: str, form: Mapping[str, str]) -> Draft:
    """The edit form as submitted (a werkzeug MultiDict or any mapping of strings)."""
    tf = target_field(itype, target)
    kind = form.get("kind", "")
    try:
        version = int(form.get("version", ""))
    except ValueError:
        version = -1
    draft = Draft(target, kind, version)
    if kind not in KINDS:
        draft.kind = NONE
        draft.errors["kind"] = _("Choose where the value comes from.")
    draft.field = form.get("field", "")
    draft.constant = form.get("constant", "")
    draft.template = form.get("template", "")
    draft.lookup_field = form.get("lookup_field", "")
    draft.lookup_default = form.get("lookup_default", "")
    draft.new_key = form.get("new_key", "")
    draft.new_value = form.get("new_value", "")
    try:
        count = min(int(form.get("entry_count", "0")), MAX_ENTRIES)
    except ValueError:
        count = 0
    for i in range(max(count, 0)):
        key = form.get(f"entry-{i}-key", "").strip()
        value = form.get(f"entry-{i}-value", "").strip()
        if form.get(f"entry-{i}-remove") or not (key or value):
            continue
        draft.entries.append((key, value))
    for name in transforms_for(tf, draft.kind):
        option = form.get(f"t_{name}", "").strip()
        if option:
            draft.transforms[name] = option
    return draft


def check_draft(
    integration: Integration, itype: IntegrationType, draft: Draft
) -> MappingRow | None:
    """Fill `draft.errors`/`row_error`; the row to save (None = no source) if it is valid."""
    tf = target_field(itype, draft.target)
    if tf is None:
        draft.row_error = _("This field no longer exists in %(system)s.", system=_t(itype.name))
        return None
    if draft.errors:
        return None
    if draft.kind == NONE:
        if tf.required:
            draft.errors["kind"] = _(
                "%(label)s is required by %(system)s, so it needs a source. Choose a field, a "
                "constant, a lookup table or a template.",
                label=_t(tf.label),
                system=_t(itype.name),
            )
        return None
    if draft.kind == "lookup":
        _check_entries(itype, draft)
    row = draft.row()
    if draft.errors or row is None:
        return row
    problem = resolver.validate_row(itype, row)
    if problem is not None:
        draft.errors[_input_for(draft)] = _t(problem)
        return row
    if draft.kind == "lookup" and row.lookup_default is None:
        unmatched = unmatched_keys(integration, row)
        if unmatched:
            draft.errors["lookup_default"] = _unmatched_message(row, unmatched)
    _check_codes(integration, itype, tf, draft, row)
    return row


def _check_codes(
    integration: Integration, itype: IntegrationType, tf: TargetField, draft: Draft, row: MappingRow
) -> None:
    """Codes typed for a field that names reference data must exist in the system.

    Checked against the codes fetched from the system (fetched now if they never were);
    when the system's list cannot be read, the editor's reference check says so instead.
    """
    kind = tf.reference
    if kind is None or kind not in reference_kinds(itype):
        return
    caches = cached_references(integration)
    if kind not in caches and kind not in skipped_references(integration):
        try:
            refresh_references(integration)
        except AdapterError as error:
            # Remembered, so that the next saves do not wait for the system again; the
            # reference check says why and its button tries again.
            remember_unreachable(integration, itype, error)
            return
        except Exception as error:  # not connected, unreadable vault …
            log.info("codes for %s not checked: %s", draft.target, type(error).__name__)
            return
        caches = cached_references(integration)
    if kind not in caches:
        return  # the system would not list them (or could not be reached): the check says so
    known = [str(item[0]) for item in caches[kind].items or [] if item]
    known_set = set(known)

    def check(value: str, name: str) -> None:
        if value and value not in known_set and name not in draft.errors:
            draft.errors[name] = _unknown_code(value, kind, known, itype)

    if draft.kind == "constant":
        check(row.value, "constant")
    elif draft.kind == "lookup":
        for i, (_key, value) in enumerate(draft.entries):
            check(value, f"entry-{i}-value")
        check(draft.new_value.strip(), "new-value")
        check(row.lookup_default or "", "lookup_default")
    if draft.kind == "field":
        check(row.transforms.get("default", ""), "t_default")


def _unknown_code(code: str, kind: str, known: list[str], itype: IntegrationType) -> str:
    system = _t(itype.name)
    what = CODE_WHAT.get(kind, CODE_WHAT["dimension"])()
    closest = resolver.closest_codes(code, known)
    near = (
        _("Closest codes there: %(codes)s.", codes=", ".join(closest))
        if closest
        else _("No similar code was found there.")
    )
    return " ".join(
        [
            f"{code} " + _("is not %(what)s in %(system)s.", what=what, system=system),
            near,
            _(
                "Choose a code that exists there, or fetch the codes again under “Check "
                "against %(system)s” if it was created just now.",
                system=system,
            ),
        ]
    )


def _input_for(draft: Draft) -> str:
    """The input a row-level problem is shown at."""
    return {"field": "field", "constant": "constant", "template": "template"}.get(
        draft.kind, "lookup_field"
    )


def _check_entries(itype: IntegrationType, draft: Draft) -> None:
    """Each lookup entry on its own: key filled in, not twice, value valid for the target."""
    seen: dict[str, int] = {}
    pairs = list(draft.entries)
    new = (draft.new_key.strip(), draft.new_value.strip())
    if any(new):
        pairs.append(new)
    for i, (key, value) in enumerate(pairs):
        name = "new" if i == len(draft.entries) else f"entry-{i}"
        if not key:
            draft.errors[f"{name}-key"] = _(
                "Fill in the key (for example an expense type such as mileage), or leave both "
                "boxes empty."
            )
        elif key.casefold() in seen:
            draft.errors[f"{name}-key"] = (
                _(
                    "“%(key)s” is already in the table. Change its value there instead.",
                    key=key,
                )
                if name == "new"
                else _("“%(key)s” is in the table twice. Keep one of them.", key=key)
            )
        else:
            seen[key.casefold()] = i
        if not value:
            draft.errors[f"{name}-value"] = _("Fill in the value for “%(key)s”.", key=key or "…")
            continue
        problem = resolver.validate_row(itype, MappingRow(draft.target, "constant", value))
        if problem is not None:
            draft.errors[f"{name}-value"] = _t(problem)
    if draft.lookup_default.strip():
        default_row = MappingRow(draft.target, "constant", draft.lookup_default.strip())
        problem = resolver.validate_row(itype, default_row)
        if problem is not None:
            draft.errors["lookup_default"] = _t(problem)


def unmatched_keys(integration: Integration, row: MappingRow) -> list[str]:
    """Keys of approved, not yet exported claims that the lookup table does not have."""
    name = row.value
    if name not in CATALOGUE or CATALOGUE[name][0] not in ("text", "code"):
        return []
    keys = {str(k).strip().casefold() for k, _v in row.lookup}
    return [value for value in key_values(integration, name) if value.casefold() not in keys]


def key_values(integration: Integration, name: str) -> list[str]:
    """The distinct values of an app field on approved claims still waiting for export."""
    scope, attr = name.split(".", 1)
    claims = (
        ExpenseClaim.select(ExpenseClaim.id)
        .where(
            (ExpenseClaim.organization == integration.organization_id)
            & (ExpenseClaim.status == "approved")
            & ~fn.EXISTS(_exported(integration))
        )
        .order_by(ExpenseClaim.approved_at.desc(nulls="LAST"))
        .limit(KEY_SAMPLE)
    )
    if scope == "claim":
        column = getattr(ExpenseClaim, attr)
        query = ExpenseClaim.select(column.alias("v")).where(ExpenseClaim.id.in_(claims))
    else:
        column = getattr(ExpenseClaimLine, attr)
        if name in ("line.department", "line.project"):
            # As the resolver reads them: the line's own value, else the claim's.
            column = fn.COALESCE(fn.NULLIF(column, ""), getattr(ExpenseClaim, attr))
        query = (
            ExpenseClaimLine.select(column.alias("v"))
            .join(ExpenseClaim)
            .where(ExpenseClaimLine.claim.in_(claims))
        )
    values = {str(v).strip() for (v,) in query.distinct().tuples() if v and str(v).strip()}
    return sorted(values, key=str.casefold)


def _exported(integration: Integration):
    """Correlated subquery: this claim's export to this integration went through."""
    return ExportItem.select(ExportItem.id).where(
        (ExportItem.integration == integration)
        & (ExportItem.claim == ExpenseClaim.id)
        & (ExportItem.status == "exported")
    )


def _unmatched_message(row: MappingRow, unmatched: list[str]) -> str:
    label = _t(CATALOGUE[row.value][1])
    shown = ", ".join(f"“{key}”" for key in unmatched[:5])
    if len(unmatched) > 5:
        shown += " …"
    return ngettext(
        "%(keys)s (%(field)s on an approved claim waiting for export) is not in the lookup "
        "table, and the table has no default. Add it to the table, or give the table a default.",
        "%(keys)s (%(field)s on approved claims waiting for export) are not in the lookup table, "
        "and the table has no default. Add them to the table, or give the table a default.",
        len(unmatched),
        keys=shown,
        field=label,
    )
