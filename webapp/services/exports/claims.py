"""A run's claims, as its page lists them, and sending a failed claim again (issue 16).

`run_claim` keeps each run's final outcome of each claim, so a run's page still lists the
claim it failed after a later run booked it; a claim sent with its outcome unknown is read
from its `export_item` while that is pending. Sending again never books a claim twice: the
claim goes through the one integration it is routed to now, in an ordinary run of that
integration, and a claim already booked (or sent, outcome unknown) is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models import ExpenseClaim, ExportItem, Integration, SyncRun, User
from webapp.models_runs import RunClaim
from webapp.services.claims import routing
from webapp.services.exports.start import start_manual


@dataclass
class ClaimOutcome:
    """One claim of a run: what the run did, and where the claim stands now."""

    claim: ExpenseClaim
    status: str  # exported, failed, pending
    reference: str
    external_id: str | None
    error: dict | None
    # Where the claim stands now, when a later run changed it.
    now_status: str | None = None
    now_external_id: str | None = None
    now_run_id: int | None = None

    @property
    def booked_later(self) -> bool:
        return self.status != "exported" and self.now_status == "exported"

    @property
    def can_send_again(self) -> bool:
        return self.now_status == "failed" and self.claim.status == "approved"


def outcomes(run: SyncRun) -> list[ClaimOutcome]:
    """Every claim this run exported, failed or left unconfirmed, by claim number."""
    found: dict[int, ClaimOutcome] = {}
    for row in (
        RunClaim.select(RunClaim, ExpenseClaim).join(ExpenseClaim).where(RunClaim.run == run.id)
    ):
        found[row.claim_id] = ClaimOutcome(
            row.claim, row.status, row.reference, row.external_id, row.error
        )
    for item in (
        ExportItem.select(ExportItem, ExpenseClaim)
        .join(ExpenseClaim)
        .where((ExportItem.run == run.id) & (ExportItem.status == "pending"))
    ):
        found.setdefault(
            item.claim_id, ClaimOutcome(item.claim, "pending", item.reference, None, None)
        )
    now = {
        item.claim_id: item for item in ExportItem.select().where(ExportItem.claim.in_(list(found)))
    }
    for claim_id, outcome in found.items():
        item = now.get(claim_id)
        if item is not None:
            outcome.now_status = item.status
            outcome.now_external_id = item.external_id
            outcome.now_run_id = item.run_id
    return sorted(found.values(), key=lambda o: o.claim.claim_number)


@dataclass
class Again:
    """What "Send again" did: the run that sends the claim, or why nothing was sent."""

    claim: ExpenseClaim | None
    run: SyncRun | None = None
    integration: Integration | None = None
    # exported, pending, unrouted, missing, or the integration's status when it cannot export
    refused: str | None = None
    external_id: str | None = None


def send_again(organization_id: int, claim_id: int, actor: User | None) -> Again:
    """Send a failed claim again through the integration it is routed to now."""
    claim = routing.claim_of(organization_id, claim_id)
    if claim is None:
        return Again(None, refused="missing")
    item = ExportItem.get_or_none(ExportItem.claim == claim.id)
    if item is not None and item.status in ("exported", "pending"):
        return Again(claim, refused=item.status, external_id=item.external_id)
    if claim.integration_id is None or claim.status != "approved":
        return Again(claim, refused="unrouted")
    integration = routing.integration_of(organization_id, claim.integration_id)
    started = start_manual(integration, actor)
    return Again(claim, started.run, integration, refused=started.refused)
