"""Requests per API key per minute: a fixed window counted atomically.

With Redis configured the count lives there (INCR and EXPIRE in one MULTI), so every web
process shares it; the embedded default counts in this process under a lock.
"""

from __future__ import annotations

import threading
import time

from flask import current_app

DEFAULT_PER_MINUTE = 600
WINDOW = 60

_lock = threading.Lock()
_local: dict[tuple[str, int], int] = {}


def per_minute() -> int:
    return int(current_app.config.get("API_RATE_LIMIT", DEFAULT_PER_MINUTE))


def hit(key_prefix: str) -> int | None:
    """Count one request; None when allowed, else the seconds until the next window."""
    now = time.time()
    window = int(now // WINDOW)
    retry_after = max(1, int((window + 1) * WINDOW - now))
    limit = per_minute()
    if current_app.config.get("REDIS_URL"):
        from webapp.queue import get_queue

        name = f"ledgerlink:api-rate:{key_prefix}:{window}"
        pipe = get_queue().connection.pipeline(transaction=True)
        pipe.incr(name)
        pipe.expire(name, WINDOW * 2)
        count, _ok = pipe.execute()
    else:
        with _lock:
            for old in [k for k in _local if k[1] < window]:
                del _local[old]
            count = _local[(key_prefix, window)] = _local.get((key_prefix, window), 0) + 1
    return None if count <= limit else retry_after
