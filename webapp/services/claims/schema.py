"""The claim the host app sends, as pydantic models: they validate the API, the CSV import
and generate the OpenAPI document, so all three always agree.

Amounts are NOK as a decimal string ("123.45") or whole øre as an integer (12345); a JSON
float is refused because binary fractions cannot hold øre exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

MAX_BATCH = 500
MAX_LINES = 200
STATUSES = ("received", "queued", "exported", "failed", "needs_attention")
AMOUNT_PATTERN = r"^-?\d{1,12}(\.\d{1,2})?$"
_AMOUNT = re.compile(AMOUNT_PATTERN)
# Eleven digits (spaces allowed) look like a Norwegian national identity number.
_FNR = re.compile(r"^\d{6}\s?\d{5}$")


def _money(value: str | int) -> Decimal:
    if isinstance(value, int):
        return (Decimal(value) / 100).quantize(Decimal("0.01"))
    text = value.strip()
    if not _AMOUNT.match(text):
        raise ValueError('amount: expected NOK like "123.45" or whole øre as an integer')
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError('amount: expected NOK like "123.45"') from None


def _not_identity_number(value: str) -> str:
    if _FNR.match(value.strip()):
        raise ValueError("identity_number")
    return value


def _sensible_time(value: dt.datetime) -> dt.datetime:
    # Far-off years overflow when moved to UTC and say nothing true about a claim.
    if not 2000 <= value.year <= 2100:
        raise ValueError("time_range")
    return value


Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
# What a NUMERIC(14, 2) column holds, in øre.
WholeOere = Annotated[int, Strict(), Field(ge=-(10**14) + 1, le=10**14 - 1)]
Time = Annotated[AwareDatetime, AfterValidator(_sensible_time)]
Amount = Annotated[
    Annotated[str, Strict(), StringConstraints(pattern=AMOUNT_PATTERN)] | WholeOere,
    AfterValidator(_money),
    Field(
        description='NOK as a decimal string ("123.45") or whole øre as an integer (12345).',
        examples=["123.45", 12345],
    ),
]
Km = Annotated[
    Annotated[str, Strict(), StringConstraints(pattern=r"^\d{1,7}(\.\d{1,2})?$")]
    | Annotated[int, Strict(), Field(ge=0, le=10**6)],
    AfterValidator(lambda v: Decimal(v) if isinstance(v, int) else _money(v)),
    Field(description='Kilometres as a decimal string ("12.5") or a whole number.'),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Mileage(_Strict):
    km: Km
    rate: Amount = Field(description="NOK per kilometre.")


class Claimant(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    number: Annotated[Code, AfterValidator(_not_identity_number)] = Field(
        default="",
        description="The claimant's number in the organisation (never a national identity "
        "number: eleven digits are refused).",
    )
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] = ""


class ClaimLineIn(_Strict):
    date: dt.date = Field(
        description="ISO 8601 date, e.g. 2026-11-02.",
        ge=dt.date(2000, 1, 1),
        le=dt.date(2100, 12, 31),
    )
    expense_type: Annotated[Code, StringConstraints(min_length=1)]
    amount: Amount
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    department: Code = ""
    project: Code = ""
    vat_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] = ""
    mileage: Mileage | None = None


class ClaimIn(_Strict):
    """One approved claim from the host app."""

    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        max_length=200, description="The host app's id of the claim; unique per organisation."
    )
    claim_number: Code = Field(default="", description="Shown to people; defaults to external_id.")
    claimant: Claimant
    purpose: Annotated[str, StringConstraints(max_length=2000)] = ""
    department: Code = ""
    project: Code = ""
    approved_at: Time = Field(description="ISO 8601 with a time zone.")
    approved_by: Annotated[str, StringConstraints(min_length=1)] = Field(max_length=200)
    submitted_at: Time | None = None
    receipts_url: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https://\S+$")
        ]
        | None
    ) = Field(default=None, description="Where the receipts are, in the host app (https).")
    integration: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Book in this integration instead of the routing rules.",
    )
    lines: list[ClaimLineIn] = Field(min_length=1, max_length=MAX_LINES)


class ClaimBatch(_Strict):
    """Up to 500 claims, stored all together or (when one is invalid) none."""

    claims: list[ClaimIn] = Field(min_length=1, max_length=MAX_BATCH)


class IntegrationOut(BaseModel):
    id: int
    name: str
    type: str


class ClaimOut(BaseModel):
    id: int
    external_id: str | None
    claim_number: str
    status: Literal["received", "queued", "exported", "failed", "needs_attention"]
    integration: IntegrationOut | None
    ledger_reference: str | None = Field(
        description="The accounting system's id: voucher number, journal line or row id."
    )
    export_reference: str | None = Field(description="Ledgerlink's reference sent to the ledger.")
    message: str | None = Field(description="What happened, in the request's language.")
    next_step: str | None
    total: str = Field(description="NOK, two decimals.")
    line_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    exported_at: dt.datetime | None


class ClaimResult(BaseModel):
    result: Literal["created", "existing"]
    claim: ClaimOut


class BatchOut(BaseModel):
    results: list[ClaimResult]


class ClaimPage(BaseModel):
    data: list[ClaimOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ProblemError(BaseModel):
    pointer: str = Field(description="JSON Pointer into the request body.")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] = []
