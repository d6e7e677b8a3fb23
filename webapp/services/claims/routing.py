"""Which integration books a claim: one ledger per claim (DESIGN §3).

Decided when the claim arrives: the host app's explicit integration, else the organisation's
routing rule on department/project, else its default integration. A coordinator-admin can
move a claim to another integration until it has been sent to a ledger.
"""

from __future__ import annotations

from peewee import JOIN, fn

from webapp.db import db, utcnow
from webapp.models import (
    DoesNotExist,
    ExpenseClaim,
    ExportItem,
    Integration,
    Organization,
    RoutingRule,
    User,
)
from webapp.services import audit


class RoutingError(Exception):
    """A routing change that is not allowed; `code` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def integration_of(organization_id: int, integration_id: int) -> Integration:
    """The organisation's integration; RoutingError("unknown_integration") otherwise."""
    try:
        return Integration.for_org(organization_id, integration_id)
    except DoesNotExist:
        raise RoutingError("unknown_integration") from None


def route(
    organization: Organization,
    *,
    integration_id: int | None = None,
    department: str = "",
    project: str = "",
) -> int | None:
    """The integration id a new claim goes to (None: nothing decides, a person must)."""
    if integration_id is not None:
        return integration_of(organization.id, integration_id).id
    rule = rule_for(organization.id, department, project)
    if rule is not None:
        return rule
    return organization.default_integration_id


def rule_for(organization_id: int, department: str, project: str) -> int | None:
    """The most specific matching rule: department+project, then department, then project."""
    rules = rules_of(organization_id)
    for key in ((department, project), (department, ""), ("", project)):
        if key != ("", "") and key in rules:
            return rules[key]
    return None


def rules_of(organization_id: int) -> dict[tuple[str, str], int]:
    """{(department, project): integration id} for the organisation ("" matches any)."""
    query = RoutingRule.select(
        RoutingRule.department, RoutingRule.project, RoutingRule.integration
    ).where(RoutingRule.organization == organization_id)
    return {(d, p): i for d, p, i in query.tuples()}


def routed_to(integration: Integration | int):
    """Claims routed to the integration that it has not booked yet (for the export)."""
    integration_id = integration if isinstance(integration, int) else integration.id
    return (
        ExpenseClaim.select(ExpenseClaim.id)
        .join(ExportItem, JOIN.LEFT_OUTER, on=(ExportItem.claim == ExpenseClaim.id))
        .where(
            (ExpenseClaim.integration == integration_id)
            & (ExpenseClaim.status == "approved")
            & ((ExportItem.id.is_null()) | (ExportItem.status != "exported"))
        )
        .order_by(ExpenseClaim.approved_at, ExpenseClaim.id)
    )


def default_if_none(integration: Integration, actor: User | None = None) -> bool:
    """Make the organisation's first saved integration its default (claims that arrived
    before any integration existed then have somewhere to go); False if it has one."""
    organization = Organization.get_by_id(integration.organization_id)
    if organization.default_integration_id is not None:
        return False
    set_default(organization, integration, actor)
    return True


def adopt_unrouted(integration: Integration) -> int:
    """Route the organisation's unrouted approved claims to `integration` if it is the
    default (they arrived while nothing decided); the number of claims routed."""
    organization = Organization.get_by_id(integration.organization_id)
    if organization.default_integration_id != integration.id:
        return 0
    return (
        ExpenseClaim.update(integration=integration.id, updated_at=utcnow())
        .where(
            (ExpenseClaim.organization == organization.id)
            & ExpenseClaim.integration.is_null()
            & (ExpenseClaim.status == "approved")
        )
        .execute()
    )


def counts_by_integration(organization_id: int) -> dict[int | None, dict[str, int]]:
    """{integration id (None: unrouted): {"waiting", "exported", "failed"}} for the dashboard."""
    rows = (
        ExpenseClaim.select(ExpenseClaim.integration, ExportItem.status, fn.COUNT(ExpenseClaim.id))
        .join(ExportItem, JOIN.LEFT_OUTER, on=(ExportItem.claim == ExpenseClaim.id))
        .where(ExpenseClaim.organization == organization_id)
        .group_by(ExpenseClaim.integration, ExportItem.status)
        .tuples()
    )
    result: dict[int | None, dict[str, int]] = {}
    for integration_id, status, count in rows:
        bucket = result.setdefault(integration_id, {"waiting": 0, "exported": 0, "failed": 0})
        bucket[status if status in ("exported", "failed") else "waiting"] += count
    return result


def move(claim: ExpenseClaim, integration: Integration, actor: User | None = None) -> None:
    """Route a claim not yet sent to a ledger to another integration (audited).

    A failed attempt by the old integration is forgotten so the new one may try; a claim
    exported, or sent with its outcome not yet known (pending), stays where it is.
    """
    if integration.organization_id != claim.organization_id:
        raise RoutingError("unknown_integration")
    with db.atomic():
        claim = ExpenseClaim.select().where(ExpenseClaim.id == claim.id).for_update().get()
        item = ExportItem.get_or_none(ExportItem.claim == claim.id)
        if item is not None and item.status in ("exported", "pending"):
            raise RoutingError("already_sent")
        if item is not None:
            item.delete_instance()
        previous = claim.integration_id
        ExpenseClaim.update(integration=integration.id, updated_at=utcnow()).where(
            ExpenseClaim.id == claim.id
        ).execute()
        audit.record(
            "claim.moved",
            organization=claim.organization_id,
            target_type="expense_claim",
            target_id=claim.id,
            fields=["integration"],
            detail=f"integration {previous} -> {integration.id}",
            actor=actor,
        )


def set_default(
    organization: Organization, integration: Integration | None, actor: User | None = None
) -> None:
    """Make `integration` (or none) where claims go when nothing else decides (audited)."""
    if integration is not None and integration.organization_id != organization.id:
        raise RoutingError("unknown_integration")
    with db.atomic():
        Organization.update(
            default_integration=integration.id if integration is not None else None
        ).where(Organization.id == organization.id).execute()
        organization.default_integration_id = integration.id if integration else None
        audit.record(
            "organization.default_integration",
            organization=organization.id,
            target_type="integration",
            target_id=integration.id if integration else None,
            fields=["default_integration"],
            actor=actor,
        )


def add_rule(
    organization: Organization,
    integration: Integration,
    department: str = "",
    project: str = "",
    actor: User | None = None,
) -> RoutingRule:
    """Send claims with this department and/or project to `integration` (audited)."""
    department, project = department.strip(), project.strip()
    if not department and not project:
        raise RoutingError("empty_rule")
    if integration.organization_id != organization.id:
        raise RoutingError("unknown_integration")
    with db.atomic():
        rule, _created = RoutingRule.get_or_create(
            organization=organization.id,
            department=department,
            project=project,
            defaults={"integration": integration.id, "created_by": actor},
        )
        if rule.integration_id != integration.id:
            rule.integration = integration.id
            rule.save()
        audit.record(
            "routing_rule.saved",
            organization=organization.id,
            target_type="routing_rule",
            target_id=rule.id,
            fields=["department", "project", "integration"],
            actor=actor,
        )
    return rule


def remove_rule(organization: Organization, rule_id: int, actor: User | None = None) -> bool:
    with db.atomic():
        deleted = (
            RoutingRule.delete()
            .where((RoutingRule.id == rule_id) & (RoutingRule.organization == organization.id))
            .execute()
        )
        if deleted:
            audit.record(
                "routing_rule.removed",
                organization=organization.id,
                target_type="routing_rule",
                target_id=rule_id,
                actor=actor,
            )
    return bool(deleted)


def claim_of(organization_id: int, claim_id: int) -> ExpenseClaim | None:
    """One of the organisation's claims (another organisation's answers None)."""
    return ExpenseClaim.get_or_none(
        (ExpenseClaim.id == claim_id) & (ExpenseClaim.organization == organization_id)
    )


def rules_with_integrations(organization_id: int) -> list[RoutingRule]:
    """The organisation's routing rules with their integrations, by department and project."""
    return list(
        RoutingRule.select(RoutingRule, Integration)
        .join(Integration)
        .where(RoutingRule.organization == organization_id)
        .order_by(RoutingRule.department, RoutingRule.project)
    )
