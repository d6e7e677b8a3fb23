"""Migrations apply on an empty PostgreSQL database and on SQLite."""

from __future__ import annotations

from tests import services
from webapp.db import open_database
from webapp.migrate import pending, upgrade
from webapp.models import MODELS as CORE
from webapp.models_runs import MODELS as RUNS

MODELS = CORE + RUNS


def _check(database) -> None:
    with database.connection_context():
        assert upgrade(database)[:2] == ["0001_initial", "0002_claims_api"]
        assert upgrade(database) == []
        assert pending(database) == []
        tables = set(database.get_tables())
    assert {m._meta.table_name for m in MODELS} <= tables


def test_migrations_on_empty_postgresql():
    with services.postgres_database() as url:
        database = open_database(url)
        _check(database)
        database.close()


def test_migrations_on_sqlite(tmp_path):
    _check(open_database(f"sqlite:///{tmp_path / 'ledgerlink.db'}"))


def test_migrated_columns_match_the_models(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.connection_context():
        upgrade(database)
        for model in MODELS:
            columns = {c.name for c in database.get_columns(model._meta.table_name)}
            assert columns == {f.column_name for f in model._meta.sorted_fields}, model.__name__
