"""Demo data for the embedded default: one organisation, its coordinators, approved claims."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from webapp.db import db, utcnow
from webapp.models import ExpenseClaim, ExpenseClaimLine, Membership, Organization

DEMO_SLUG = "demoforeningen"
# Statens sats for kjøregodtgjørelse used in the demo claims (kr per km).
MILEAGE_RATE = Decimal("3.50")

_CLAIMS = [
    (
        "Kari Nordmann",
        "1001",
        "Likepersonsmøte i Hamar",
        "200",
        "P100",
        [
            ("mileage", "Kjøring Oslo–Hamar t/r", Decimal("248"), None),
            ("meals", "Lunsj med likepersoner", Decimal("389.50"), None),
        ],
    ),
    (
        "Ola Hansen",
        "1002",
        "Kurs for tillitsvalgte",
        "100",
        "P200",
        [
            ("travel", "Togbillett Bergen–Oslo", Decimal("1249.00"), None),
            ("course", "Kursavgift", Decimal("1500.00"), None),
            ("meals", "Middag", Decimal("312.00"), None),
        ],
    ),
    (
        "Ingrid Berg",
        "1003",
        "Ungdomssamling Tromsø",
        "400",
        "P300",
        [
            ("travel", "Flybillett Bodø–Tromsø", Decimal("1890.00"), None),
            ("mileage", "Kjøring til flyplassen", Decimal("46"), None),
        ],
    ),
    (
        "Per Johansen",
        "1004",
        "Innkjøp til lokallaget",
        "300",
        "P100",
        [
            ("office", "Skrivesaker og kopipapir", Decimal("245.90"), None),
        ],
    ),
    (
        "Aisha Khan",
        "1005",
        "Besøkstjeneste november",
        "200",
        "P100",
        [
            ("mileage", "Besøk i Lillestrøm", Decimal("62"), None),
            ("other", "Blomster til bruker", Decimal("199.00"), None),
        ],
    ),
    (
        "Lars Eriksen",
        "1006",
        "Regionmøte Vest",
        "300",
        "P200",
        [
            ("travel", "Ferje og bomring", Decimal("412.50"), None),
            ("meals", "Servering på møtet", Decimal("1180.00"), None),
        ],
    ),
]


def seed(email: str) -> str:
    """Create or refresh the demo organisation; safe to run again."""
    with db.atomic():
        org, created = Organization.get_or_create(
            slug=DEMO_SLUG,
            defaults={"name": "Demoforeningen", "time_zone": "Europe/Oslo", "default_locale": "nb"},
        )
        Membership.get_or_create(
            organization=org, email=email.lower(), defaults={"role": "coordinator_admin"}
        )
        Membership.get_or_create(
            organization=org, email="frivillig@demo.ledgerlink.no", defaults={"role": "coordinator"}
        )
        added = _claims(org)
    state = "created" if created else "already there"
    return (
        f"demo organisation {org.name} ({state}); coordinator-admin {email}; "
        f"{added} new approved claim(s)"
    )


def _claims(org: Organization) -> int:
    today = dt.date.today()
    added = 0
    for n, (name, number, purpose, dept, project, lines) in enumerate(_CLAIMS, start=1):
        claim_number = f"RR-{today.year}-{n:04d}"
        if (
            ExpenseClaim.select()
            .where((ExpenseClaim.organization == org) & (ExpenseClaim.claim_number == claim_number))
            .exists()
        ):
            continue
        approved = utcnow() - dt.timedelta(days=len(_CLAIMS) - n)
        claim = ExpenseClaim.create(
            organization=org,
            claim_number=claim_number,
            claimant_name=name,
            claimant_email=f"{name.split()[0].lower()}@example.org",
            claimant_number=number,
            purpose=purpose,
            department=dept,
            project=project,
            status="approved",
            submitted_at=approved - dt.timedelta(days=2),
            approved_at=approved,
            approved_by="Demo Leder",
        )
        for position, (kind, text, amount, _vat) in enumerate(lines):
            km = amount if kind == "mileage" else None
            ExpenseClaimLine.create(
                claim=claim,
                position=position,
                date=today - dt.timedelta(days=len(_CLAIMS) - n + 3),
                expense_type=kind,
                amount=(km * MILEAGE_RATE) if km else amount,
                km=km,
                description=text,
                department=dept,
                project=project,
                vat_code="0",
            )
        added += 1
    return added
