"""Real PostgreSQL and Redis for the tests: start them if needed, isolate each run."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager

import psycopg
from redis import Redis

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("TEST_REDIS_BASE", "redis://127.0.0.1:6379")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start on 127.0.0.1:{port}")
        time.sleep(0.2)


def ensure_postgres() -> None:
    if _port_open(5432):
        return
    versions = [os.path.basename(p) for p in glob.glob("/etc/postgresql/*")]
    for version in versions:
        subprocess.call(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"])
    _wait(5432, "PostgreSQL")


def ensure_redis() -> None:
    if _port_open(6379):
        return
    subprocess.call(
        "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
        "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
        shell=True,
    )
    _wait(6379, "Redis")


@contextmanager
def postgres_database():
    """A new, uniquely named database, dropped afterwards; yields its URL."""
    name = f"ledgerlink_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_database():
    """Claim an empty Redis database number (1–15) for this run; yields its URL.

    The claim is the `ledgerlink:test-owner` key: tests empty the database with
    `empty_redis`, never `flushdb` alone (that drops the claim and lets another process
    take the same number while this one still uses it).
    """
    claim = f"ledgerlink:test-claim:{uuid.uuid4().hex}"
    for number in range(15, 0, -1):
        conn = Redis.from_url(f"{REDIS_BASE}/{number}")
        # Claim atomically: only an empty database, and only if nobody else claimed it.
        if conn.dbsize() == 0 and conn.set("ledgerlink:test-owner", claim, nx=True, ex=3600):
            try:
                yield f"{REDIS_BASE}/{number}"
            finally:
                if conn.get("ledgerlink:test-owner") == claim.encode():
                    conn.flushdb()
            return
    raise RuntimeError("no empty Redis database number (1-15) is free for the tests")


def empty_redis(conn: Redis) -> None:
    """Empty a claimed test database, keeping its claim (one atomic MULTI/EXEC)."""
    owner = conn.get("ledgerlink:test-owner")
    pipe = conn.pipeline(transaction=True)
    pipe.flushdb()
    if owner is not None:
        pipe.set("ledgerlink:test-owner", owner, ex=3600)
    pipe.execute()
