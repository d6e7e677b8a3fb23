"""Store claims the host app (or a CSV import) sends: routed, deduplicated, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from peewee import IntegrityError

from webapp.db import db, utcnow
from webapp.models import ExpenseClaim, ExpenseClaimLine, Organization
from webapp.services.claims import routing
from webapp.services.claims.schema import ClaimIn


@dataclass
class IngestProblem(Exception):
    """Claims that cannot be stored; `errors` are (JSON Pointer, message) pairs."""

    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Stored:
    result: str  # created | existing
    claim: ExpenseClaim
    # (total, line count) of a claim just created, so describing it needs no query.
    totals: tuple[Decimal, int] | None = None


def ingest(
    organization: Organization, claims: list[ClaimIn], *, source: str = "api", base: str = ""
) -> list[Stored]:
    """Store new claims and return existing ones with the same `external_id`.

    `base` prefixes error pointers ("/claims" for a batch). One invalid claim stores none.
    """
    try:
        return _ingest(organization, claims, source, base)
    except IntegrityError:
        # The same claim arrived concurrently: the second pass finds it as existing.
        return _ingest(organization, claims, source, base)


def _ingest(organization, claims, source, base) -> list[Stored]:
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, claim in enumerate(claims):
        where = f"{base}/{index}" if base else ""
        if claim.external_id in seen:
            errors.append(
                (
                    f"{where}/external_id",
                    _(
                        "The same external_id appears twice in this batch (also claim %(n)d).",
                        n=seen[claim.external_id],
                    ),
                )
            )
        seen.setdefault(claim.external_id, index)
        errors.extend(_check_lines(claim, where))
    numbers = [c.claim_number or c.external_id[:64] for c in claims]
    known = list(
        ExpenseClaim.select().where(
            (ExpenseClaim.organization == organization.id)
            & (ExpenseClaim.external_id.in_(list(seen)) | ExpenseClaim.claim_number.in_(numbers))
        )
    )
    existing = {c.external_id: c for c in known if c.external_id in seen}
    new = [(i, c) for i, c in enumerate(claims) if c.external_id not in existing]
    routes: dict[int, int | None] = {}
    for index, claim in new:
        where = f"{base}/{index}" if base else ""
        try:
            routes[index] = routing.route(
                organization,
                integration_id=claim.integration,
                department=claim.department,
                project=claim.project,
            )
        except routing.RoutingError:
            errors.append(
                (f"{where}/integration", _("No integration with this id in your organisation."))
            )
    errors.extend(_taken_numbers({c.claim_number for c in known}, new, base))
    if errors:
        raise IngestProblem(errors)
    stored: list[Stored] = []
    now = utcnow()
    with db.atomic():
        created: dict[int, ExpenseClaim] = {}
        for index, claim in new:
            created[index] = ExpenseClaim.create(
                organization=organization.id,
                integration=routes[index],
                external_id=claim.external_id,
                source=source,
                claim_number=claim.claim_number or claim.external_id[:64],
                claimant_name=claim.claimant.name,
                claimant_email=claim.claimant.email,
                claimant_number=claim.claimant.number,
                purpose=claim.purpose,
                department=claim.department,
                project=claim.project,
                status="approved",
                submitted_at=claim.submitted_at,
                approved_at=claim.approved_at,
                approved_by=claim.approved_by,
                receipts_url=claim.receipts_url or "",
                created_at=now,
                updated_at=now,
            )
        rows = [
            {
                "claim": created[index].id,
                "position": position,
                "date": line.date,
                "expense_type": line.expense_type,
                "amount": line.amount,
                "km": line.mileage.km if line.mileage else None,
                "rate": line.mileage.rate if line.mileage else None,
                "description": line.description,
                "department": line.department or claim.department,
                "project": line.project or claim.project,
                "vat_code": line.vat_code,
            }
            for index, claim in new
            for position, line in enumerate(claim.lines)
        ]
        for start in range(0, len(rows), 500):
            ExpenseClaimLine.insert_many(rows[start : start + 500]).execute()
    for index, claim in enumerate(claims):
        if index in created:
            total = sum((line.amount for line in claim.lines), Decimal("0.00"))
            stored.append(Stored("created", created[index], (total, len(claim.lines))))
        else:
            stored.append(Stored("existing", existing[claim.external_id]))
    return stored


def _check_lines(claim: ClaimIn, where: str) -> list[tuple[str, str]]:
    errors = []
    for position, line in enumerate(claim.lines):
        if line.mileage is None:
            continue
        expected = (Decimal(line.mileage.km) * Decimal(line.mileage.rate)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        if expected != line.amount:
            errors.append(
                (
                    f"{where}/lines/{position}/amount",
                    _(
                        "The amount should be km × rate = %(expected)s NOK.",
                        expected=f"{expected:.2f}",
                    ),
                )
            )
    return errors


def _taken_numbers(used: set[str], new, base) -> list[tuple[str, str]]:
    """Claim numbers already used by another claim of the organisation."""
    numbers: dict[str, int] = {}
    errors = []
    for index, claim in new:
        number = claim.claim_number or claim.external_id[:64]
        if number in numbers:
            pointer = f"{base}/{index}/claim_number" if base else "/claim_number"
            errors.append((pointer, _("The same claim number appears twice in this batch.")))
        numbers.setdefault(number, index)
    taken = used & set(numbers)
    return errors + [
        (
            f"{base}/{numbers[n]}/claim_number" if base else "/claim_number",
            _("Another claim already has the number %(number)s.", number=n),
        )
        for n in sorted(taken)
    ]
