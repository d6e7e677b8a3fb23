"""Sending claimed batches (step 2): the provider calls and their bounded retries.

`deliver` touches no database and no app context, so that the run can send batches on a worker
thread (`Sender`) while its own thread records the outcome of the batch before and claims the
next one; exactly one call is in flight at a time, and only for a batch whose claim committed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
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
    # The batch as handed over, and whether a request carrying it may have left
    # (`Adapter.carried`): if not, its claims go back to waiting when the run stops.
    handed: list[Voucher] = field(init=False)
    carried: bool = False

    def __post_init__(self) -> None:
        self.handed = self.batch


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


# Vouchers prepared between two looks at whether their batch has started (about 1 ms).
PREPARE_STEP = 25


class Sender:
    """One worker thread that sends the batches handed to it (`send`), in order, one call at
    a time.

    A batch is handed over only once its claim has committed. The next one starts as soon as
    the one before it was answered without an error, without waiting for the run's thread,
    which meanwhile records that answer. After an error, or once the run leaves the `with`
    block, nothing more starts; leaving waits for the call in flight, so that `unsent` then
    names exactly the vouchers no request carried.
    """

    def __init__(self, adapter: Adapter, policy: RetryPolicy, run_id: int) -> None:
        self.adapter = adapter
        self.policy = policy
        self.run_id = run_id
        self._changed = threading.Condition()
        self._queue: deque[list[Voucher]] = deque()  # handed over, not started
        self._answers: deque[Delivery] = deque()  # answered, not yet taken by `wait`
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name=f"export-{run_id}", daemon=True)
        self._thread.start()

    def send(self, batch: list[Voucher]) -> None:
        """Send `batch`, whose claim has committed, once the batches before it are answered."""
        with self._changed:
            self._queue.append(batch)
            self._changed.notify_all()

    def prepare(self, batch: list[Voucher]) -> None:
        """Have the adapter prepare `batch`, handed over and waiting for the call in flight, a
        few vouchers at a time while it waits; what is left once it starts, `export` does on
        the sender's thread (whichever thread would otherwise wait does the work)."""
        for start in range(0, len(batch), PREPARE_STEP):
            with self._changed:
                if not any(waiting is batch for waiting in self._queue):
                    return
            self.adapter.prepare(batch[start : start + PREPARE_STEP])

    def wait(self) -> Delivery:
        """The answer to the oldest batch handed over whose answer was not taken yet."""
        with self._changed:
            while not self._answers:
                self._changed.wait()
            return self._answers.popleft()

    def unsent(self) -> list[Voucher]:
        """Once the `with` block is left: vouchers of batches that never started, and of an
        answer not taken whose call never left."""
        with self._changed:
            vouchers = [voucher for batch in self._queue for voucher in batch]
            for delivery in self._answers:
                if not delivery.carried:
                    vouchers += delivery.batch
            return vouchers

    def _work(self) -> None:
        while True:
            with self._changed:
                while not (self._queue or self._stopped):
                    self._changed.wait()
                if self._stopped:
                    return
                batch = self._queue.popleft()
                self.adapter.carried = False
            try:
                delivery = deliver(self.adapter, batch, self.policy, self.run_id)
            except BaseException as error:  # never leave the run waiting for an answer
                delivery = Delivery(batch, error=error)
            delivery.carried = self.adapter.carried
            with self._changed:
                self._answers.append(delivery)
                self._stopped = self._stopped or delivery.error is not None
                self._changed.notify_all()

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        self._thread.join()
