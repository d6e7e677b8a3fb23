"""Field mapping resolver: one approved expense claim becomes one balanced voucher.

Pure functions, no I/O. A mapping is a list of `MappingRow`s, one per target field of an
`IntegrationType`. Each row names a source (an app field from `CATALOGUE`, a constant, a
lookup table keyed by an app field, or a text template) and optional transforms
(`TRANSFORMS`). The resolver turns a claim into a `Voucher`:

- one debit line per claim line: every `line`-role and `voucher`-role target field, plus
  `amount` = the line's amount rounded to øre (0.01, ROUND_HALF_UP);
- one balancing credit line, last: every `balance`-role and `voucher`-role target field, plus
  `amount` = −(sum of the rounded debit amounts), so every voucher sums to exactly zero and
  rounding never creates or loses an øre across a claim;
- `Voucher.number` is the claim id (an integer, usable as Xledger's `trRegNumber`), and
  `Voucher.reference` is `reference_for(integration_id, claim_id)`, the idempotency key.

Line values are `str` for text and codes, `Decimal` for numbers (never float), `int` for
integers and `datetime.date` for dates, or `str` when a `date_format` transform gives the
provider's own format. A non-required field whose source is empty is left out of the line.

Problems with a mapping are `Text` messages (Bokmål and English) from `validate_row` and
`validate_mapping`; problems with a claim are `ClaimError`s returned as data, so one bad
claim never stops a batch, and a claim with any error produces no voucher.

For speed, `compile_mapping` validates and compiles the rows once into a `MappingPlan`: one
closure per row, and the constants placed once. `resolve_claims` compiles
once per batch; `resolve_claim` accepts a plan, or caches the plan of the rows it is given.
"""

from __future__ import annotations

import datetime as dt
import difflib
import operator
import re
import string
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from adapters.types import DataType, IntegrationType, ReferenceKind, TargetField, Text, Voucher

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

# fmt: off
# Messages. Validation messages are prefixed with the target field's label; claim messages
# with "Expense claim N, line M – Label:". Braces are doubled for Text.format.
_E_UNKNOWN_TARGET = Text(
    "«{target}» er ikke et felt i {system}. Fjern raden, eller velg et av feltene {system} har.",
    "“{target}” is not a field in {system}. Remove the row, or choose one of {system}'s fields.")
_E_AMOUNT = Text(
    "Beløpet regnes ut fra linjene på reiseregningen og kan ikke kobles. Fjern raden.",
    "The amount is calculated from the claim's lines and cannot be mapped. Remove the row.")
_E_DUPLICATE = Text(
    "Feltet er koblet mer enn én gang. Behold én rad og fjern de andre.",
    "This field is mapped more than once. Keep one row and remove the others.")
_E_REQUIRED = Text(
    "{label} er påkrevd i {system}, men har ingen kilde. Velg et felt, en fast verdi, en "
    "oppslagstabell eller en mal. Feltkoblingen kan ikke lagres før dette er gjort.",
    "{label} is required by {system} but has no source. Choose a field, a constant, a lookup "
    "table or a template. The mapping cannot be saved until this is done.")
_E_KIND = Text(
    "Ukjent kildetype «{kind}». Velg felt, fast verdi, oppslagstabell eller mal.",
    "Unknown source type “{kind}”. Choose field, constant, lookup table or template.")
_E_NO_FIELD = Text(
    "Ingen kilde er valgt. Velg hvilket felt fra reiseregningen som skal brukes.",
    "No source is chosen. Choose which field of the expense claim to use.")
_E_UNKNOWN_FIELD = Text(
    "Kildefeltet «{field}» finnes ikke. Velg et felt fra listen over felt på reiseregningen.",
    "The source field “{field}” does not exist. Choose a field from the list of expense claim "
    "fields.")
_E_TYPE = Text(
    "«{source}» er {vtype}, men {system} venter {ttype} her. Velg et annet felt, eller bruk en "
    "fast verdi.",
    "“{source}” is {vtype}, but {system} expects {ttype} here. Choose another field, or use a "
    "constant.")
_E_SCOPE = Text(
    "«{source}» hører til hver utgiftslinje, men dette feltet står på {where}. Velg et felt "
    "fra selve reiseregningen, eller en fast verdi.",
    "“{source}” belongs to each expense line, but this field is on {where}. Choose a field of "
    "the claim itself, or a constant.")
_E_CONST_EMPTY = Text(
    "{what}Verdien er tom. Skriv inn en verdi, eller fjern raden.",
    "{what}The value is empty. Enter a value, or remove the row.")
_E_NOT_NUMBER = Text(
    "{what}«{value}» er ikke et tall. Skriv et tall som 125,50.",
    "{what}“{value}” is not a number. Enter a number such as 125.50.")
_E_TOO_BIG = Text(
    "{what}«{value}» er for stort. Skriv et tall under 1 000 000 000 000.",
    "{what}“{value}” is too large. Enter a number below 1,000,000,000,000.")
_E_NOT_INTEGER = Text(
    "{what}«{value}» er ikke et heltall. Skriv bare sifre, for eksempel 1500.",
    "{what}“{value}” is not a whole number. Enter digits only, for example 1500.")
_E_NOT_DATE = Text(
    "{what}«{value}» er ikke en dato. Skriv datoen som ÅÅÅÅ-MM-DD eller DD.MM.ÅÅÅÅ, for "
    "eksempel 2025-03-31.",
    "{what}“{value}” is not a date. Write the date as YYYY-MM-DD or DD.MM.YYYY, for example "
    "2025-03-31.")
_E_NOT_CODE = Text(
    "{what}«{value}» er ikke en gyldig kode. En kode har bare bokstaver, sifre og tegnene "
    ". - _ / uten mellomrom. Skriv koden slik den står i {system}, for eksempel 6860.",
    "{what}“{value}” is not a valid code. A code has only letters, digits and the characters "
    ". - _ / without spaces. Enter the code as it appears in {system}, for example 6860.")
_E_CONST_TOO_LONG = Text(
    "{what}«{value}» har {length} tegn, men {system} tillater høyst {max} her. Forkort verdien.",
    "{what}“{value}” has {length} characters, but {system} allows at most {max} here. Shorten "
    "the value.")
_E_LOOKUP_NO_FIELD = Text(
    "Velg hvilket felt fra reiseregningen som skal slås opp i tabellen, for eksempel "
    "utgiftstype.",
    "Choose which field of the expense claim to look up in the table, for example expense "
    "type.")
_E_LOOKUP_EMPTY = Text(
    "Oppslagstabellen er tom og har ingen standardverdi. Legg til minst én rad (for eksempel "
    "utgiftstype → konto), eller velg en annen kilde.",
    "The lookup table is empty and has no default. Add at least one row (for example expense "
    "type → account), or choose another source.")
_E_LOOKUP_SHAPE = Text(
    "Oppslagstabellen er ikke en liste med par av nøkkel og verdi. Bygg tabellen på nytt.",
    "The lookup table is not a list of key and value pairs. Build the table again.")
_E_LOOKUP_NO_KEY = Text(
    "En rad i oppslagstabellen mangler nøkkel. Fyll inn nøkkelen, eller fjern raden.",
    "A row of the lookup table has no key. Fill in the key, or remove the row.")
_E_LOOKUP_DUP = Text(
    "Nøkkelen «{key}» står mer enn én gang i oppslagstabellen. Behold én av radene.",
    "The key “{key}” appears more than once in the lookup table. Keep one of the rows.")
_W_LOOKUP_ROW = Text("I oppslagstabellen for «{key}»: ", "In the lookup table for “{key}”: ")
_W_LOOKUP_DEFAULT = Text("Standardverdien i oppslagstabellen: ", "The lookup table's default: ")
_W_DEFAULT = Text("Standardverdien når feltet er tomt: ", "The default when empty: ")
_E_TEMPLATE_EMPTY = Text(
    "Malen er tom. Skriv en tekst, for eksempel «Reiseregning {{claim.claim_number}} – "
    "{{claim.claimant_name}}».",
    "The template is empty. Write a text, for example “Expense claim {{claim.claim_number}} – "
    "{{claim.claimant_name}}”.")
_E_TEMPLATE_SYNTAX = Text(
    "Malen har en krøllparentes som ikke er lukket. Skriv feltnavn i krøllparenteser, som "
    "{{claim.claim_number}}, og skriv {{{{ eller }}}} for en krøllparentes i selve teksten.",
    "The template has a brace that is not closed. Put field names in braces, such as "
    "{{claim.claim_number}}, and write {{{{ or }}}} for a brace in the text itself.")
_E_TEMPLATE_BLANK = Text(
    "Malen har tomme krøllparenteser {{}}. Skriv et feltnavn i dem, for eksempel "
    "{{claim.claim_number}}.",
    "The template has empty braces {{}}. Put a field name in them, for example "
    "{{claim.claim_number}}.")
_E_TEMPLATE_FIELD = Text(
    "Malen bruker «{name}», som ikke er et felt på reiseregningen. Bruk for eksempel "
    "{{claim.claim_number}}, {{claim.claimant_name}} eller {{line.description}}.",
    "The template uses “{name}”, which is not a field of the expense claim. Use for example "
    "{{claim.claim_number}}, {{claim.claimant_name}} or {{line.description}}.")
_E_TEMPLATE_CONVERSION = Text(
    "Malen har «!{conversion}» etter «{name}», og det støttes ikke. Fjern «!{conversion}».",
    "The template has “!{conversion}” after “{name}”, which is not supported. Remove "
    "“!{conversion}”.")
_E_TEMPLATE_SPEC = Text(
    "Formatet «{spec}» passer ikke til «{name}». Fjern det, eller bruk for eksempel "
    "{{line.date:%d.%m.%Y}}.",
    "The format “{spec}” does not suit “{name}”. Remove it, or use for example "
    "{{line.date:%d.%m.%Y}}.")
_E_TEMPLATE_TARGET = Text(
    "En mal gir tekst, men {system} venter {ttype} her. Bruk et felt, en fast verdi eller en "
    "oppslagstabell.",
    "A template gives text, but {system} expects {ttype} here. Use a field, a constant or a "
    "lookup table.")
_E_TRANSFORMS_SHAPE = Text(
    "Omformingene er ikke en liste over navn og verdier. Velg dem på nytt.",
    "The transforms are not a list of names and values. Choose them again.")
_E_TRANSFORM_UNKNOWN = Text(
    "Ukjent omforming «{name}». Bruk datoformat, fortegn, avrunding, avkorting eller "
    "standardverdi.",
    "Unknown transform “{name}”. Use date format, sign, rounding, truncation or default.")
_E_DATE_FORMAT_TYPE = Text(
    "Datoformat kan bare brukes på datoer, men verdien er {vtype}. Fjern datoformatet.",
    "A date format only applies to dates, but the value is {vtype}. Remove the date format.")
_E_DATE_FORMAT_TARGET = Text(
    "Datoformat gir tekst, men {system} venter {ttype} her. Fjern datoformatet.",
    "A date format gives text, but {system} expects {ttype} here. Remove the date format.")
_E_DATE_FORMAT_BAD = Text(
    "Datoformatet «{option}» er ugyldig. Bruk koder som %Y-%m-%d (2025-03-31) eller %d.%m.%Y "
    "(31.03.2025).",
    "The date format “{option}” is not valid. Use codes such as %Y-%m-%d (2025-03-31) or "
    "%d.%m.%Y (31.03.2025).")
_E_SIGN_BAD = Text(
    "Fortegn må være «negate» (snu fortegnet) eller «keep» (behold), ikke «{option}».",
    "Sign must be “negate” (flip the sign) or “keep”, not “{option}”.")
_E_SIGN_TYPE = Text(
    "Fortegn kan bare brukes på tall, men verdien er {vtype}. Fjern omformingen.",
    "Sign only applies to numbers, but the value is {vtype}. Remove the transform.")
_E_ROUND_BAD = Text(
    "Avrunding må være et antall desimaler fra 0 til 6, for eksempel 2, ikke «{option}».",
    "Rounding must be a number of decimal places from 0 to 6, for example 2, not “{option}”.")
_E_ROUND_TYPE = Text(
    "Avrunding kan bare brukes på desimaltall, men verdien er {vtype}. Fjern omformingen.",
    "Rounding only applies to decimal numbers, but the value is {vtype}. Remove the "
    "transform.")
_E_TRUNCATE_BAD = Text(
    "Avkorting må være «on», «off» eller en lengde fra 1 til {max}, ikke «{option}».",
    "Truncation must be “on”, “off” or a length from 1 to {max}, not “{option}”.")
_E_TRUNCATE_TYPE = Text(
    "Avkorting gjelder bare tekst og koder, men {system} venter {ttype} her. Fjern "
    "omformingen.",
    "Truncation only applies to text and codes, but {system} expects {ttype} here. Remove the "
    "transform.")

_F_REQUIRED_EMPTY = Text(
    "Feltet er påkrevd, men «{source}» mangler verdi. Fyll inn «{source}» i utleggsappen, "
    "eller legg til en standardverdi i feltkoblingen.",
    "This field is required, but “{source}” is empty. Fill in “{source}” in the expense app, "
    "or add a default in the field mapping.")
_F_REQUIRED_TEMPLATE = Text(
    "Feltet er påkrevd, men malen ga ingen tekst. Endre malen, eller legg til en standardverdi "
    "i feltkoblingen.",
    "This field is required, but the template gave no text. Change the template, or add a "
    "default in the field mapping.")
_F_UNMATCHED = Text(
    "«{key}» fra «{source}» finnes ikke i oppslagstabellen, og tabellen har ingen "
    "standardverdi. Legg til «{key}» i tabellen, eller gi tabellen en standardverdi.",
    "“{key}” from “{source}” is not in the lookup table, and the table has no default. Add "
    "“{key}” to the table, or give the table a default.")
_F_TOO_LONG = Text(
    "«{value}» har {length} tegn, men {system} tillater høyst {max}. Slå på avkorting i "
    "feltkoblingen, eller forkort verdien i utleggsappen.",
    "“{value}” has {length} characters, but {system} allows at most {max}. Turn on truncation "
    "in the field mapping, or shorten the value in the expense app.")
_F_NOT_INTEGER = Text(
    "«{value}» er ikke et heltall, men {system} venter et heltall her. Rett verdien i "
    "utleggsappen, eller bruk en oppslagstabell.",
    "“{value}” is not a whole number, but {system} expects one here. Correct the value in the "
    "expense app, or use a lookup table.")
_F_NOT_NUMBER = Text(
    "«{value}» i «{source}» er ikke et tall. Rett verdien i utleggsappen.",
    "“{value}” in “{source}” is not a number. Correct the value in the expense app.")
_F_TOO_BIG = Text(
    "«{value}» i «{source}» er urimelig stort. Rett verdien i utleggsappen.",
    "“{value}” in “{source}” is implausibly large. Correct the value in the expense app.")
_F_NOT_DATE = Text(
    "«{value}» i «{source}» er ikke en dato. Rett datoen i utleggsappen.",
    "“{value}” in “{source}” is not a date. Correct the date in the expense app.")
_F_NO_AMOUNT = Text(
    "Linjen har ikke noe beløp. Fyll inn beløpet i utleggsappen.",
    "The line has no amount. Fill in the amount in the expense app.")
_F_NO_ID = Text(
    "Reiseregningen mangler id og kan ikke eksporteres. Kontakt brukerstøtte.",
    "The expense claim has no id and cannot be exported. Contact support.")
_F_NO_LINES = Text(
    "Reiseregningen har ingen linjer, så det er ingenting å føre. Sjekk reiseregningen i "
    "utleggsappen.",
    "The expense claim has no lines, so there is nothing to post. Check the claim in the "
    "expense app.")
_F_TOO_MANY_LINES = Text(
    "Reiseregningen har {count} linjer, men {system} tar imot høyst {limit} linjer i ett "
    "bilag. Del reiseregningen i flere i utleggsappen.",
    "The expense claim has {count} lines, but {system} accepts at most {limit} lines in one "
    "voucher. Split the claim into several in the expense app.")
_F_MAPPING = Text(
    "Feltkoblingen har feil og må rettes før eksport: {message}",
    "The field mapping has errors that must be fixed before export: {message}")
_F_TIME_ZONE = Text(
    "Tidssonen «{tz}» er ukjent. Velg en gyldig tidssone for organisasjonen, for eksempel "
    "Europe/Oslo.",
    "The time zone “{tz}” is unknown. Choose a valid time zone for the organisation, for "
    "example Europe/Oslo.")
_F_REFERENCE = Text(
    "Kan ikke lage eksportreferansen for integrasjon «{integration}» og reiseregning "
    "«{claim}». Kontakt brukerstøtte.",
    "Cannot build the export reference for integration “{integration}” and claim “{claim}”. "
    "Contact support.")
_F_UNEXPECTED = Text(
    "En uventet feil stoppet denne reiseregningen ({error}). De andre ble eksportert som "
    "vanlig. Kontakt brukerstøtte.",
    "An unexpected error stopped this expense claim ({error}). The others were exported as "
    "usual. Contact support.")
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
        transforms = self.transforms
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
    def from_model(cls, claim: Any) -> ClaimData:
        """Copy a Peewee `ExpenseClaim` and its lines (one query for the lines)."""
        lines = sorted(claim.lines, key=lambda ln: (ln.position, ln.id))
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
# References and codes


def reference_for(integration_id: int, claim_id: int) -> str:
    """The claim's idempotency reference, stable for (integration, claim), ≤ 20 characters.

    "LL-{integration_id}-{claim_id}" in decimal; ids too long for that are written in base 36
    after "LX-" instead (never the same as a decimal reference). Sent as Xledger
    `extIdentifier` and Business Central `externalDocumentNumber`. ValueError when the ids
    are not positive integers or do not fit even in base 36.
    """
    if not (type(integration_id) is int and type(claim_id) is int):
        raise ValueError(f"ids must be integers, not {integration_id!r} and {claim_id!r}")
    if integration_id <= 0 or claim_id <= 0:
        raise ValueError(f"ids must be positive, not {integration_id} and {claim_id}")
    reference = f"{REFERENCE_PREFIX}-{integration_id}-{claim_id}"
    if len(reference) <= REFERENCE_MAX_LENGTH:
        return reference
    reference = f"LX-{_base36(integration_id)}-{_base36(claim_id)}"
    if len(reference) <= REFERENCE_MAX_LENGTH:
        return reference
    raise ValueError("ids too large for a 20-character reference")


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def used_codes(
    itype: IntegrationType, rows: Iterable[MappingRow]
) -> list[tuple[str, ReferenceKind, str]]:
    """Codes typed into the mapping for fields that name reference data, to check live.

    Constants, lookup values, lookup defaults and "default when empty" values of target
    fields with a `reference` kind, as (target, kind, code), in mapping order, no repeats.
    """
    kinds = itype.extra.get("reference_kinds")
    targets = {tf.name: tf for tf in itype.target_fields}
    seen: set[tuple[str, str, str]] = set()
    out: list[tuple[str, ReferenceKind, str]] = []
    for row in rows:
        tf = targets.get(row.target)
        if tf is None or tf.reference is None:
            continue
        if isinstance(kinds, tuple | list) and tf.reference not in kinds:
            continue
        codes = [row.value] if row.kind == "constant" else []
        if row.kind == "lookup":
            codes += [value for _, value in _pairs(row.lookup)] + [row.lookup_default or ""]
        if isinstance(row.transforms, dict):
            codes.append(str(row.transforms.get("default") or ""))
        for code in codes:
            code = str(code).strip()
            item = (tf.name, tf.reference, code)
            if code and item not in seen:
                seen.add(item)
                out.append(item)
    return out


def closest_codes(code: str, known_codes: Iterable[str], n: int = 3) -> list[str]:
    """The known codes most like an unknown one (for "did you mean …?"), best first.

    difflib's similarity, case-insensitive; among equally similar codes, one with the same
    characters comes first, since two swapped digits are the commonest typo in a code.
    """
    wanted = str(code).strip().upper()
    matcher = difflib.SequenceMatcher(b=wanted)
    scored = []
    for known in dict.fromkeys(str(k) for k in known_codes):
        candidate = known.strip().upper()
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= 0.5 and matcher.quick_ratio() >= 0.5:
            ratio = matcher.ratio()
            if ratio >= 0.5:
                scored.append((-ratio, sorted(candidate) != sorted(wanted), known))
    scored.sort(key=lambda item: item[:2])
    return [known for _, _, known in scored[:n]]


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


def _fmt(template: Text, **values: object) -> Text:
    """Format both halves; `Text` values contribute their own language's half."""
    nb = {k: v.nb if isinstance(v, Text) else v for k, v in values.items()}
    en = {k: v.en if isinstance(v, Text) else v for k, v in values.items()}
    return Text(template.nb.format(**nb), template.en.format(**en))


def _label(itype: IntegrationType, target: str) -> Text:
    for tf in itype.target_fields:
        if tf.name == target:
            return tf.label
    return Text(target, target)


def _prefixed(label: Text, detail: Text) -> Text:
    return Text(f"{label.nb}: {detail.nb}", f"{label.en}: {detail.en}")


def _show(value: object, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Compiling one row


@dataclass(frozen=True)
class _Source:
    # Gives the final target value, or None when empty; raises _Fail for bad claim data.
    get: Getter
    needs_line: bool
    label: Text | None
    empty: Text


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
            return value[:cut_to].rstrip() if cut_to else too_long(value)
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
        convert = {"date": dt.date.isoformat, "decimal": _decimal_text}.get(dtype, str)
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

    def render(c: Any, ln: Any, tz: dt.tzinfo) -> str | None:
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
            return text[:cut_to].rstrip() if cut_to else too_long(text)
        return text

    return render


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
    plan = rows if isinstance(rows, MappingPlan) else _plan_for(itype, rows)
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
        if type(result) is Voucher:
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


def _plan_for(itype: IntegrationType, rows: Iterable[MappingRow]) -> MappingPlan:
    """The compiled plan for these rows, from a small cache keyed by the rows' contents."""
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
    return Voucher(claim_id, reference, claim_id, out)


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
            lines = tuple(raw)  # type: ignore[call-overload]
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
