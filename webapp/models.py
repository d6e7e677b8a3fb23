"""The data model (DESIGN §3) as Peewee models.

Schema changes go through `webapp/migrations/` (peewee's `pwmigrate` format); these classes
describe the current schema and must stay in step with the migrations. Query helpers that
scope by organisation live here as classmethods so views cannot forget the scope.
"""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateField,
    DoesNotExist,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from webapp.db import JSONTextField, MoneyField, UTCDateTimeField, db, utcnow

ROLES = ("coordinator", "coordinator_admin")
INTEGRATION_STATUSES = ("draft", "connected", "needs_reauth", "degraded", "paused")
SCHEDULE_KINDS = ("manual", "interval", "daily", "weekly", "cron")
RUN_TRIGGERS = ("manual", "schedule", "retry")
RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed")
RUN_FINAL = ("succeeded", "partial", "failed")
ERROR_KINDS = ("auth", "permission", "config", "transient", "data")
SOURCE_KINDS = ("field", "constant", "lookup", "template")


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Organization(BaseModel):
    id = AutoField()
    name = CharField(max_length=200)
    slug = CharField(max_length=80, unique=True)
    time_zone = CharField(max_length=64, default="Europe/Oslo")
    default_locale = CharField(max_length=8, default="nb")
    created_at = UTCDateTimeField(default=utcnow)


class User(BaseModel):
    id = AutoField()
    issuer = CharField(max_length=300)
    subject = CharField(max_length=300)
    email = CharField(max_length=320, unique=True)
    display_name = CharField(max_length=200, default="")
    is_platform_admin = BooleanField(default=False)
    created_at = UTCDateTimeField(default=utcnow)
    last_login_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("issuer", "subject"), True),)

    @property
    def label(self) -> str:
        return self.display_name or self.email


class Membership(BaseModel):
    """A role in an organisation; created for an email before its owner first signs in."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    email = CharField(max_length=320)
    user = ForeignKeyField(User, null=True, backref="memberships", on_delete="CASCADE")
    role = CharField(max_length=32, default="coordinator")
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "email"), True),)

    @property
    def is_admin(self) -> bool:
        return self.role == "coordinator_admin"


class Integration(BaseModel):
    id = AutoField()
    organization = ForeignKeyField(Organization, backref="integrations", on_delete="CASCADE")
    type_key = CharField(max_length=64)
    name = CharField(max_length=200)
    status = CharField(max_length=32, default="draft", index=True)
    # Optimistic lock: every change increments it; a save with a stale version is refused.
    version = IntegerField(default=1)
    # Credential set in use for exports, and the one being entered (wizard or rotation).
    active_credential_version = IntegerField(null=True)
    pending_credential_version = IntegerField(null=True)
    wizard_step = CharField(max_length=32, default="type")
    last_test_at = UTCDateTimeField(null=True)
    last_test_outcome = CharField(max_length=16, null=True)
    last_test_checks = JSONTextField(null=True)
    last_test_fingerprint = CharField(max_length=64, null=True)
    last_test_credential_version = IntegerField(null=True)
    last_success_at = UTCDateTimeField(null=True)
    last_success_count = IntegerField(null=True)
    last_attempt_at = UTCDateTimeField(null=True)
    # Why the system rejected the saved credentials: {"nb", "en", "code", "field", "at"}.
    reauth_reason = JSONTextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_at = UTCDateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    @classmethod
    def for_org(cls, organization_id: int, integration_id: int) -> Integration:
        """The integration if it belongs to the organisation; DoesNotExist otherwise."""
        return cls.get((cls.id == integration_id) & (cls.organization == organization_id))


class IntegrationCredential(BaseModel):
    """One encrypted credential field. Only `webapp.vault` reads or writes `token`."""

    id = AutoField()
    integration = ForeignKeyField(Integration, backref="credentials", on_delete="CASCADE")
    set_version = IntegerField()
    field_name = CharField(max_length=64)
    token = TextField()
    key_id = CharField(max_length=32, index=True)
    fingerprint = CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("integration", "set_version", "field_name"), True),)


class FieldMapping(BaseModel):
    id = AutoField()
    integration = ForeignKeyField(Integration, backref="mappings", on_delete="CASCADE")
    target = CharField(max_length=64)
    source_kind = CharField(max_length=16)
    source_value = TextField(default="")
    # Lookup table as [[key, value], …] plus its default; transforms as {name: option}.
    lookup = JSONTextField(null=True)
    lookup_default = TextField(null=True)
    transforms = JSONTextField(null=True)
    position = IntegerField(default=0)
    updated_at = UTCDateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("integration", "target"), True),)


class SyncSchedule(BaseModel):
    id = AutoField()
    integration = ForeignKeyField(
        Integration, backref="schedules", unique=True, on_delete="CASCADE"
    )
    kind = CharField(max_length=16, default="manual")
    # Kind-specific settings, e.g. {"hours": 6} or {"time": "02:30", "days": [0, 3]}.
    expression = JSONTextField(default=dict)
    time_zone = CharField(max_length=64, default="Europe/Oslo")
    enabled = BooleanField(default=True)
    next_run_at = UTCDateTimeField(null=True, index=True)
    last_slot_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)


class SyncRun(BaseModel):
    id = AutoField()
    integration = ForeignKeyField(Integration, backref="runs", on_delete="CASCADE")
    trigger = CharField(max_length=16)
    job_id = CharField(max_length=128, null=True, unique=True)
    status = CharField(max_length=16, default="queued", index=True)
    error_kind = CharField(max_length=16, null=True)
    # Human message in both languages: {"nb": …, "en": …}.
    message = JSONTextField(null=True)
    total_count = IntegerField(default=0)
    exported_count = IntegerField(default=0)
    failed_count = IntegerField(default=0)
    skipped_count = IntegerField(default=0)
    slot_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)

    @property
    def is_final(self) -> bool:
        return self.status in RUN_FINAL


class ExpenseClaim(BaseModel):
    """A claim from the host expense app (written by it, by `flask demo seed` or an import)."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="claims", on_delete="CASCADE")
    claim_number = CharField(max_length=64)
    claimant_name = CharField(max_length=200)
    claimant_email = CharField(max_length=320, default="")
    # The claimant's number in the accounting system's sub-ledger, when they have one.
    claimant_number = CharField(max_length=64, default="")
    purpose = TextField(default="")
    department = CharField(max_length=64, default="")
    project = CharField(max_length=64, default="")
    status = CharField(max_length=16, default="approved", index=True)
    submitted_at = UTCDateTimeField(null=True)
    approved_at = UTCDateTimeField(null=True, index=True)
    approved_by = CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "claim_number"), True),)


class ExpenseClaimLine(BaseModel):
    id = AutoField()
    claim = ForeignKeyField(ExpenseClaim, backref="lines", on_delete="CASCADE")
    position = IntegerField(default=0)
    date = DateField()
    expense_type = CharField(max_length=64)
    amount = MoneyField()
    km = MoneyField(null=True)
    description = TextField(default="")
    department = CharField(max_length=64, default="")
    project = CharField(max_length=64, default="")
    vat_code = CharField(max_length=16, default="")


class ExportItem(BaseModel):
    """One claim's export. Unique per (integration, claim): the exactly-once key."""

    id = AutoField()
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    claim = ForeignKeyField(ExpenseClaim, on_delete="CASCADE")
    run = ForeignKeyField(SyncRun, backref="items", on_delete="CASCADE")
    reference = CharField(max_length=64)
    # pending (sent, outcome unknown), exported, failed
    status = CharField(max_length=16, default="pending")
    external_id = CharField(max_length=200, null=True)
    error = JSONTextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "claim"), True),)


class ConnectionTest(BaseModel):
    """One press of "Test connection": history, rate limiting and the job's progress."""

    id = AutoField()
    integration = ForeignKeyField(Integration, backref="tests", on_delete="CASCADE")
    credential_version = IntegerField()
    fingerprint = CharField(max_length=64)
    job_id = CharField(max_length=128, null=True)
    # queued, running, passed, failed, error (did not finish)
    status = CharField(max_length=16, default="queued")
    checks = JSONTextField(null=True)
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow, index=True)
    finished_at = UTCDateTimeField(null=True)


class ReferenceCache(BaseModel):
    """The accounting system's codes of one kind, fetched for checking mappings."""

    id = AutoField()
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    kind = CharField(max_length=32)
    items = JSONTextField(default=list)
    refreshed_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "kind"), True),)


class AuditEvent(BaseModel):
    """Who did what to which object. Changed field *names* only, never a secret value."""

    id = AutoField()
    organization = ForeignKeyField(Organization, null=True, on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_label = CharField(max_length=320, default="")
    action = CharField(max_length=64)
    target_type = CharField(max_length=32, default="")
    target_id = IntegerField(null=True)
    fields = JSONTextField(default=list)
    outcome = CharField(max_length=16, default="ok")
    detail = TextField(default="")
    created_at = UTCDateTimeField(default=utcnow, index=True)


MODELS = [
    Organization,
    User,
    Membership,
    Integration,
    IntegrationCredential,
    FieldMapping,
    SyncSchedule,
    SyncRun,
    ExpenseClaim,
    ExpenseClaimLine,
    ExportItem,
    ConnectionTest,
    ReferenceCache,
    AuditEvent,
]

__all__ = [m.__name__ for m in MODELS] + ["DoesNotExist", "MODELS", "ROLES"]
