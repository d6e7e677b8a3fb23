"""`Idempotency-Key` with Stripe's semantics, kept 24 hours.

The first request with a key reserves it; its successful response is stored and replayed
for the same key and body. The same key with another body is refused. A request refused
before it changed anything (invalid body) frees its key, so the client can correct and
resend with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from peewee import IntegrityError

from webapp.db import db, utcnow
from webapp.models import IdempotencyKey

KEEP = dt.timedelta(hours=24)
MAX_KEY = 255


@dataclass
class Replay:
    status: int
    body: str


class KeyInUse(Exception):
    """The key's first request is still running."""


class KeyReused(Exception):
    """The key was used with another request body."""


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def begin(organization_id: int, key: str, digest: str) -> Replay | None:
    """Reserve `key` (None) or return the stored response to replay; raises when it cannot."""
    now = utcnow()
    with db.atomic():
        IdempotencyKey.delete().where(
            (IdempotencyKey.organization == organization_id)
            & (IdempotencyKey.created_at < now - KEEP)
        ).execute()
        row = IdempotencyKey.get_or_none(
            (IdempotencyKey.organization == organization_id) & (IdempotencyKey.key == key)
        )
        if row is None:
            try:
                with db.atomic():
                    IdempotencyKey.create(
                        organization=organization_id, key=key, request_hash=digest, created_at=now
                    )
                return None
            except IntegrityError:
                raise KeyInUse() from None
    if row.request_hash != digest:
        raise KeyReused()
    if row.status_code is None:
        raise KeyInUse()
    return Replay(row.status_code, row.response_body or "")


def finish(organization_id: int, key: str, status: int, body: str) -> None:
    IdempotencyKey.update(status_code=status, response_body=body).where(
        (IdempotencyKey.organization == organization_id) & (IdempotencyKey.key == key)
    ).execute()


def release(organization_id: int, key: str) -> None:
    IdempotencyKey.delete().where(
        (IdempotencyKey.organization == organization_id)
        & (IdempotencyKey.key == key)
        & IdempotencyKey.status_code.is_null()
    ).execute()
