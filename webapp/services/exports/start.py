"""Starting runs (now, as a retry, or again after a worker died), each queued with a job id
unique to it; finishing a run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from webapp.db import db, is_postgres, utcnow
from webapp.models import (
    Integration,
    SyncRun,
)
from webapp.services.exports.lock import export_lock
from webapp.services.exports.settings import ACTIVE, EXPORTABLE, JOB, QUEUE, bilingual

# --- starting runs -----------------------------------------------------------------------------


@dataclass
class Started:
    """What pressing Export now did: the run to watch, or why nothing started."""

    run: SyncRun | None
    # The integration's status when it cannot export now (needs_reauth, paused, draft).
    refused: str | None = None
    already_running: bool = False


def active_run(integration_id: int) -> SyncRun | None:
    return (
        SyncRun.select()
        .where((SyncRun.integration == integration_id) & (SyncRun.status.in_(ACTIVE)))
        .order_by(SyncRun.id.desc())
        .first()
    )


def job_id_for_run(run: SyncRun) -> str:
    return f"export-{run.integration_id}-run-{run.id}"


def job_id_for_slot(integration_id: int, slot: dt.datetime) -> str:
    """Unique to (integration, slot): a second scheduler inserting the same run fails."""
    return f"export-{integration_id}-{slot.astimezone(dt.UTC):%Y%m%dT%H%M}"


def start_manual(integration: Integration, actor=None) -> Started:
    """Export now: queue a manual run, or return the run already under way."""
    if integration.status not in EXPORTABLE:
        return Started(None, refused=integration.status)
    with db.atomic():
        if is_postgres():
            # Two presses at once must not start two runs.
            Integration.select(Integration.id).where(
                Integration.id == integration.id
            ).for_update().execute()
        run = active_run(integration.id)
        if run is not None and run.job_id is not None:
            return Started(run, already_running=True)
        if run is None:
            run = SyncRun.create(
                integration=integration.id, trigger="manual", status="queued", created_by=actor
            )
        # A retry waiting for its time is simply started now.
        run.job_id = job_id_for_run(run)
        SyncRun.update(job_id=run.job_id).where(SyncRun.id == run.id).execute()
    enqueue_run(run)
    return Started(run)


def create_retry(
    integration_id: int, *, delay: float = 0.0, at: dt.datetime | None = None, actor=None
) -> SyncRun:
    """A `retry` run, due `delay` seconds after `at` (now); the scheduler or `start_now` queues it."""
    return SyncRun.create(
        integration=integration_id,
        trigger="retry",
        status="queued",
        slot_at=(at or utcnow()) + dt.timedelta(seconds=delay),
        created_by=actor,
    )


def start_now(run: SyncRun) -> SyncRun:
    """Give a waiting run its job id and queue it."""
    if run.job_id is None:
        run.job_id = job_id_for_run(run)
        SyncRun.update(job_id=run.job_id).where(SyncRun.id == run.id).execute()
    enqueue_run(run)
    return run


def enqueue_run(run: SyncRun) -> None:
    """Put the run's job on the `exports` queue; a queue failure fails the run, then raises."""
    from webapp.queue import enqueue

    try:
        enqueue(QUEUE, JOB, run.integration_id, run.id, job_id=run.job_id)
    except Exception:
        finish(
            run,
            "failed",
            error_kind="transient",
            message=bilingual(
                lambda: _(
                    "The export could not be queued because the job queue did not answer. "
                    "Try again in a minute."
                )
            ),
        )
        raise


def retry_run(run: SyncRun, actor=None) -> SyncRun:
    """Continue an interrupted or failed run in a new `retry` run, queued at once.

    A run still marked running whose worker is gone is first closed as failed. Refuses
    (ValueError) while another process still exports the integration.
    """
    with export_lock(run.integration_id) as free:
        if not free:
            raise ValueError(f"run {run.id}: integration {run.integration_id} is being exported")
        run = SyncRun.get_by_id(run.id)
        if run.status in ACTIVE and run.job_id is None:
            return start_now(run)
        with db.atomic():
            if run.status in ACTIVE:
                close_abandoned(run)
            retry = create_retry(run.integration_id, actor=actor)
    return start_now(retry)


def close_abandoned(run: SyncRun) -> None:
    """Close a run whose worker stopped mid-run (killed, machine lost); claims are kept."""
    finish(
        run,
        "failed",
        error_kind="transient",
        message=bilingual(
            lambda: _(
                "The export stopped unexpectedly because the worker running it ended. Nothing "
                "was lost: the claims it had sent are checked with the accounting system and "
                "the rest are sent by the next run."
            )
        )
        | {"code": "abandoned"},
    )


def finish(
    run: SyncRun,
    status: str,
    *,
    message: Mapping[str, str | None],
    error_kind: str | None = None,
    only_if: str | None = None,
    **counts: Any,
) -> None:
    """Drive a run to its final state (optionally only from a given state)."""
    query = SyncRun.update(
        status=status, error_kind=error_kind, message=message, finished_at=utcnow(), **counts
    ).where(SyncRun.id == run.id)
    if only_if is not None:
        query = query.where(SyncRun.status == only_if)
    query.execute()
    run.status = status
