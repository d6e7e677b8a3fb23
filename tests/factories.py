"""Model helpers for tests: the smallest valid rows, with overrides."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from webapp.db import utcnow
from webapp.models import (
    ExpenseClaim,
    ExpenseClaimLine,
    Integration,
    Membership,
    Organization,
    User,
)

_seq = itertools.count(1)


def org(name: str | None = None, **kw) -> Organization:
    n = next(_seq)
    return Organization.create(
        name=name or f"Forening {n}", slug=kw.pop("slug", f"forening-{n}"), **kw
    )


def member(organization: Organization, email: str, role: str = "coordinator") -> Membership:
    return Membership.create(organization=organization, email=email.lower(), role=role)


def user(email: str, **kw) -> User:
    return User.create(
        issuer=kw.pop("issuer", "http://issuer"),
        subject=kw.pop("subject", email),
        email=email,
        **kw,
    )


def integration(organization: Organization, type_key: str = "xledger", **kw) -> Integration:
    kw.setdefault("name", "Xledger")
    return Integration.create(organization=organization, type_key=type_key, **kw)


def claim(organization: Organization, lines=(("mileage", "123.45"),), **kw) -> ExpenseClaim:
    n = next(_seq)
    kw.setdefault("claim_number", f"RR-{n:05d}")
    kw.setdefault("claimant_name", "Kari Nordmann")
    kw.setdefault("purpose", "Likepersonsmøte")
    kw.setdefault("status", "approved")
    kw.setdefault("approved_at", utcnow())
    c = ExpenseClaim.create(organization=organization, **kw)
    for position, (kind, amount) in enumerate(lines):
        ExpenseClaimLine.create(
            claim=c,
            position=position,
            date=dt.date(2026, 11, 2),
            expense_type=kind,
            amount=Decimal(amount),
            description=f"Linje {position + 1}",
            department="200",
            project="P100",
            vat_code="0",
        )
    return c
