"""`run_claim`: what each export run did with each claim (issue 16, migration 0006).

Beside `webapp.models` (which stays under the module size limit) and built on its base;
`webapp.models.MODELS` plus `MODELS` here are every table.
"""

from __future__ import annotations

from peewee import AutoField, CharField, ForeignKeyField

from webapp.db import JSONTextField, UTCDateTimeField, utcnow
from webapp.models import BaseModel, ExpenseClaim, SyncRun


class RunClaim(BaseModel):
    """One run's final outcome of one claim, kept when a later run books the claim: the run
    page lists every claim a run booked, with its voucher number, or why it failed. A claim
    sent with its outcome unknown is read from its `export_item` while that is pending."""

    id = AutoField()
    run = ForeignKeyField(SyncRun, backref="claims", on_delete="CASCADE")
    run_id: int
    claim = ForeignKeyField(ExpenseClaim, on_delete="CASCADE")
    claim_id: int
    reference = CharField(max_length=64)
    status = CharField(max_length=16)  # exported, failed
    external_id = CharField(max_length=200, null=True)
    error = JSONTextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("run", "claim"), True),)


MODELS = [RunClaim]
