"""The database handle and the field types every model shares.

`db` is a proxy, initialised by the app factory (or a worker) from `DATABASE_URL`, so the
same models run on PostgreSQL in production and on SQLite in the embedded default.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import ROUND_HALF_UP, Decimal

from peewee import DatabaseProxy, DateTimeField, DecimalField, PostgresqlDatabase, TextField
from playhouse.db_url import connect, parseresult_to_dict
from playhouse.postgres_ext import PooledPsycopg3Database

db = DatabaseProxy()

OERE = Decimal("0.01")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PooledPostgresDatabase(PooledPsycopg3Database):
    """PostgreSQL connections kept open between requests (a new one costs more than most
    requests). A connection goes back to the pool only clean: no transaction open and no
    session advisory lock (the export lock) left on it; otherwise it is closed."""

    def _can_reuse(self, conn) -> bool:
        if not super()._can_reuse(conn):
            return False
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock_all()")
            if not conn.autocommit:
                conn.rollback()
        except Exception:
            return False
        return True


def _forget_connections_after_fork() -> None:
    """A forked child (an RQ work horse) must never use its parent's sockets: it forgets
    them (without closing: they are the parent's) and opens its own."""
    database = db.obj
    if database is None:
        return
    if isinstance(database, PooledPostgresDatabase):
        database._connections = []
        database._in_use = {}
    database._state.reset()


os.register_at_fork(after_in_child=_forget_connections_after_fork)


def open_database(url: str, *, pool: bool = False):
    """A peewee database for a URL (`postgresql://…` or `sqlite:///path`); `pool` keeps
    PostgreSQL connections open between requests (SQLite is never pooled)."""
    if url.startswith("sqlite"):
        # WAL lets the in-process worker write while a request reads; foreign keys are off
        # by default in SQLite.
        return connect(
            url,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000},
        )
    if url.startswith("postgresql+psycopg"):
        url = "postgresql" + url[len("postgresql+psycopg") :]
    if pool:
        from urllib.parse import urlparse

        params = parseresult_to_dict(urlparse(url))
        return PooledPostgresDatabase(max_connections=32, stale_timeout=300, **params)
    return connect(url, prefer_psycopg3=True)


def init_database(url: str, *, pool: bool = False):
    database = open_database(url, pool=pool)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


class UTCDateTimeField(DateTimeField):
    """Timezone-aware UTC in Python, naive UTC in the database (same on both engines)."""

    def db_value(self, value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, str):
            value = self.adapt(value)
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
            return value.astimezone(dt.UTC)
        return value


class MoneyField(DecimalField):
    """Amounts in NOK as `Decimal` rounded to øre; never float in Python."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(**kwargs)

    def db_value(self, value):
        if value is None:
            return None
        return Decimal(str(value)).quantize(OERE, rounding=ROUND_HALF_UP)

    def python_value(self, value):
        if value is None:
            return None
        # SQLite hands NUMERIC back as float; two decimals survive str() exactly.
        return Decimal(str(value)).quantize(OERE, rounding=ROUND_HALF_UP)


class JSONTextField(TextField):
    """JSON in a text column: portable between SQLite and PostgreSQL, proxy-safe."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)
