"""Reading runs for the dashboard, the run pages and the CLI."""

from __future__ import annotations

from webapp.models import (
    ExpenseClaim,
    ExportItem,
    Integration,
    SyncRun,
)

# --- reading runs --------------------------------------------------------------------------------


def run_for_org(organization_id: int, run_id: int) -> SyncRun | None:
    """The run if it belongs to one of the organisation's integrations."""
    return (
        SyncRun.select(SyncRun, Integration)
        .join(Integration)
        .where((SyncRun.id == run_id) & (Integration.organization == organization_id))
        .first()
    )


def failed_items(run: SyncRun) -> list[ExportItem]:
    """The claims this run could not export (or left pending), with their claim rows."""
    return list(
        ExportItem.select(ExportItem, ExpenseClaim)
        .join(ExpenseClaim)
        .where((ExportItem.run == run.id) & (ExportItem.status != "exported"))
        .order_by(ExpenseClaim.claim_number)
    )


def recent_runs(integration_id: int, limit: int = 30, before: int | None = None) -> list[SyncRun]:
    """The latest runs, newest first (`before`: only runs older than that run id)."""
    query = SyncRun.select().where(SyncRun.integration == integration_id)
    if before is not None:
        query = query.where(SyncRun.id < before)
    return list(query.order_by(SyncRun.id.desc()).limit(limit))
