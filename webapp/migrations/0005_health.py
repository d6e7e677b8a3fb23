"""Connection health (DESIGN §12): issues, daily checks, secret expiry and e-mail.

- `connection_issue`: one row per cause of a broken connection, open until the first success;
- `health_check`: when each saved integration is checked next (spread over the day);
- `secret_expiry`: the "valid until" entered with a credential set's secret;
- `notification`: each message to each person, once per cause and day;
- `user.locale` / `user.notify`: the language of a person's e-mail and how often it comes;
- `sync_schedule.paused_reason`: why Ledgerlink stopped a schedule itself.

Frozen copies of the new tables, independent of `webapp.models`, as pwmigrate expects.
"""

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateField,
    ForeignKeyField,
    IntegerField,
    Model,
)

from webapp.db import JSONTextField, UTCDateTimeField, utcnow


def _models(_db):
    class BaseModel(Model):
        class Meta:
            database = _db
            legacy_table_names = False

    # Stand-ins for existing tables, only so the new tables can point at them.
    class User(BaseModel):
        id = AutoField()

    class Integration(BaseModel):
        id = AutoField()

    class ConnectionIssue(BaseModel):
        id = AutoField()
        integration = ForeignKeyField(Integration, on_delete="CASCADE")
        kind = CharField(max_length=16)
        source = CharField(max_length=16)
        message = JSONTextField(null=True)
        opened_at = UTCDateTimeField(default=utcnow)
        last_seen_at = UTCDateTimeField(default=utcnow)
        count = IntegerField(default=1)
        resolved_at = UTCDateTimeField(null=True)
        resolved_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        resolved_source = CharField(max_length=16, null=True)
        announced = BooleanField(default=False)

        class Meta:
            indexes = ((("integration", "resolved_at"), False),)

    class HealthCheck(BaseModel):
        id = AutoField()
        integration = ForeignKeyField(Integration, unique=True, on_delete="CASCADE")
        next_at = UTCDateTimeField(index=True)
        last_at = UTCDateTimeField(null=True)
        last_outcome = CharField(max_length=16, null=True)

    class SecretExpiry(BaseModel):
        id = AutoField()
        integration = ForeignKeyField(Integration, on_delete="CASCADE")
        set_version = IntegerField()
        valid_until = DateField()
        entered_at = UTCDateTimeField(default=utcnow)
        entered_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

        class Meta:
            indexes = ((("integration", "set_version"), True),)

    class Notification(BaseModel):
        id = AutoField()
        user = ForeignKeyField(User, on_delete="CASCADE")
        integration = ForeignKeyField(Integration, null=True, on_delete="CASCADE")
        kind = CharField(max_length=32)
        key = CharField(max_length=160)
        status = CharField(max_length=16, index=True)
        payload = JSONTextField(default=dict)
        attempts = IntegerField(default=0)
        created_at = UTCDateTimeField(default=utcnow)
        sent_at = UTCDateTimeField(null=True)

        class Meta:
            indexes = ((("user", "key"), True),)

    return [ConnectionIssue, HealthCheck, SecretExpiry, Notification]


def up(migrator, db):
    db.create_tables(_models(db))
    migrator.migrate(
        migrator.add_column("user", "locale", CharField(max_length=8, null=True)),
        migrator.add_column("user", "notify", CharField(max_length=16, default="immediate")),
        migrator.add_column("sync_schedule", "paused_reason", JSONTextField(null=True)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("sync_schedule", "paused_reason"),
        migrator.drop_column("user", "notify"),
        migrator.drop_column("user", "locale"),
    )
    db.drop_tables(list(reversed(_models(db))))
