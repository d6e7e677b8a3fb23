"""The mapping editor's sample claims (issue 15): an organisation's latest approved claims,
newest first, read from an index instead of sorting every claim of the organisation.

PostgreSQL keeps NULL approval times last as the query asks (`DESC NULLS LAST`); SQLite
sorts NULL lowest, so its `DESC` index already puts them last.
"""

from peewee import PostgresqlDatabase

NAME = "expense_claim_latest_approved"


def up(migrator, db):
    nulls = " NULLS LAST" if isinstance(db, PostgresqlDatabase) else ""
    db.execute_sql(
        f"CREATE INDEX IF NOT EXISTS {NAME} ON expense_claim "
        f"(organization_id, status, approved_at DESC{nulls}, id DESC)"
    )


def down(migrator, db):
    db.execute_sql(f"DROP INDEX IF EXISTS {NAME}")
