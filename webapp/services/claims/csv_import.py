"""Claims from a spreadsheet: what Norwegian spreadsheets save, checked like the API.

One row per expense line; rows with the same `external_id` are one claim, whose claim-level
columns come from its first row. Accepts UTF-8 (with or without BOM) and Windows-1252, `;`
or `,` between columns, decimal commas and dates as dd.mm.yyyy. Every problem is reported
by row (as the spreadsheet numbers them, header = 1) and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from pydantic import ValidationError

from webapp.models import ExpenseClaim, Organization
from webapp.services.claims.ingest import IngestProblem, Stored, ingest
from webapp.services.claims.messages import from_validation
from webapp.services.claims.schema import ClaimIn

CLAIM_COLUMNS = (
    "external_id",
    "claim_number",
    "claimant_name",
    "claimant_number",
    "claimant_email",
    "purpose",
    "department",
    "project",
    "approved_at",
    "approved_by",
    "receipts_url",
)
LINE_COLUMNS = ("date", "expense_type", "amount", "km", "rate", "vat_code", "description")
COLUMNS = CLAIM_COLUMNS + LINE_COLUMNS
REQUIRED = (
    "external_id",
    "claimant_name",
    "approved_at",
    "approved_by",
    "date",
    "expense_type",
    "amount",
)
# Where a JSON Pointer of the API model lands in the spreadsheet.
POINTER_COLUMNS = {
    "claimant/name": "claimant_name",
    "claimant/number": "claimant_number",
    "claimant/email": "claimant_email",
    "mileage/km": "km",
    "mileage/rate": "rate",
    "mileage": "km",
}
_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATETIME = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2})[:.](\d{2}))?$")
_NUMBER = re.compile(r"^-?[\d\s\u00a0.]*\d(,\d{1,2})?$")
MAX_ROWS = 5000


@dataclass
class Problem:
    row: int
    column: str
    message: str


@dataclass
class Preview:
    text: str
    rows: int = 0
    claims: list[ClaimIn] = field(default_factory=list)
    rows_of: dict[str, list[int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def invalid_claims(self) -> int:
        return len({p.row for p in self.problems})


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1252, which every byte sequence decodes as."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.removeprefix("\ufeff")


def template() -> str:
    """The file a coordinator fills in: header and one example claim with two lines."""
    rows = [
        COLUMNS,
        (
            "utl-1001",
            "",
            "Kari Nordmann",
            "4711",
            "",
            "Likepersonsmøte",
            "200",
            "P100",
            "03.11.2026 09:15",
            "Ola Leder",
            "",
            "02.11.2026",
            "travel",
            "349,50",
            "",
            "",
            "0",
            "Tog",
        ),
        (
            "utl-1001",
            "",
            "Kari Nordmann",
            "4711",
            "",
            "Likepersonsmøte",
            "200",
            "P100",
            "03.11.2026 09:15",
            "Ola Leder",
            "",
            "02.11.2026",
            "mileage",
            "165,00",
            "50",
            "3,30",
            "",
            "Bil til møtet",
        ),
    ]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def preview(organization: Organization, text: str) -> Preview:
    """Parse and check every row; nothing is stored."""
    result = Preview(text=text)
    lines = text.splitlines()
    if not lines:
        result.problems.append(Problem(1, "", _("The file is empty.")))
        return result
    delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h and h not in COLUMNS]
    for name in missing:
        result.problems.append(Problem(1, name, _("This column is missing.")))
    for name in unknown:
        result.problems.append(Problem(1, name, _("Unknown column: use the template's names.")))
    if missing or unknown:
        return result
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if number > MAX_ROWS + 1:
            result.problems.append(
                Problem(number, "", _("At most %(n)d rows at a time.", n=MAX_ROWS))
            )
            break
        row = {
            name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header)
        }
        result.rows += 1
        groups.setdefault(row["external_id"], []).append((number, row))
    tz = ZoneInfo(organization.time_zone or "Europe/Oslo")
    for external_id, rows in groups.items():
        _one_claim(result, external_id, rows, tz)
    known = {
        e
        for (e,) in ExpenseClaim.select(ExpenseClaim.external_id)
        .where(
            (ExpenseClaim.organization == organization.id)
            & ExpenseClaim.external_id.in_([c.external_id for c in result.claims])
        )
        .tuples()
    }
    result.already = sorted(known)
    return result


def _one_claim(result: Preview, external_id: str, rows, tz) -> None:
    first_row, first = rows[0]
    problems: list[Problem] = []
    body = {
        "external_id": external_id,
        "claim_number": first.get("claim_number", ""),
        "claimant": {
            "name": first.get("claimant_name", ""),
            "number": first.get("claimant_number", ""),
            "email": first.get("claimant_email", ""),
        },
        "purpose": first.get("purpose", ""),
        "department": first.get("department", ""),
        "project": first.get("project", ""),
        "approved_at": _when(first.get("approved_at", ""), tz),
        "approved_by": first.get("approved_by", ""),
        "receipts_url": first.get("receipts_url") or None,
        "lines": [],
    }
    for _number, row in rows:
        line = {
            "date": _date(row.get("date", "")),
            "expense_type": row.get("expense_type", ""),
            "amount": _amount(row.get("amount", "")),
            "vat_code": row.get("vat_code", ""),
            "description": row.get("description", ""),
        }
        if row.get("km") or row.get("rate"):
            line["mileage"] = {
                "km": _amount(row.get("km", "")),
                "rate": _amount(row.get("rate", "")),
            }
        body["lines"].append(line)
    row_numbers = [number for number, _row in rows]
    try:
        claim = ClaimIn.model_validate(body)
    except ValidationError as exc:
        for pointer, message in from_validation(exc):
            problems.append(_locate(pointer, message, row_numbers))
    else:
        try:
            _check_without_storing(claim)
        except IngestProblem as exc:
            for pointer, message in exc.errors:
                problems.append(_locate(pointer, message, row_numbers))
    if problems:
        result.problems.extend(problems)
    else:
        result.claims.append(claim)
        result.rows_of[external_id] = row_numbers


def _check_without_storing(claim: ClaimIn) -> None:
    from webapp.services.claims.ingest import _check_lines

    errors = _check_lines(claim, "")
    if errors:
        raise IngestProblem(errors)


def _locate(pointer: str, message: str, rows: list[int]) -> Problem:
    """(spreadsheet row, column) for a JSON Pointer into one claim."""
    parts = pointer.strip("/").split("/")
    row = rows[0]
    if parts[:1] == ["lines"] and len(parts) > 1 and parts[1].isdigit():
        row = rows[min(int(parts[1]), len(rows) - 1)]
        parts = parts[2:]
    key = "/".join(parts)
    column = POINTER_COLUMNS.get(key, parts[0] if parts else "")
    return Problem(row, column, message)


def _date(value: str) -> str:
    match = _DATE.match(value)
    if match:
        day, month, year = match.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return value


def _when(value: str, tz: ZoneInfo) -> str:
    """dd.mm.yyyy [hh:mm] in the organisation's time zone, as ISO 8601; other text unchanged."""
    match = _DATETIME.match(value)
    if not match:
        return value
    day, month, year, hour, minute = match.groups()
    try:
        local = dt.datetime(int(year), int(month), int(day), int(hour or 12), int(minute or 0))
    except ValueError:
        return value
    return local.replace(tzinfo=tz).isoformat()


def _amount(value: str) -> str:
    """ "1 234,50" or "1234.50" → "1234.50" (a string, as the API takes it)."""
    text = value.strip()
    if "," in text and _NUMBER.match(text):
        text = text.replace(".", "").replace(" ", "").replace("\u00a0", "").replace(",", ".")
    return text


def import_valid(organization: Organization, text: str) -> tuple[list[Stored], Preview]:
    """Store the claims without problems (claims imported before are recognised, not doubled)."""
    checked = preview(organization, text)
    if not checked.claims:
        return [], checked
    return ingest(organization, checked.claims, source="csv"), checked
