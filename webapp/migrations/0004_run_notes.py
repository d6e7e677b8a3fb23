"""What an export or a code check went without: `sync_run.notes`, the enrichments an adapter
skipped (dimensions it may not read, a readback it may not make), and `reference_cache.skipped`,
a reference list the system would not give (with the note saying why), each with what an admin
can grant.

Business Central lines now carry the claim's reference as their document number (posted G/L
entries are read back by it, having no externalDocumentNumber), so the `documentNumber` rows of
Business Central mappings go; the claim number stays in the description template."""

from webapp.db import JSONTextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("sync_run", "notes", JSONTextField(null=True)),
        migrator.add_column("reference_cache", "skipped", JSONTextField(null=True)),
    )
    db.execute_sql(
        "DELETE FROM field_mapping WHERE target = 'documentNumber' AND integration_id IN "
        "(SELECT id FROM integration WHERE type_key = 'dynamics_bc')"
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("reference_cache", "skipped"),
        migrator.drop_column("sync_run", "notes"),
    )
