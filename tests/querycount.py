"""Counting the SQL statements a piece of code sends (the query-count test and bench/pages.py).

Peewee calls each hook in `Database.query_hooks` once per statement it executes, whatever
builds the statement (a model query, `execute_sql`, a transaction's savepoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def counting_queries(database) -> Iterator[list[str]]:
    """Collect the SQL of every statement `database` executes inside the block."""
    seen: list[str] = []

    def hook(event) -> None:
        seen.append(event.sql)

    database.query_hooks.append(hook)
    try:
        yield seen
    finally:
        database.query_hooks.remove(hook)
