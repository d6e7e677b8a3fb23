"""RQ wiring: purpose-named queues, enqueue by import path with ids only.

With `REDIS_URL` set, jobs go to Redis and `flask --app app worker` runs them. Without it
(the embedded default) they still go through RQ (an in-memory Redis and RQ's synchronous
queue) on a background thread of the web process, so the product works the same way and no
request ever waits for a job.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from redis import Redis
from rq import Queue

QUEUES = ("checks", "exports", "webhooks")
# A connection test must give up before the provider timeouts of all its checks combined.
TIMEOUTS = {"checks": 60, "exports": 3600, "webhooks": 600}
# How long RQ keeps a finished job's result; our own rows hold the outcome that matters.
RESULT_TTL = 3600

log = logging.getLogger("ledgerlink.queue")


class JobQueue:
    def __init__(self, app: Flask) -> None:
        self.app = app
        url = app.config.get("REDIS_URL")
        self.in_process = url is None
        self.connection: Redis
        if self.in_process:
            import fakeredis

            self.connection = fakeredis.FakeStrictRedis()
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rq-inproc")
        else:
            self.connection = Redis.from_url(str(url), socket_connect_timeout=2, socket_timeout=5)

    def queue(self, name: str) -> Queue:
        if name not in QUEUES:
            raise ValueError(f"unknown queue {name!r}")
        return Queue(name, connection=self.connection, is_async=not self.in_process)

    def enqueue(self, queue: str, func: str, *ids: int, job_id: str | None = None) -> str:
        """Queue `func` (an import path) with integer ids; returns the job id at once."""
        if not all(isinstance(i, int) for i in ids):
            # Jobs take ids only: never objects, never secrets.
            raise TypeError("jobs take integer ids only")
        job_id = job_id or uuid.uuid4().hex
        kwargs = {"job_id": job_id, "job_timeout": TIMEOUTS[queue], "result_ttl": RESULT_TTL}
        if self.in_process:
            self._executor.submit(self._run_in_process, queue, func, ids, kwargs)
        else:
            self.queue(queue).enqueue(func, *ids, **kwargs)
        return job_id

    def _run_in_process(self, queue: str, func: str, ids: tuple[int, ...], kwargs: dict) -> None:
        with self.app.app_context():
            try:
                self.queue(queue).enqueue(func, *ids, **kwargs)
            except Exception:  # noqa: BLE001 - the job records its own failure; keep the thread
                log.exception("in-process job %s failed", kwargs["job_id"])

    def close(self) -> None:
        """Stop taking in-process jobs: queued ones are dropped, running ones finish."""
        if self.in_process:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def ping(self) -> bool:
        return bool(self.connection.ping())


def init_app(app: Flask) -> None:
    app.extensions["queue"] = JobQueue(app)


def get_queue() -> JobQueue:
    return current_app.extensions["queue"]


def enqueue(queue: str, func: str, *ids: int, job_id: str | None = None) -> str:
    return get_queue().enqueue(queue, func, *ids, job_id=job_id)
