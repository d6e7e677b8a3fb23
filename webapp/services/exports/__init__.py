"""Exports: approved expense claims go to the accounting system, each claim exactly once.

The exactly-once protocol, per batch of vouchers:

1. Claim the batch: upsert one `export_item` per claim (unique per integration and claim) as
   `pending` with its idempotency reference, owned by this run, and commit. A claim already
   `exported` is never claimed again.
2. Send the batch through the adapter (Xledger `extIdentifier`, Business Central
   `externalDocumentNumber` carry the reference).
3. Record each claim's outcome (`exported` with the provider's id, or `failed` with the
   reason) and the run's counts, and commit.

Batches overlap without changing the order of the steps for any one batch: while batch N is
sent (on a worker thread, `sending`), the run records N-1's outcome and claims N+2 in one
transaction, hands N+2 to the sender once it has committed and has the adapter prepare its
request (`Adapter.prepare`, no I/O). The sender starts each batch handed to it as soon as the
one before was answered without an error, so only one call is in flight at a time and the run
may fall a batch behind without holding the calls up. When a run stops, batches claimed ahead
(never sent) go back to waiting, and so does a batch whose call never left.

A crash between 1 and 3 leaves `pending` rows. Every run starts by asking the provider which
pending references it already holds (`Adapter.find_exported`): those are recorded as
exported, the rest are sent again. A transient failure of one batch is handled the same way
inside the run (reconcile, then resend) a bounded number of times. Only one run per
integration exports at a time (a PostgreSQL advisory lock held by the job's connection, or a
process lock on SQLite), so a reconciliation never races a send.

Runs always end `succeeded`, `partial` or `failed` with counts and a message in Norwegian
and English. Authentication and permission failures stop the run and put the integration in
`needs_reauth` with the provider's reason; transient failures schedule a `retry` run.

The package's parts: `settings` (configuration, queue, messages), `lock` (one export per
integration), `start` (starting and finishing runs), `run` (the protocol), `sending` (a
batch's call and its retries), `outbox` (export items and claim loading), `history`
(reading runs), `heap` (what existed before a run stays out of its garbage collections).
"""

from __future__ import annotations

from webapp.services.exports.history import failed_items, recent_runs, run_for_org
from webapp.services.exports.lock import export_lock
from webapp.services.exports.outbox import UPSERT_ITEM_SQLITE, UPSERT_ITEMS_PG, load_claims
from webapp.services.exports.run import Export, execute
from webapp.services.exports.settings import (
    ACTIVE,
    EXPORTABLE,
    JOB,
    LOCK_CLASS,
    QUEUE,
    UNANSWERED,
    bilingual,
    setting,
    type_name,
)
from webapp.services.exports.start import (
    Started,
    active_run,
    close_abandoned,
    create_retry,
    enqueue_run,
    finish,
    job_id_for_run,
    job_id_for_slot,
    retry_run,
    start_manual,
    start_now,
)

__all__ = [
    "ACTIVE",
    "EXPORTABLE",
    "Export",
    "JOB",
    "LOCK_CLASS",
    "QUEUE",
    "Started",
    "UNANSWERED",
    "UPSERT_ITEMS_PG",
    "UPSERT_ITEM_SQLITE",
    "active_run",
    "bilingual",
    "close_abandoned",
    "create_retry",
    "enqueue_run",
    "execute",
    "export_lock",
    "failed_items",
    "finish",
    "job_id_for_run",
    "job_id_for_slot",
    "load_claims",
    "recent_runs",
    "retry_run",
    "run_for_org",
    "setting",
    "start_manual",
    "start_now",
    "type_name",
]
