"""Sending one claimed batch (step 2): the provider call and its bounded retries.

`deliver` touches no database and no app context, so that the run can send a batch on a worker
thread (`Sender`) while its own thread records the previous batch's outcome and claims the
next one; exactly one call is in flight at a time, and only for a batch whose claim committed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from adapters.base import Adapter
from adapters.errors import TransientError
from adapters.types import ExportResult, Voucher
from webapp.services.exports.settings import UNANSWERED, log, setting


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long one batch is tried again inside a run (read in the run's thread)."""

    attempts: int
    backoff: float
    settle: float
    max_wait: float

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            attempts=int(setting("EXPORT_SEND_ATTEMPTS")),
            backoff=float(setting("EXPORT_SEND_BACKOFF")),
            settle=float(setting("EXPORT_SETTLE_SECONDS")),
            max_wait=float(setting("EXPORT_MAX_RETRY_WAIT")),
        )


@dataclass
class Delivery:
    """What became of a batch: `found` (reference → provider id) were already there when
    asked before a resend; `results` answer for `batch`, the rest of the batch; `error`
    ended the tries (the run stops on it once `found` is recorded)."""

    batch: list[Voucher]
    found: dict[str, str] = field(default_factory=dict)
    results: list[ExportResult] = field(default_factory=list)
    error: BaseException | None = None


def deliver(adapter: Adapter, batch: list[Voucher], policy: RetryPolicy, run_id: int) -> Delivery:
    """Send a claimed batch; after a transient failure ask the provider what it already has
    before sending the rest again (the failed call may have reached it)."""
    delivery = Delivery(batch)
    attempt = 0
    try:
        while delivery.batch:
            try:
                if attempt:
                    found = adapter.find_exported([v.reference for v in delivery.batch])
                    if found:
                        delivery.found.update(found)
                        delivery.batch = [v for v in delivery.batch if v.reference not in found]
                        if not delivery.batch:
                            break
                delivery.results = adapter.export(delivery.batch)
                break
            except TransientError as error:
                attempt += 1
                if attempt >= policy.attempts:
                    raise
                wait = policy.backoff * 2 ** (attempt - 1)
                if error.provider_code in UNANSWERED:
                    wait = max(wait, policy.settle)
                if error.retry_after:
                    if float(error.retry_after) > policy.max_wait:
                        raise  # longer than a run should sleep: it waits as a later run
                    wait = max(wait, float(error.retry_after))
                log.info(
                    "export run %s: %s, trying the batch again in %.1fs",
                    run_id,
                    error.provider_code,
                    wait,
                )
                time.sleep(wait)
    except Exception as error:  # handed to the run's thread, which stops the run on it
        delivery.error = error
    return delivery


# Vouchers prepared between two looks at whether the call in flight has ended (about 1 ms).
PREPARE_STEP = 25


class Sender:
    """One worker thread that sends one batch at a time for a run.

    Leaving the `with` block waits for a call still in flight, so that whoever decides what to
    release after a failure sees whether that call left (`Adapter.carried`).
    """

    def __init__(self, adapter: Adapter, policy: RetryPolicy, run_id: int) -> None:
        self.adapter = adapter
        self.policy = policy
        self.run_id = run_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"export-{run_id}")
        self._future: Future[Delivery] | None = None

    def start(self, batch: list[Voucher]) -> None:
        """Send `batch`, whose claim has committed (no other call may be in flight)."""
        assert self._future is None, "one call in flight at a time"
        self.adapter.carried = False
        self._future = self._pool.submit(deliver, self.adapter, batch, self.policy, self.run_id)

    def prepare(self, batch: list[Voucher]) -> None:
        """Have the adapter prepare `batch` (the next to send) while the call in flight lasts,
        a few vouchers at a time; what is left when it ends, `export` does on the sender's
        thread (whichever thread would otherwise wait does the work)."""
        for start in range(0, len(batch), PREPARE_STEP):
            if self._future is None or self._future.done():
                return
            self.adapter.prepare(batch[start : start + PREPARE_STEP])

    def wait(self) -> Delivery:
        """The answer to the batch in flight."""
        assert self._future is not None
        try:
            return self._future.result()
        finally:
            self._future = None

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True)
        self._future = None
