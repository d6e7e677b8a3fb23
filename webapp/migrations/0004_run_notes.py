"""What an export went on without: `sync_run.notes`, the enrichments an adapter skipped
(dimensions it may not read, a readback it may not make), each with what an admin can grant."""

from webapp.db import JSONTextField


def up(migrator, db):
    migrator.migrate(migrator.add_column("sync_run", "notes", JSONTextField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("sync_run", "notes"))
