"""The coordinator's walk (issue 16): `run_claim`, what each run did with each claim.

`export_item` holds a claim's latest outcome only (one ledger, once); a run's page needs
every claim that run booked or failed, also after a later run booked it. Filled from
`export_item` for the outcomes known so far. An integration's new `archived` status needs
no column (`integration.status` is free text checked by the services).

Frozen copy of the new table, independent of `webapp.models`, as pwmigrate expects.
"""

from peewee import AutoField, CharField, ForeignKeyField, Model

from webapp.db import JSONTextField, UTCDateTimeField, utcnow


def _models(_db):
    class BaseModel(Model):
        class Meta:
            database = _db
            legacy_table_names = False

    class SyncRun(BaseModel):
        id = AutoField()

    class ExpenseClaim(BaseModel):
        id = AutoField()

    class RunClaim(BaseModel):
        id = AutoField()
        run = ForeignKeyField(SyncRun, on_delete="CASCADE")
        claim = ForeignKeyField(ExpenseClaim, on_delete="CASCADE")
        reference = CharField(max_length=64)
        status = CharField(max_length=16)
        external_id = CharField(max_length=200, null=True)
        error = JSONTextField(null=True)
        created_at = UTCDateTimeField(default=utcnow)

        class Meta:
            indexes = ((("run", "claim"), True),)

    return RunClaim


def up(migrator, db):
    db.create_tables([_models(db)])
    db.execute_sql(
        "INSERT INTO run_claim (run_id, claim_id, reference, status, external_id, error, "
        "created_at) SELECT run_id, claim_id, reference, status, external_id, error, updated_at "
        "FROM export_item WHERE status IN ('exported', 'failed')"
    )


def down(migrator, db):
    db.drop_tables([_models(db)])
