"""Apply the versioned migrations in `webapp/migrations/` (peewee's pwmigrate runner)."""

from __future__ import annotations

from pathlib import Path

from playhouse.migrations import Runner

MIGRATIONS = Path(__file__).parent / "migrations"


def runner(database) -> Runner:
    return Runner(database, directory=str(MIGRATIONS))


def upgrade(database) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    return runner(database).up()


def pending(database) -> list[str]:
    return [m.name for m in runner(database).status() if m.path and not m.applied]
