"""One export per integration at a time: a PostgreSQL advisory lock held by the job's
connection, or a process lock on SQLite.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from webapp.db import db, is_postgres
from webapp.services.exports.settings import LOCK_CLASS

# --- the export lock ---------------------------------------------------------------------------

_local_locks: dict[int, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _local_lock(integration_id: int) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(integration_id, threading.Lock())


@contextlib.contextmanager
def export_lock(integration_id: int, wait: float = 0.0) -> Iterator[bool]:
    """Hold the integration's export lock if it can be had within `wait` seconds; yields it.

    On PostgreSQL a session advisory lock on this thread's connection: it survives commits
    and goes away with the connection, so a worker killed mid-run never leaves it behind.
    """
    deadline = time.monotonic() + wait
    if is_postgres():
        while True:
            got = bool(
                db.execute_sql(
                    "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, integration_id)
                ).fetchone()[0]
            )
            if got or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        try:
            yield got
        finally:
            if got:
                db.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, integration_id))
        return
    lock = _local_lock(integration_id)
    got = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()
