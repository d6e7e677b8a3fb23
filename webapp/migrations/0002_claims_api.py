"""Claims API: claim routing, one ledger per claim, API keys, idempotency, webhooks.

Moves existing data:
- a claim already exported (or tried) by an integration is routed to it; the other claims of
  an organisation with exactly one integration are routed to that one, which also becomes
  the organisation's default;
- a claim exported by more than one integration keeps one export item (the exported one,
  earliest first) and the others move to `export_duplicate`: each is a voucher booked twice
  that a coordinator should reverse;
- `export_item.claim_id` becomes unique: a claim belongs to one organisation, so this is
  the (organization, claim) key of DESIGN §3 enforced by the database.

Frozen copies of the new tables, independent of `webapp.models`, as pwmigrate expects.
"""

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from webapp.db import JSONTextField, MoneyField, UTCDateTimeField, utcnow

# Which of a claim's export items survives: booked beats in flight beats failed.
_KEEP_ORDER = {"exported": 0, "pending": 1, "failed": 2}


def _models(_db):
    class BaseModel(Model):
        class Meta:
            database = _db
            legacy_table_names = False

    # Stand-ins for existing tables, only so the new tables can point at them.
    class Organization(BaseModel):
        id = AutoField()

    class User(BaseModel):
        id = AutoField()

    class Integration(BaseModel):
        id = AutoField()

    class ExpenseClaim(BaseModel):
        id = AutoField()

    class ExportDuplicate(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        integration = ForeignKeyField(Integration, on_delete="CASCADE")
        claim = ForeignKeyField(ExpenseClaim, on_delete="CASCADE")
        run_id = IntegerField(null=True)
        reference = CharField(max_length=64)
        status = CharField(max_length=16)
        external_id = CharField(max_length=200, null=True)
        created_at = UTCDateTimeField(default=utcnow)
        moved_at = UTCDateTimeField(default=utcnow)

    class RoutingRule(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        integration = ForeignKeyField(Integration, on_delete="CASCADE")
        department = CharField(max_length=64, default="")
        project = CharField(max_length=64, default="")
        created_at = UTCDateTimeField(default=utcnow)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

        class Meta:
            indexes = ((("organization", "department", "project"), True),)

    class ApiKey(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        name = CharField(max_length=100)
        prefix = CharField(max_length=32, unique=True)
        key_hash = CharField(max_length=64, unique=True)
        scopes = JSONTextField(default=list)
        created_at = UTCDateTimeField(default=utcnow)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        last_used_at = UTCDateTimeField(null=True)
        revoked_at = UTCDateTimeField(null=True)
        revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class IdempotencyKey(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        key = CharField(max_length=255)
        request_hash = CharField(max_length=64)
        status_code = IntegerField(null=True)
        response_body = TextField(null=True)
        created_at = UTCDateTimeField(default=utcnow, index=True)

        class Meta:
            indexes = ((("organization", "key"), True),)

    class WebhookEndpoint(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        url = CharField(max_length=2000)
        description = CharField(max_length=200, default="")
        events = JSONTextField(default=list)
        secret_token = TextField()
        enabled = BooleanField(default=True)
        created_at = UTCDateTimeField(default=utcnow)
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class OutboxEvent(BaseModel):
        id = AutoField()
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        message_id = CharField(max_length=64, unique=True)
        event_type = CharField(max_length=64)
        payload = JSONTextField(default=dict)
        created_at = UTCDateTimeField(default=utcnow, index=True)
        dispatched_at = UTCDateTimeField(null=True, index=True)

    class WebhookDelivery(BaseModel):
        id = AutoField()
        event = ForeignKeyField(OutboxEvent, on_delete="CASCADE")
        endpoint = ForeignKeyField(WebhookEndpoint, on_delete="CASCADE")
        attempt = IntegerField(default=1)
        status = CharField(max_length=16, default="pending")
        status_code = IntegerField(null=True)
        error = TextField(default="")
        duration_ms = IntegerField(null=True)
        next_attempt_at = UTCDateTimeField(null=True, index=True)
        created_at = UTCDateTimeField(default=utcnow)

    return Integration, [
        ExportDuplicate,
        RoutingRule,
        ApiKey,
        IdempotencyKey,
        WebhookEndpoint,
        OutboxEvent,
        WebhookDelivery,
    ]


def up(migrator, db):
    integration, tables = _models(db)
    db.create_tables(tables)
    migrator.migrate(
        migrator.add_column(
            "organization",
            "default_integration_id",
            ForeignKeyField(integration, null=True, on_delete="SET NULL", field=integration.id),
        ),
        migrator.add_column(
            "expense_claim",
            "integration_id",
            ForeignKeyField(integration, null=True, on_delete="SET NULL", field=integration.id),
        ),
        migrator.add_column("expense_claim", "external_id", CharField(max_length=200, null=True)),
        migrator.add_column("expense_claim", "source", CharField(max_length=16, default="")),
        migrator.add_column(
            "expense_claim", "receipts_url", CharField(max_length=2000, default="")
        ),
        migrator.add_column("expense_claim", "updated_at", UTCDateTimeField(default=utcnow)),
        migrator.add_column("expense_claim_line", "rate", MoneyField(null=True)),
    )
    db.execute_sql("UPDATE expense_claim SET updated_at = created_at")
    _move_duplicates(db)
    _route_existing_claims(db)
    migrator.migrate(
        # The claim's plain foreign-key index becomes the unique one.
        migrator.drop_index("export_item", "export_item_claim_id"),
        migrator.add_index("export_item", ("claim_id",), unique=True),
        migrator.add_index("expense_claim", ("organization_id", "external_id"), unique=True),
        migrator.add_index("expense_claim", ("updated_at",)),
    )


def _move_duplicates(db) -> None:
    """Keep one export item per claim; the others go to `export_duplicate`."""
    rows = db.execute_sql(
        "SELECT e.id, e.integration_id, e.claim_id, e.run_id, e.reference, e.status, "
        "e.external_id, e.created_at, c.organization_id FROM export_item e "
        "JOIN expense_claim c ON c.id = e.claim_id WHERE e.claim_id IN "
        "(SELECT claim_id FROM export_item GROUP BY claim_id HAVING COUNT(*) > 1) "
        "ORDER BY e.claim_id"
    ).fetchall()
    by_claim: dict[int, list[tuple]] = {}
    for row in rows:
        by_claim.setdefault(row[2], []).append(row)
    param = "%s" if "postgres" in type(db).__name__.lower() else "?"
    now = UTCDateTimeField().db_value(utcnow())
    for items in by_claim.values():
        items.sort(key=lambda r: (_KEEP_ORDER.get(r[5], 3), str(r[7]), r[0]))
        for item_id, iid, claim_id, run_id, ref, status, ext, created, org_id in items[1:]:
            db.execute_sql(
                "INSERT INTO export_duplicate (organization_id, integration_id, claim_id, "
                "run_id, reference, status, external_id, created_at, moved_at) "
                f"VALUES ({', '.join([param] * 9)})",
                (org_id, iid, claim_id, run_id, ref, status, ext, created, now),
            )
            db.execute_sql(f"DELETE FROM export_item WHERE id = {param}", (item_id,))


def _route_existing_claims(db) -> None:
    """Route each claim to the integration that exported it, else the org's only one."""
    db.execute_sql(
        "UPDATE expense_claim SET integration_id = (SELECT e.integration_id FROM export_item e "
        "WHERE e.claim_id = expense_claim.id) WHERE integration_id IS NULL"
    )
    only_one = (
        "(SELECT MIN(i.id) FROM integration i WHERE i.organization_id = {table}.organization_id "
        "HAVING COUNT(*) = 1)"
    )
    db.execute_sql(
        "UPDATE organization SET default_integration_id = "
        "(SELECT MIN(i.id) FROM integration i WHERE i.organization_id = organization.id "
        "HAVING COUNT(*) = 1) WHERE default_integration_id IS NULL"
    )
    db.execute_sql(
        f"UPDATE expense_claim SET integration_id = {only_one.format(table='expense_claim')} "
        "WHERE integration_id IS NULL"
    )


def down(migrator, db):
    _integration, tables = _models(db)
    migrator.migrate(
        migrator.drop_index("export_item", "export_item_claim_id"),
        migrator.add_index("export_item", ("claim_id",)),
        migrator.drop_index("expense_claim", "expense_claim_organization_id_external_id"),
        migrator.drop_index("expense_claim", "expense_claim_updated_at"),
        migrator.drop_index("expense_claim", "expense_claim_integration_id"),
        migrator.drop_index("organization", "organization_default_integration_id"),
        migrator.drop_column("expense_claim_line", "rate"),
        migrator.drop_column("expense_claim", "updated_at"),
        migrator.drop_column("expense_claim", "receipts_url"),
        migrator.drop_column("expense_claim", "source"),
        migrator.drop_column("expense_claim", "external_id"),
        migrator.drop_column("expense_claim", "integration_id"),
        migrator.drop_column("organization", "default_integration_id"),
    )
    db.drop_tables(list(reversed(tables)))
