"""A resolved voucher as an accountant reads it: one row per line with date, account (and
its name), text, debit, credit, VAT and department/project, and whether it balances.

Pure: the type's target fields say which value is which (by data type, reference kind and
role, with the field name as the fallback for types that declare no reference kinds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from adapters.types import IntegrationType, TargetField, Voucher

ZERO = Decimal("0.00")


@dataclass
class TableLine:
    date: object
    account: str
    account_name: str
    text: str
    debit: Decimal | None
    credit: Decimal | None
    vat: str
    dimensions: list[str] = field(default_factory=list)


@dataclass
class VoucherTable:
    lines: list[TableLine]
    debit: Decimal
    credit: Decimal
    # Lines that name no account: the voucher cannot be booked as it stands.
    missing_accounts: int

    @property
    def balances(self) -> bool:
        return self.debit == self.credit and not self.missing_accounts

    @property
    def difference(self) -> Decimal:
        return self.debit - self.credit


def _is(f: TargetField, reference: str, *words: str) -> bool:
    if f.reference is not None:
        return f.reference == reference
    name = f.name.lower()
    return any(word in name for word in words)


def _names(itype: IntegrationType) -> dict[str, list[str]]:
    """Target field names by what they hold in the table."""
    fields = itype.target_fields
    return {
        "date": [f.name for f in fields if f.data_type == "date"],
        "account": [f.name for f in fields if f.role == "line" and _is(f, "account", "account")],
        "balance": [f.name for f in fields if f.role == "balance" and _is(f, "account", "account")],
        "text": [f.name for f in fields if f.role == "line" and f.data_type == "text"],
        "vat": [f.name for f in fields if _is(f, "tax_code", "vat", "tax")],
        "dimensions": [
            f.name
            for f in fields
            if f.role == "line"
            and (_is(f, "dimension", "department", "globject") or _is(f, "project", "project"))
        ],
    }


def _first(line: Mapping[str, object], names: list[str]) -> str:
    for name in names:
        value = line.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def voucher_table(
    itype: IntegrationType, voucher: Voucher, account_names: Mapping[str, str] | None = None
) -> VoucherTable:
    """The voucher's lines as table rows, with debit and credit totals."""
    names = _names(itype)
    account_names = account_names or {}
    rows: list[TableLine] = []
    debit = credit = ZERO
    missing = 0
    last = len(voucher.lines) - 1
    shared: dict[str, object] = {}
    for index, line in enumerate(voucher.lines):
        balancing = index == last
        account = _first(line, names["balance"] if balancing else names["account"])
        if balancing and not account:
            account = _first(line, names["account"])
        amount = Decimal(str(line.get("amount") or 0)).quantize(ZERO)
        date = next((line[n] for n in names["date"] if line.get(n)), None)
        shared.setdefault("date", date)
        if amount >= 0:
            debit += amount
        else:
            credit -= amount
        missing += not account
        rows.append(
            TableLine(
                date=date or shared.get("date"),
                account=account,
                account_name=account_names.get(account, ""),
                text=_first(line, names["text"]),
                debit=amount if amount > 0 else None,
                credit=-amount if amount < 0 else None,
                vat=_first(line, names["vat"]),
                dimensions=[str(line[n]) for n in names["dimensions"] if line.get(n)],
            )
        )
    return VoucherTable(rows, debit, credit, missing)
