"""What a mapping is made of: the app fields it can read (CATALOGUE), the transforms, the rows,
and the claim data the resolver reads.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from adapters.types import DataType, IntegrationType, Text

SourceKind = Literal["field", "constant", "lookup", "template"]
SOURCE_KINDS: tuple[str, ...] = ("field", "constant", "lookup", "template")
# The line key the resolver always sets itself; a mapping may not fill it.
AMOUNT = "amount"
OERE = Decimal("0.01")
DEFAULT_TZ = "Europe/Oslo"
# MoneyField holds 14 digits with 2 decimals; anything larger is junk, not an expense.
MAX_AMOUNT = Decimal("1000000000000")
_MAX_DIGITS = 12  # MAX_AMOUNT's digits before the decimal point
REFERENCE_PREFIX = "LL"
# Business Central's documentNumber is Code[20] (externalDocumentNumber Code[35]).
REFERENCE_MAX_LENGTH = 20

_ZERO = Decimal(0)

# App fields a mapping can read: name → (data type, label). Dates are calendar dates;
# `claim.approved_at` and `claim.submitted_at` are instants turned into the date they fell on
# in the organisation's time zone. A line's department and project fall back to the claim's
# when the line has none, as the expense app shows them.
CATALOGUE: dict[str, tuple[DataType, Text]] = {
    "claim.claim_number": ("text", Text("Reiseregningsnummer", "Claim number")),
    "claim.claimant_name": ("text", Text("Navn på frivillig", "Claimant's name")),
    "claim.claimant_email": ("text", Text("E-post til frivillig", "Claimant's email")),
    "claim.claimant_number": (
        "code",
        Text("Reskontronummer for frivillig", "Claimant's sub-ledger number"),
    ),
    "claim.purpose": ("text", Text("Formål", "Purpose")),
    "claim.department": ("code", Text("Avdeling (reiseregning)", "Department (claim)")),
    "claim.project": ("code", Text("Prosjekt (reiseregning)", "Project (claim)")),
    "claim.approved_at": ("date", Text("Godkjent dato", "Approval date")),
    "claim.submitted_at": ("date", Text("Innsendt dato", "Submission date")),
    "line.date": ("date", Text("Dato for utlegget", "Expense date")),
    "line.expense_type": ("code", Text("Utgiftstype", "Expense type")),
    "line.amount": ("decimal", Text("Beløp", "Amount")),
    "line.km": ("decimal", Text("Kilometer", "Kilometres")),
    "line.description": ("text", Text("Beskrivelse (linje)", "Description (line)")),
    "line.department": (
        "code",
        Text("Avdeling (linje, ellers reiseregningens)", "Department (line, else the claim's)"),
    ),
    "line.project": (
        "code",
        Text("Prosjekt (linje, ellers reiseregningens)", "Project (line, else the claim's)"),
    ),
    "line.vat_code": ("code", Text("Mva-kode", "VAT code")),
}
_INHERITED = frozenset({"line.department", "line.project"})

# Transform name → label. Options are strings, as the editor submits them:
# date_format: a strftime pattern ("%Y-%m-%d", "%d.%m.%Y"); sign: "negate" or "keep";
# round: decimal places 0–6; truncate: "on", "off" or a length (default "on" for text fields
# with a maximum length, "off" for codes); default: the value used when the source is empty.
TRANSFORMS: dict[str, Text] = {
    "date_format": Text("Datoformat", "Date format"),
    "sign": Text("Fortegn", "Sign"),
    "round": Text("Avrunding", "Rounding"),
    "truncate": Text("Avkorting", "Truncation"),
    "default": Text("Standardverdi når tom", "Default when empty"),
}

_TYPE_NAMES: dict[str, Text] = {
    "text": Text("tekst", "text"),
    "code": Text("en kode", "a code"),
    "date": Text("en dato", "a date"),
    "decimal": Text("et tall", "a number"),
    "integer": Text("et heltall", "a whole number"),
    "formatted": Text("en formatert dato (tekst)", "a formatted date (text)"),
}
_WHERE: dict[str, Text] = {
    "balance": Text("motposteringslinjen", "the balancing line"),
    "voucher": Text(
        "alle linjene i bilaget, også motposteringen",
        "every line of the voucher, including the balancing line",
    ),
}
# Which target types a value of each type can fill (after its transforms).
_COMPATIBLE: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "code"}),
    "code": frozenset({"code", "text", "integer"}),
    "date": frozenset({"date", "text"}),
    "decimal": frozenset({"decimal", "text"}),
    "integer": frozenset({"integer", "decimal", "text"}),
    "formatted": frozenset({"date", "text", "code"}),
}
_CODE_RE = re.compile(r"[\w][\w.\-/]*")
_DATE_DIRECTIVES = frozenset("aAbBdjmyYUWGuVwe")
_STRFTIME_RE = re.compile(r"%(-?)(.?)", re.S)
_SAMPLE_DATE = dt.date(2025, 3, 31)
_SAMPLES: dict[str, object] = {
    "text": "Tekst",
    "code": "7140",
    "date": _SAMPLE_DATE,
    "decimal": Decimal("125.50"),
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# Public data


@dataclass(frozen=True)
class MappingRow:
    """How one target field gets its value (a `field_mapping` row, or a type's default)."""

    target: str
    kind: str
    # field/lookup: the app field name; constant: the value; template: the template text.
    value: str = ""
    lookup: tuple[tuple[str, str], ...] = ()
    lookup_default: str | None = None
    transforms: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """A form that is equal exactly when the rows compile alike, for caching plans."""
        transforms: object = self.transforms
        if isinstance(transforms, dict):
            transforms = sorted(transforms.items(), key=repr)
        # repr, not the values: 1, 1.0 and True are equal but are not the same mapping.
        return repr(
            (self.target, self.kind, self.value, self.lookup, self.lookup_default, transforms)
        )

    def model_values(self) -> dict[str, object]:
        """Column values for a `FieldMapping` row (without integration and position)."""
        return {
            "target": self.target,
            "source_kind": self.kind,
            "source_value": self.value,
            "lookup": [[k, v] for k, v in self.lookup] or None,
            "lookup_default": self.lookup_default,
            "transforms": dict(self.transforms) or None,
        }


@dataclass(frozen=True, slots=True)
class LineData:
    """One claim line as plain data (amount and km in NOK as `Decimal`)."""

    id: int | None = None
    date: dt.date | None = None
    expense_type: str = ""
    amount: Decimal | None = None
    km: Decimal | None = None
    description: str = ""
    department: str = ""
    project: str = ""
    vat_code: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class ClaimData:
    """One approved expense claim as plain data; `approved_at`/`submitted_at` are aware."""

    id: int
    claim_number: str = ""
    claimant_name: str = ""
    claimant_email: str = ""
    claimant_number: str = ""
    purpose: str = ""
    department: str = ""
    project: str = ""
    approved_at: dt.datetime | None = None
    submitted_at: dt.datetime | None = None
    lines: tuple[LineData, ...] = ()

    @classmethod
    def from_model(cls, claim: Any, lines: Iterable[Any] | None = None) -> ClaimData:
        """Copy a Peewee `ExpenseClaim` and its lines (`lines`: read already; otherwise one
        query for them)."""
        lines = sorted(claim.lines if lines is None else lines, key=lambda ln: (ln.position, ln.id))
        return cls(
            id=claim.id,
            claim_number=claim.claim_number,
            claimant_name=claim.claimant_name,
            claimant_email=claim.claimant_email,
            claimant_number=claim.claimant_number,
            purpose=claim.purpose,
            department=claim.department,
            project=claim.project,
            approved_at=claim.approved_at,
            submitted_at=claim.submitted_at,
            lines=tuple(
                LineData(
                    id=ln.id,
                    date=ln.date,
                    expense_type=ln.expense_type,
                    amount=ln.amount,
                    km=ln.km,
                    description=ln.description,
                    department=ln.department,
                    project=ln.project,
                    vat_code=ln.vat_code,
                    position=ln.position,
                )
                for ln in lines
            ),
        )


@dataclass(frozen=True)
class ClaimError:
    """Why one claim produced no voucher. `target` is None for claim-wide problems."""

    # The claim's id as given (an int for any claim read from the database).
    claim_id: Any
    claim_number: str
    target: str | None
    message: Text
    # 1-based claim line number when the problem is on one line.
    line: int | None = None


Getter = Callable[[Any, Any, dt.tzinfo], Any]
# (target, label, detail, claim line number): one problem found while resolving a claim.
_Problem = tuple[str | None, Text | None, Text, int | None]


@dataclass(frozen=True)
class _Row:
    target: str
    role: str
    required: bool
    label: Text
    fn: Getter
    needs_line: bool
    # The reason a required field came out empty.
    empty: Text
    # The value of a constant row (the same for every claim), else None.
    constant: object = None


@dataclass(frozen=True)
class MappingPlan:
    """A mapping validated and compiled for one integration type; reuse it across claims."""

    itype: IntegrationType
    errors: dict[str, Text]
    rows: tuple[_Row, ...] = ()
    # For the resolver's loops, rows whose value is the same for the whole claim:
    # (target, fn, row, goes on debit lines, goes on the balancing line).
    claim_steps: tuple[tuple[str, Getter, _Row, bool, bool], ...] = ()
    # Constants, placed once: what every debit line and the balancing line start from.
    debit_start: dict[str, object] = field(default_factory=dict)
    balance_start: dict[str, object] = field(default_factory=dict)
    # Claims with more lines than this do not fit in one export call with their balancing line.
    max_lines: int = 0
    # Fills a debit line from the line-role rows that read the claim line (_line_filler).
    fill_line: Callable[..., None] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    """A mapping row that cannot be saved."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


class _Fail(Exception):
    """A claim value that cannot be resolved."""

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


# ---------------------------------------------------------------------------------------------
# Building rows


def rows_from_defaults(itype: IntegrationType) -> list[MappingRow]:
    """The type's default mapping template as editable rows."""
    return [
        MappingRow(
            target=d.target,
            kind=d.kind,
            value=d.value,
            lookup=tuple(d.lookup),
            lookup_default=d.lookup_default,
            transforms=dict(d.transforms),
        )
        for d in itype.default_mapping
    ]


def rows_from_models(field_mappings: Iterable[Any]) -> list[MappingRow]:
    """Rows from stored `FieldMapping` models (or anything with the same attributes)."""
    ordered = sorted(field_mappings, key=lambda m: (m.position or 0, m.id or 0))
    rows = []
    for m in ordered:
        lookup = m.lookup if isinstance(m.lookup, list) else []
        transforms = m.transforms if isinstance(m.transforms, dict) else {}
        rows.append(
            MappingRow(
                target=m.target,
                kind=m.source_kind,
                value=m.source_value or "",
                lookup=tuple(
                    (str(pair[0]), str(pair[1]))
                    for pair in lookup
                    if isinstance(pair, list | tuple) and len(pair) == 2
                ),
                lookup_default=m.lookup_default,
                transforms={str(k): "" if v is None else str(v) for k, v in transforms.items()},
            )
        )
    return rows
