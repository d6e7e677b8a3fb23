"""What an export or a code check went without: `sync_run.notes`, the enrichments an adapter
skipped (dimensions it may not read, a readback it may not make), and `reference_cache.skipped`,
a reference list the system would not give (with the note saying why), each with what an admin
can grant."""

from webapp.db import JSONTextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("sync_run", "notes", JSONTextField(null=True)),
        migrator.add_column("reference_cache", "skipped", JSONTextField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("reference_cache", "skipped"),
        migrator.drop_column("sync_run", "notes"),
    )
