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
    DeferredForeignKey,
    DoesNotExist,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from webapp.db import JSONTextField, MoneyField, UTCDateTimeField, db, utcnow

ROLES = ("coordinator", "coordinator_admin")
INTEGRATION_STATUSES = ("draft", "connected", "needs_reauth", "degraded", "paused", "archived")
SCHEDULE_KINDS = ("manual", "interval", "daily", "weekly", "cron")
RUN_TRIGGERS = ("manual", "schedule", "retry")
RUN_STATUSES = ("queued", "running", "succeeded", "partial", "failed")
RUN_FINAL = ("succeeded", "partial", "failed")
ERROR_KINDS = ("auth", "permission", "config", "transient", "data")
SOURCE_KINDS = ("field", "constant", "lookup", "template")
ISSUE_KINDS = ("auth", "permission", "config", "unreachable", "rate_limited", "data")
NOTIFY_CHOICES = ("immediate", "digest", "off")


class BaseModel(Model):
    """Each foreign key `x` also has its column `x_id`, annotated beside it for the type
    checker (peewee adds the attribute itself)."""

    class Meta:
        database = db
        legacy_table_names = False


class Organization(BaseModel):
    id = AutoField()
    name = CharField(max_length=200)
    slug = CharField(max_length=80, unique=True)
    time_zone = CharField(max_length=64, default="Europe/Oslo")
    default_locale = CharField(max_length=8, default="nb")
    # Where claims go when neither the host app nor a routing rule names an integration.
    default_integration = DeferredForeignKey(
        "Integration", null=True, on_delete="SET NULL", backref="+"
    )
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
    # Bumped on sign-out: every session cookie carrying an older epoch is void.
    session_epoch = IntegerField(default=0)
    # E-mail: the language it is written in (None: the organisation's) and how often it comes.
    locale = CharField(max_length=8, null=True)
    notify = CharField(max_length=16, default="immediate")  # immediate, digest, off

    class Meta:
        indexes = ((("issuer", "subject"), True),)

    @property
    def label(self) -> str:
        return self.display_name or self.email


class Membership(BaseModel):
    """A role in an organisation; created for an email before its owner first signs in."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    organization_id: int
    email = CharField(max_length=320)
    user = ForeignKeyField(User, null=True, backref="memberships", on_delete="CASCADE")
    user_id: int | None
    role = CharField(max_length=32, default="coordinator")
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    invited_by_id: int | None
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organization", "email"), True),)

    @property
    def is_admin(self) -> bool:
        return self.role == "coordinator_admin"


class Integration(BaseModel):
    id = AutoField()
    organization = ForeignKeyField(Organization, backref="integrations", on_delete="CASCADE")
    organization_id: int
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
    created_by_id: int | None
    updated_at = UTCDateTimeField(default=utcnow)
    updated_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    updated_by_id: int | None

    @classmethod
    def for_org(cls, organization_id: int, integration_id: int) -> Integration:
        """The integration if it belongs to the organisation; DoesNotExist otherwise."""
        return cls.get((cls.id == integration_id) & (cls.organization == organization_id))


class IntegrationCredential(BaseModel):
    """One encrypted credential field. Only `webapp.vault` reads or writes `token`."""

    id = AutoField()
    integration = ForeignKeyField(Integration, backref="credentials", on_delete="CASCADE")
    integration_id: int
    set_version = IntegerField()
    field_name = CharField(max_length=64)
    token = TextField()
    key_id = CharField(max_length=32, index=True)
    fingerprint = CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: int | None

    class Meta:
        indexes = ((("integration", "set_version", "field_name"), True),)


class FieldMapping(BaseModel):
    id = AutoField()
    integration = ForeignKeyField(Integration, backref="mappings", on_delete="CASCADE")
    integration_id: int
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
    updated_by_id: int | None

    class Meta:
        indexes = ((("integration", "target"), True),)


class SyncSchedule(BaseModel):
    id = AutoField()
    integration = ForeignKeyField(
        Integration, backref="schedules", unique=True, on_delete="CASCADE"
    )
    integration_id: int
    kind = CharField(max_length=16, default="manual")
    # Kind-specific settings, e.g. {"hours": 6} or {"time": "02:30", "days": [0, 3]}.
    expression = JSONTextField(default=dict)
    time_zone = CharField(max_length=64, default="Europe/Oslo")
    enabled = BooleanField(default=True)
    next_run_at = UTCDateTimeField(null=True, index=True)
    last_slot_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)
    # Set when Ledgerlink stopped the schedule itself ({"nb", "en", "at"}), e.g. after seven
    # days of rejected sign-ins; cleared when the credentials pass a test again.
    paused_reason = JSONTextField(null=True)


class SyncRun(BaseModel):
    id = AutoField()
    # Indexed with the run's id (Meta): an integration's latest runs.
    integration = ForeignKeyField(Integration, backref="runs", on_delete="CASCADE", index=False)
    integration_id: int
    trigger = CharField(max_length=16)
    job_id = CharField(max_length=128, null=True, unique=True)
    status = CharField(max_length=16, default="queued", index=True)
    error_kind = CharField(max_length=16, null=True)
    # Human message in both languages: {"nb": …, "en": …}.
    message = JSONTextField(null=True)
    # Enrichments the adapter skipped: [{"key", "nb", "en", "code", "details"}] (adapters.base.Note).
    notes = JSONTextField(null=True)
    total_count = IntegerField(default=0)
    exported_count = IntegerField(default=0)
    failed_count = IntegerField(default=0)
    skipped_count = IntegerField(default=0)
    slot_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: int | None
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("integration", "id"), False),)

    @property
    def is_final(self) -> bool:
        return self.status in RUN_FINAL


class ExpenseClaim(BaseModel):
    """A claim from the host expense app (written by it, by `flask demo seed` or an import).

    `integration` is the one ledger the claim is booked in (DESIGN §3), decided when the
    claim arrives; `external_id` is the host app's own id, unique per organisation.
    """

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="claims", on_delete="CASCADE")
    organization_id: int
    integration = ForeignKeyField(
        Integration, null=True, backref="routed_claims", on_delete="SET NULL"
    )
    integration_id: int | None
    external_id = CharField(max_length=200, null=True)
    # How the claim arrived: api, csv, seed (or "" for rows from before the API).
    source = CharField(max_length=16, default="")
    receipts_url = CharField(max_length=2000, default="")
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
    # Moves on every change the host app can see (routing, export outcome): `updated_since`.
    updated_at = UTCDateTimeField(default=utcnow, index=True)

    class Meta:
        # Migration 0007: (organization, status, approved_at DESC, id DESC), the preview's.
        indexes = (
            (("organization", "claim_number"), True),
            (("organization", "external_id"), True),
        )


class ExpenseClaimLine(BaseModel):
    id = AutoField()
    claim = ForeignKeyField(ExpenseClaim, backref="lines", on_delete="CASCADE")
    claim_id: int
    position = IntegerField(default=0)
    date = DateField()
    expense_type = CharField(max_length=64)
    amount = MoneyField()
    km = MoneyField(null=True)
    # NOK per km for mileage lines (amount = km × rate, checked on arrival).
    rate = MoneyField(null=True)
    description = TextField(default="")
    department = CharField(max_length=64, default="")
    project = CharField(max_length=64, default="")
    vat_code = CharField(max_length=16, default="")


class ExportItem(BaseModel):
    """One claim's export: one ledger, once (DESIGN §3).

    The claim is unique on its own: a claim belongs to one organisation, so this is the
    (organization, claim) key without repeating the organisation. (integration, claim) stays
    unique too because the export's upsert names it as its conflict target.
    """

    id = AutoField()
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    integration_id: int
    claim = ForeignKeyField(ExpenseClaim, unique=True, on_delete="CASCADE")
    claim_id: int
    run = ForeignKeyField(SyncRun, backref="items", on_delete="CASCADE")
    run_id: int
    reference = CharField(max_length=64)
    # pending (sent, outcome unknown), exported, failed
    status = CharField(max_length=16, default="pending")
    external_id = CharField(max_length=200, null=True)
    error = JSONTextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("integration", "claim"), True),)


class ExportDuplicate(BaseModel):
    """An export of a claim that was already booked by another integration.

    Moved here by migration 0002 from `export_item` when the one-ledger rule became a
    constraint: each row is a voucher booked twice that a coordinator should reverse.
    """

    id = AutoField()
    organization = ForeignKeyField(Organization, on_delete="CASCADE")
    organization_id: int
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    integration_id: int
    claim = ForeignKeyField(ExpenseClaim, on_delete="CASCADE")
    claim_id: int
    run_id = IntegerField(null=True)
    reference = CharField(max_length=64)
    status = CharField(max_length=16)
    external_id = CharField(max_length=200, null=True)
    created_at = UTCDateTimeField(default=utcnow)
    moved_at = UTCDateTimeField(default=utcnow)


class RoutingRule(BaseModel):
    """Claims whose department and/or project match go to `integration` ("" matches any)."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="routing_rules", on_delete="CASCADE")
    organization_id: int
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    integration_id: int
    department = CharField(max_length=64, default="")
    project = CharField(max_length=64, default="")
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: int | None

    class Meta:
        indexes = ((("organization", "department", "project"), True),)


class ApiKey(BaseModel):
    """An organisation's key for the host-app API. Only a keyed hash of the secret is kept."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="api_keys", on_delete="CASCADE")
    organization_id: int
    name = CharField(max_length=100)
    # The first characters of the key, shown in lists so people can tell keys apart.
    prefix = CharField(max_length=32, unique=True)
    key_hash = CharField(max_length=64, unique=True)
    scopes = JSONTextField(default=list)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: int | None
    last_used_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)
    revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    revoked_by_id: int | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyKey(BaseModel):
    """The first response to an `Idempotency-Key`, replayed for 24 hours (Stripe semantics)."""

    id = AutoField()
    organization = ForeignKeyField(Organization, on_delete="CASCADE")
    organization_id: int
    key = CharField(max_length=255)
    request_hash = CharField(max_length=64)
    status_code = IntegerField(null=True)
    response_body = TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("organization", "key"), True),)


class WebhookEndpoint(BaseModel):
    """An HTTPS address of the organisation's that receives the events it picked."""

    id = AutoField()
    organization = ForeignKeyField(Organization, backref="webhook_endpoints", on_delete="CASCADE")
    organization_id: int
    url = CharField(max_length=2000)
    description = CharField(max_length=200, default="")
    events = JSONTextField(default=list)
    # Vault token of the Standard Webhooks signing secret (never the secret itself).
    secret_token = TextField()
    enabled = BooleanField(default=True)
    created_at = UTCDateTimeField(default=utcnow)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_by_id: int | None


class OutboxEvent(BaseModel):
    """An event written in the same transaction as the change it describes (outbox)."""

    id = AutoField()
    organization = ForeignKeyField(Organization, on_delete="CASCADE")
    organization_id: int
    # Stable id sent as `webhook-id`, so receivers can drop repeats.
    message_id = CharField(max_length=64, unique=True)
    event_type = CharField(max_length=64)
    payload = JSONTextField(default=dict)
    created_at = UTCDateTimeField(default=utcnow, index=True)
    dispatched_at = UTCDateTimeField(null=True, index=True)


class WebhookDelivery(BaseModel):
    """One attempt to deliver one event to one endpoint."""

    id = AutoField()
    event = ForeignKeyField(OutboxEvent, backref="deliveries", on_delete="CASCADE")
    event_id: int
    endpoint = ForeignKeyField(WebhookEndpoint, backref="deliveries", on_delete="CASCADE")
    endpoint_id: int
    attempt = IntegerField(default=1)
    # pending, succeeded, failed (a retry is scheduled), gave_up
    status = CharField(max_length=16, default="pending")
    status_code = IntegerField(null=True)
    error = TextField(default="")
    duration_ms = IntegerField(null=True)
    next_attempt_at = UTCDateTimeField(null=True, index=True)
    created_at = UTCDateTimeField(default=utcnow)


class ConnectionTest(BaseModel):
    """One press of "Test connection": history, rate limiting and the job's progress."""

    id = AutoField()
    integration = ForeignKeyField(Integration, backref="tests", on_delete="CASCADE")
    integration_id: int
    credential_version = IntegerField()
    fingerprint = CharField(max_length=64)
    job_id = CharField(max_length=128, null=True)
    # queued, running, passed, failed, error (did not finish)
    status = CharField(max_length=16, default="queued")
    checks = JSONTextField(null=True)
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    requested_by_id: int | None
    created_at = UTCDateTimeField(default=utcnow, index=True)
    finished_at = UTCDateTimeField(null=True)


class ReferenceCache(BaseModel):
    """The accounting system's codes of one kind, fetched for checking mappings."""

    id = AutoField()
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    integration_id: int
    kind = CharField(max_length=32)
    items = JSONTextField(default=list)
    # Moves with every change of `items`: the mapping preview keeps results per fetch.
    refreshed_at = UTCDateTimeField(default=utcnow)
    # Set when the system would not list this kind (adapters.base.Note as a dict): the codes
    # are then not checked, and the editor says why; `items` is then empty, never "no codes".
    skipped = JSONTextField(null=True)

    class Meta:
        indexes = ((("integration", "kind"), True),)


class ConnectionIssue(BaseModel):
    """One cause of a broken connection (DESIGN §12): open until the first success."""

    id = AutoField()
    integration = ForeignKeyField(Integration, backref="issues", on_delete="CASCADE")
    integration_id: int
    kind = CharField(max_length=16)  # ISSUE_KINDS
    source = CharField(max_length=16)  # check, test, export
    # Our words for the latest failure ({"nb", "en", "code"}), never the provider's raw text.
    message = JSONTextField(null=True)
    opened_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    count = IntegerField(default=1)
    resolved_at = UTCDateTimeField(null=True)
    resolved_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    resolved_source = CharField(max_length=16, null=True)
    # Someone was told it opened, so they are told when it is fixed.
    announced = BooleanField(default=False)

    class Meta:
        indexes = ((("integration", "resolved_at"), False),)


class HealthCheck(BaseModel):
    """When a saved integration's connection is checked next, and how the last check went."""

    id = AutoField()
    integration = ForeignKeyField(Integration, unique=True, on_delete="CASCADE")
    integration_id: int
    next_at = UTCDateTimeField(index=True)
    last_at = UTCDateTimeField(null=True)
    last_outcome = CharField(max_length=16, null=True)  # passed, failed


class SecretExpiry(BaseModel):
    """The "valid until" a coordinator entered with a credential set's secret."""

    id = AutoField()
    integration = ForeignKeyField(Integration, on_delete="CASCADE")
    integration_id: int
    set_version = IntegerField()
    valid_until = DateField()
    entered_at = UTCDateTimeField(default=utcnow)
    entered_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("integration", "set_version"), True),)


class Notification(BaseModel):
    """One message to one person; `key` makes it once per cause and day (or threshold)."""

    id = AutoField()
    user = ForeignKeyField(User, on_delete="CASCADE")
    user_id: int
    integration = ForeignKeyField(Integration, null=True, on_delete="CASCADE")
    integration_id: int | None
    kind = CharField(max_length=32)  # issue_opened, recovered, expiry, digest
    key = CharField(max_length=160)
    # queued (to send now), digest (waits for the daily digest), sent, failed, dropped
    status = CharField(max_length=16, index=True)
    # What the message says, rendered in the recipient's language when it is sent.
    payload = JSONTextField(default=dict)
    attempts = IntegerField(default=0)
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("user", "key"), True),)


class AuditEvent(BaseModel):
    """Who did what to which object. Changed field *names* only, never a secret value."""

    id = AutoField()
    organization = ForeignKeyField(Organization, null=True, on_delete="CASCADE")
    organization_id: int | None
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_id: int | None
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
    ExportDuplicate,
    RoutingRule,
    ApiKey,
    IdempotencyKey,
    WebhookEndpoint,
    OutboxEvent,
    WebhookDelivery,
    ConnectionIssue,
    HealthCheck,
    SecretExpiry,
    Notification,
]

__all__ = [m.__name__ for m in MODELS] + ["DoesNotExist", "MODELS", "ROLES"]
