"""Running an export: the exactly-once protocol of the package docstring, batch by batch,
always ending the run in a final state.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from itertools import islice
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from adapters import get_type
from adapters.base import Adapter
from adapters.errors import AdapterError, AuthError, ConfigError
from adapters.types import ExportResult, IntegrationType, Text, Voucher
from adapters.vouchers import batches
from webapp.db import db, utcnow
from webapp.i18n import current_locale, format_local
from webapp.mapping import (
    ClaimError,
    compile_mapping,
    resolve_claims,
    rows_from_models,
)
from webapp.models import (
    ExportItem,
    FieldMapping,
    Integration,
    SyncRun,
)
from webapp.services import audit, integrations
from webapp.services.claims import events as claim_events
from webapp.services.claims import routing
from webapp.services.exports import endings, heap
from webapp.services.exports.lock import export_lock
from webapp.services.exports.outbox import (
    NO_CREDENTIALS,
    UNREADABLE_CREDENTIALS,
    load_claims,
    write_items,
)
from webapp.services.exports.sending import RetryPolicy, Sender
from webapp.services.exports.settings import (
    EXPORTABLE,
    UNANSWERED,
    _t,
    bilingual,
    log,
    setting,
    type_name,
)
from webapp.services.exports.start import create_retry, finish
from webapp.services.webhooks import outbox as webhook_outbox

# Claims resolved at a time (a few milliseconds' work between two looks at the sender).
RESOLVE_STEP = 50
# Batches handed to the sender and not answered yet, at most: the one in flight and two
# claimed ahead, so that this thread may be slow on one batch (reading the next chunk of
# claims) without ever holding the calls up.
HANDED = 3

# --- running -------------------------------------------------------------------------------------


def execute(integration_id: int, run_id: int) -> str:
    """Run one export (the body of the `run_export` job); returns its final status."""
    run = SyncRun.get_or_none((SyncRun.id == run_id) & (SyncRun.integration == integration_id))
    if run is None or run.status != "queued":
        # Deleted, already run, or being run by another job with the same run: nothing to do.
        return "skipped"
    with export_lock(integration_id, float(setting("EXPORT_LOCK_WAIT"))) as locked:
        if not locked:
            finish(
                run,
                "failed",
                error_kind="transient",
                only_if="queued",
                message=bilingual(
                    lambda: _(
                        "Not run: another export of this integration was still running. The "
                        "claims go with that export or the next one."
                    )
                ),
            )
            return "failed"
        started = (
            SyncRun.update(status="running", started_at=utcnow())
            .where((SyncRun.id == run_id) & (SyncRun.status == "queued"))
            .execute()
        )
        if not started:
            return "skipped"
        export = Export(SyncRun.get_by_id(run_id))
        try:
            with heap.frozen():
                return export.run()
        finally:
            if export.events:
                webhook_outbox.kick()  # after the commits: the events are there to send


class Export:
    """One run's work: reconcile, resolve, send in batches, record, finish."""

    def __init__(self, run: SyncRun) -> None:
        self.run_row = run
        self.integration = Integration.get_by_id(run.integration_id)
        self.total = 0
        self.exported = 0
        self.failed = 0
        self.reconciled = 0
        # Webhook events written with the outcomes (delivered once the run has committed).
        self.events = 0
        self.adapter: Adapter | None = None
        # Claimed vouchers no request carried when the run stopped (a batch claimed ahead, or
        # one whose call never left): their claims go back to waiting.
        self.unsent: list[Voucher] = []

    # The outcome is decided in `run`; `finally` guarantees a final state whatever happens.
    def run(self) -> str:
        outcome = None
        try:
            outcome = self._run()
        except AdapterError as error:
            self._release_unsent()
            outcome = self._stopped(error)
        except Exception:
            log.exception("export run %s failed unexpectedly", self.run_row.id)
            self._release_unsent()
            outcome = self._crashed()
        finally:
            if outcome is None:
                self._crashed()
        return outcome

    def _run(self) -> str:
        from webapp.vault import VaultError, get_vault

        integration = self.integration
        integrations.record_attempt(integration)
        if integration.status not in EXPORTABLE:
            return self._not_run(integration.status)
        itype = get_type(integration.type_key)
        mappings = FieldMapping.select().where(FieldMapping.integration == integration.id)
        plan = compile_mapping(itype, rows_from_models(mappings))
        if plan.errors:
            first = next(iter(plan.errors.values()))
            raise ConfigError(
                Text(
                    f"Feltkoblingen kan ikke brukes: {first.nb} Rett den under «Rediger "
                    "feltkobling».",
                    f"The field mapping cannot be used: {first.en} Fix it under “Edit field "
                    "mappings”.",
                ),
                provider_code="mapping",
            )
        if integration.active_credential_version is None:
            raise AuthError(NO_CREDENTIALS, provider_code="no_credentials")
        try:
            credentials = get_vault().open_set(integration, integration.active_credential_version)
        except VaultError:
            raise AuthError(UNREADABLE_CREDENTIALS, provider_code="vault") from None
        from webapp.services.providers import adapter_for

        adapter = self.adapter = adapter_for(integration, credentials)
        self._reconcile_pending(adapter)
        ids = self._candidate_ids()
        if not ids and not self.reconciled:
            # Nothing to send, but rejected credentials must still come to light now.
            adapter.check_access()
        self.total = self.reconciled + len(ids)
        self._save_counts()
        tz = integration.organization.time_zone
        limit = min(itype.batch_limit, int(setting("EXPORT_BATCH_LINES") or itype.batch_limit))
        self._pipeline(adapter, batches(self._vouchers(itype, plan, ids, tz), limit))
        return self._complete()

    # -- what to export --------------------------------------------------------------------

    def _candidate_ids(self) -> list[int]:
        """Approved claims routed to this integration and not yet booked, oldest first.

        One ledger per claim: a claim routed elsewhere is never a candidate here, and the
        export item's unique claim makes a second booking impossible in the database too.
        """
        routing.adopt_unrouted(self.integration)
        # Plain driver rows: one id each, tens of thousands of them before the first call.
        return [claim_id for (claim_id,) in db.execute(routing.routed_to(self.integration))]

    def _vouchers(self, itype: IntegrationType, plan, ids: list[int], tz: str) -> Iterator[Voucher]:
        """Read the claims a chunk at a time and resolve them a few at a time, as the batches
        take them (so that no call waits on a whole chunk); claims that cannot be resolved
        fail here."""
        chunk = int(setting("EXPORT_CLAIM_CHUNK"))
        for start in range(0, len(ids), chunk):
            data = load_claims(ids[start : start + chunk])
            for at in range(0, len(data), RESOLVE_STEP):
                vouchers, errors = resolve_claims(
                    itype,
                    plan,
                    data[at : at + RESOLVE_STEP],
                    integration_id=self.integration.id,
                    tz=tz,
                )
                if errors:
                    self._record_claim_errors(errors)
                yield from vouchers

    # -- sending ---------------------------------------------------------------------------

    def _pipeline(self, adapter: Adapter, upcoming: Iterator[list[Voucher]]) -> None:
        """Steps 1-3 for every batch, one call in flight at a time.

        While batch N is sent (on the sender's thread), this thread records batch N-1's
        outcome and claims the batch after those already handed over in one transaction, hands
        it to the sender once that has committed, and has the adapter prepare its request.
        """
        # The first call waits for this claim, so it takes one batch fewer than later ones.
        ahead = list(islice(upcoming, HANDED - 1))
        if not ahead:
            return
        with db.atomic():
            claimed = self._store([row for batch in ahead for row in self._pending_rows(batch)])
        sender = Sender(adapter, RetryPolicy.from_settings(), self.run_row.id)
        try:
            with sender:
                waiting = self._hand_over(sender, ahead, claimed)  # handed, answer not taken
                while waiting:
                    delivery = sender.wait()
                    waiting -= 1
                    rows = self._found_rows(delivery.found, delivery.handed)
                    if delivery.error is not None:
                        if not delivery.carried:
                            self.unsent += delivery.batch
                        self._record(rows)
                        raise delivery.error
                    ahead = list(islice(upcoming, HANDED - waiting))
                    rows += self._outcome_rows(delivery.batch, delivery.results)
                    rows += [row for batch in ahead for row in self._pending_rows(batch)]
                    waiting += self._hand_over(sender, ahead, self._record(rows))
        finally:
            self.unsent += sender.unsent()

    def _hand_over(self, sender: Sender, batches: list[list[Voucher]], claimed: set[int]) -> int:
        """Hand the claimed part of each batch to the sender, then have their requests
        prepared while the calls before them are in flight; how many batches were handed."""
        mine = [self._claimed(batch, claimed) for batch in batches]
        for batch in mine:
            sender.send(batch)
        for batch in mine:
            sender.prepare(batch)
        return len(mine)

    def _record(self, rows: list[tuple]) -> set[int]:
        """Step 3 for one batch, step 1 for a later one and the counts: one transaction."""
        with db.atomic():
            return self._store(rows, counts=True)

    def _release_unsent(self) -> None:
        """The run stops: a held batch whose call never left goes back to waiting.

        A claim is "sent, outcome unknown" (pending, asked about by the next run) only when
        a request carrying it may have reached the provider (ACCOUNTING_APIS §8).
        """
        if not self.unsent:
            return
        claims = [voucher.claim_id for voucher in self.unsent]
        try:
            gone = (
                ExportItem.delete()
                .where(
                    (ExportItem.run == self.run_row.id)
                    & (ExportItem.status == "pending")
                    & ExportItem.claim.in_(claims)
                )
                .execute()
            )
        except Exception:  # the database itself may be why the run stops
            log.exception("export run %s: could not return unsent claims", self.run_row.id)
            return
        log.info("export run %s: %d unsent claim(s) back to waiting", self.run_row.id, gone)
        self.unsent = []

    @staticmethod
    def _pending_rows(batch: list[Voucher]) -> list[tuple]:
        return [(voucher.claim_id, voucher.reference, "pending", None) for voucher in batch]

    def _claimed(self, batch: list[Voucher], claimed: set[int]) -> list[Voucher]:
        """The vouchers whose claim this run now holds as pending (never an exported one)."""
        return [voucher for voucher in batch if voucher.claim_id in claimed]

    def _reconcile_pending(self, adapter) -> None:
        """Claims left `pending` by an interrupted run: record those the provider has."""
        pending = list(
            ExportItem.select(
                ExportItem.claim, ExportItem.reference, ExportItem.updated_at, ExportItem.run
            )
            .where(
                (ExportItem.integration == self.integration.id) & (ExportItem.status == "pending")
            )
            .tuples()
        )
        if not pending:
            return
        self._settle([(updated, run_id) for _claim, _ref, updated, run_id in pending])
        pending = [(claim, reference) for claim, reference, _updated, _run in pending]
        found = adapter.find_exported([reference for _claim, reference in pending])
        rows = [(claim, ref, "exported", found[ref]) for claim, ref in pending if ref in found]
        self._store(rows)
        self.reconciled += len(rows)
        self.exported += len(rows)
        log.info(
            "export run %s: %d pending claim(s), %d already in the accounting system",
            self.run_row.id,
            len(pending),
            len(rows),
        )

    def _settle(self, pending: list[tuple[dt.datetime, int]]) -> None:
        """Wait while a call left by a dead worker or a timeout may still be being stored.

        A run that stopped on an answered refusal (rejected token, 5xx …) has no call in
        flight, so its pending claims are checked at once.
        """
        uncertain = False
        for run in SyncRun.select().where(SyncRun.id.in_({run_id for _at, run_id in pending})):
            code = (run.message or {}).get("code")
            if not run.is_final or code == "abandoned" or code in UNANSWERED:
                uncertain = True
        if not uncertain:
            return
        settle = float(setting("EXPORT_SETTLE_SECONDS"))
        latest = max(updated for updated, _run in pending)
        remaining = settle - (utcnow() - latest).total_seconds()
        if remaining > 0:
            time.sleep(min(remaining, settle))

    # -- recording -------------------------------------------------------------------------

    def _found_rows(self, found: dict[str, str], sent: list[Voucher]) -> list[tuple]:
        """Claims of `sent` the provider already had when asked before a resend: exported."""
        if not found:
            return []
        rows = [
            (v.claim_id, v.reference, "exported", found[v.reference])
            for v in sent
            if v.reference in found
        ]
        self.exported += len(rows)
        return rows

    def _outcome_rows(self, batch: list[Voucher], results: list[ExportResult]) -> list[tuple]:
        """Step 3 rows (exported with the provider's id, or failed with the reason); counts."""
        by_reference = {result.reference: result for result in results}
        rows = []
        for voucher in batch:
            result = by_reference.get(voucher.reference)
            if result is None:
                continue  # left pending: the next run asks the provider about it
            if result.ok:
                rows.append((voucher.claim_id, voucher.reference, "exported", result.external_id))
                self.exported += 1
            else:
                text = result.error or Text("", "")
                error = {"nb": text.nb, "en": text.en, "code": result.provider_code}
                rows.append((voucher.claim_id, voucher.reference, "failed", error))  # type: ignore[arg-type]
                self.failed += 1
        return rows

    def _record_claim_errors(self, errors: list[ClaimError]) -> None:
        """Claims the resolver could not turn into vouchers fail with every reason."""
        from webapp.mapping import reference_for

        by_claim: dict[int, list[ClaimError]] = {}
        for error in errors:
            by_claim.setdefault(int(error.claim_id), []).append(error)
        rows = []
        for claim_id, claim_errors in by_claim.items():
            message = {
                # The resolver's messages already name the claim and line.
                "nb": " ".join(e.message.nb for e in claim_errors),
                "en": " ".join(e.message.en for e in claim_errors),
                "code": "mapping",
                "targets": sorted({e.target for e in claim_errors if e.target}),
            }
            rows.append((claim_id, reference_for(self.integration.id, claim_id), "failed", message))
        self._store(rows)
        self.failed += len(rows)
        self._save_counts()

    def _store(self, rows: list[tuple], *, counts: bool = False) -> set[int]:
        """Upsert (claim, reference, status, external id or error) rows in one statement.

        A claim already `exported` is never changed. Returns the claims whose rows were
        written (on PostgreSQL the rows as arrays with RETURNING; on SQLite one prepared
        statement per row, then a read of this run's rows).
        """
        if not rows:
            if counts:
                self._save_counts()
            return set()
        now = ExportItem.updated_at.db_value(utcnow())
        claims, references, statuses, external, errors = [], [], [], [], []
        for claim, reference, status, detail in rows:
            claims.append(claim)
            references.append(reference)
            statuses.append(status)
            external.append(detail if status == "exported" else None)
            errors.append(ExportItem.error.db_value(detail) if status == "failed" else None)
        iid, run_id = self.integration.id, self.run_row.id
        # Inside the caller's transaction when there is one (no savepoint: one round trip less).
        with nullcontext() if db.in_transaction() else db.atomic():
            written = write_items(
                iid,
                run_id,
                now,
                claims,
                references,
                statuses,
                external,
                errors,
                self._count_values() if counts else None,
            )
            # What the host app learns (updated_since, webhooks) is written with the items.
            self.events += claim_events.recorded_outcomes(
                self.integration.organization_id,
                iid,
                [
                    (claim, status, detail if status == "exported" else (detail or {}).get("code"))
                    for claim, _reference, status, detail in rows
                    if claim in written
                ],
            )
        return written

    def _count_values(self) -> tuple[int, int, int, int]:
        """Total, exported, failed and skipped (reconciled) so far."""
        total = max(self.total, self.exported + self.failed)
        return total, self.exported, self.failed, self.reconciled

    def _save_counts(self) -> None:
        total, exported, failed, skipped = self._count_values()
        SyncRun.update(
            total_count=total,
            exported_count=exported,
            failed_count=failed,
            skipped_count=skipped,
        ).where(SyncRun.id == self.run_row.id).execute()

    def _counts(self) -> dict[str, Any]:
        """The run's final counts, and the enrichments its adapter went without."""
        notes = self.adapter.notes if self.adapter is not None else ()
        return {
            "total_count": max(self.total, self.exported + self.failed),
            "exported_count": self.exported,
            "failed_count": self.failed,
            "skipped_count": self.reconciled,
            "notes": [note.as_dict() for note in notes] or None,
        }

    # -- endings ---------------------------------------------------------------------------

    def _complete(self) -> str:
        system = type_name(self.integration)
        status, kind, message = endings.completed(
            system, self.exported, self.failed, self.reconciled
        )
        if status in ("succeeded", "partial"):
            integrations.record_success(self.integration, self.exported)
        finish(self.run_row, status, error_kind=kind, message=message, **self._counts())
        return status

    def _progress_note(self) -> Callable[[], str]:
        exported, total = self.exported, self.total

        def note() -> str:
            if not exported:
                return ""
            return " " + _(
                "%(exported)d of %(total)d claims were exported before it stopped; the rest "
                "follow with the next export.",
                exported=exported,
                total=max(total, exported),
            )

        return note

    def _stopped(self, error: AdapterError) -> str:
        """A run-level failure: auth, permission, configuration or a provider that is down."""
        kind = error.kind if error.kind in ("auth", "permission", "config", "transient") else "data"
        note = self._progress_note()
        retry_in = None
        waiting_until = None
        system = type_name(self.integration)
        if kind == "transient" and self._long_wait(error):
            # The provider said when it takes calls again: the run resumes then by itself.
            delay = float(error.retry_after or 0)
            waiting_until = utcnow() + dt.timedelta(seconds=delay)
            create_retry(self.integration.id, delay=delay)
        elif kind == "transient":
            retry_in = self._schedule_retry()
        tz = self.integration.organization.time_zone

        def render() -> str:
            if waiting_until is not None:
                locale = current_locale()
                return (
                    _(
                        "The export is waiting for %(system)s until %(time)s: %(system)s takes no "
                        "more calls before then. Ledgerlink goes on by itself at that time.",
                        system=_t(system),
                        time=format_local(waiting_until, tz, locale),
                    )
                    + note()
                )
            text = _(
                "The export to %(system)s stopped: %(reason)s",
                system=_t(system),
                reason=_t(error.message),
            )
            text += note()
            if retry_in is not None:
                text += " " + ngettext(
                    "Ledgerlink tries again in %(num)d minute.",
                    "Ledgerlink tries again in %(num)d minutes.",
                    max(1, round(retry_in / 60)),
                )
            elif kind == "transient":
                text += " " + _("Ledgerlink tries again at the next scheduled export.")
            return text

        if kind in ("auth", "permission"):
            # Before the run is final: whoever sees it final also sees why.
            self._needs_reauth(error)
        message: dict[str, Any] = bilingual(render) | {"code": error.provider_code}
        if error.details:
            message["details"] = dict(error.details)
        if waiting_until is not None:
            message["waiting_until"] = waiting_until.isoformat()
        finish(self.run_row, "failed", error_kind=kind, message=message, **self._counts())
        return "failed"

    @staticmethod
    def _long_wait(error: AdapterError) -> bool:
        cap = float(setting("EXPORT_MAX_RETRY_WAIT"))
        return bool(error.retry_after) and float(error.retry_after or 0) > cap

    def _needs_reauth(self, error: AdapterError) -> None:
        audit.record(
            "export.rejected",
            organization=self.integration.organization_id,
            target_type="sync_run",
            target_id=self.run_row.id,
            outcome="failed",
            detail=f"{error.kind}: {error.provider_code or ''}"[:200],
        )
        for _attempt in range(3):
            integration = Integration.get_by_id(self.integration.id)
            if integration.status == "needs_reauth":
                return
            try:
                integrations.mark_needs_reauth(integration, error)
                return
            except integrations.StaleVersion:
                continue  # a coordinator saved something meanwhile: read it again

    def _schedule_retry(self) -> float | None:
        delays = list(setting("EXPORT_RETRY_DELAYS") or ())
        depth = 0
        for (trigger,) in (
            SyncRun.select(SyncRun.trigger)
            .where((SyncRun.integration == self.integration.id) & (SyncRun.id <= self.run_row.id))
            .order_by(SyncRun.id.desc())
            .limit(len(delays) + 1)
            .tuples()
        ):
            if trigger != "retry":
                break
            depth += 1
        if depth >= len(delays):
            return None
        create_retry(self.integration.id, delay=float(delays[depth]))
        return float(delays[depth])

    def _not_run(self, status: str) -> str:
        kind, message = endings.not_run(status)
        finish(self.run_row, "failed", error_kind=kind, message=message, **self._counts())
        return "failed"

    def _crashed(self) -> str:
        message = endings.crashed(self._progress_note())
        finish(self.run_row, "failed", message=message, **self._counts())
        return "failed"
