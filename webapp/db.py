"""The database handle and the field types every model shares.

`db` is a proxy, initialised by the app factory (or a worker) from `DATABASE_URL`, so the
same models run on PostgreSQL in production and on SQLite in the embedded default.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal

from peewee import DatabaseProxy, DateTimeField, DecimalField, TextField
from playhouse.db_url import connect

db = DatabaseProxy()

OERE = Decimal("0.01")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_database(url: str):
    """A peewee database for a URL (`postgresql://…` or `sqlite:///path`)."""
    if url.startswith("sqlite"):
        # WAL lets the in-process worker write while a request reads; foreign keys are off
        # by default in SQLite.
        return connect(
            url,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000},
        )
    if url.startswith("postgresql+psycopg"):
        url = "postgresql" + url[len("postgresql+psycopg") :]
    return connect(url, prefer_psycopg3=True)


def init_database(url: str):
    database = open_database(url)
    db.initialize(database)
    return database


def is_postgres() -> bool:
    return db.obj is not None and "postgres" in type(db.obj).__name__.lower()


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
