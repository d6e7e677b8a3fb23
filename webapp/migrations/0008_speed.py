"""Pages as fast as the server allows (issue 15): an integration's runs are found through an
index on `(integration_id, id)`, so the dashboard's charts read the latest 30 runs of each
integration instead of every run the organisation ever had. It replaces the index on
`integration_id` alone (its leading column serves every lookup that one served; with both,
PostgreSQL kept choosing the narrower one and sorting)."""


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("sync_run", ("integration_id", "id"), False),
        migrator.drop_index("sync_run", "sync_run_integration_id"),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.add_index("sync_run", ("integration_id",), False),
        migrator.drop_index("sync_run", "sync_run_integration_id_id"),
    )
