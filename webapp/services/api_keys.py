"""Organisation API keys for the host-app API: created, shown once, verified, revoked.

A key is 32 random bytes, so a SHA-256 digest is enough to verify it and useless to anyone
who reads the database; the key itself is never stored, logged or shown again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from webapp.db import db, utcnow
from webapp.models import ApiKey, Organization, User
from webapp.services import audit

SCOPES = ("claims:write", "claims:read")
PREFIX = "ll_live_"
# The visible part of a key: enough to tell keys apart in a list, useless to guess the rest.
SHOWN = len(PREFIX) + 8
# last_used_at is a hint for people, so it is written at most once a minute per key.
TOUCH_EVERY = dt.timedelta(seconds=60)


class KeyProblem(Exception):
    """The key cannot be used: `code` is invalid, revoked or scope."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(
    organization: Organization, name: str, scopes: list[str], actor: User | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret, which the caller shows once and forgets."""
    name = name.strip()
    scopes = sorted({s for s in scopes if s in SCOPES})
    if not name or len(name) > 100:
        raise ValueError("name")
    if not scopes:
        raise ValueError("scopes")
    secret = PREFIX + secrets.token_urlsafe(32)
    with db.atomic():
        key = ApiKey.create(
            organization=organization.id,
            name=name,
            prefix=secret[:SHOWN],
            key_hash=digest(secret),
            scopes=scopes,
            created_by=actor,
        )
        audit.record(
            "api_key.created",
            organization=organization.id,
            target_type="api_key",
            target_id=key.id,
            fields=["name", "scopes"],
            actor=actor,
        )
    return key, secret


def revoke(organization: Organization, key_id: int, actor: User | None = None) -> ApiKey | None:
    """Stop a key from working at once; None when the organisation has no such key."""
    with db.atomic():
        key = ApiKey.get_or_none((ApiKey.id == key_id) & (ApiKey.organization == organization.id))
        if key is None:
            return None
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            key.revoked_by = actor
            key.save()
            audit.record(
                "api_key.revoked",
                organization=organization.id,
                target_type="api_key",
                target_id=key.id,
                fields=["revoked_at"],
                actor=actor,
            )
    return key


def listing(organization: Organization) -> list[ApiKey]:
    return list(
        ApiKey.select()
        .where(ApiKey.organization == organization.id)
        .order_by(ApiKey.revoked_at.is_null(False), ApiKey.created_at.desc())
    )


def authenticate(secret: str, scope: str) -> ApiKey:
    """The live key for `secret` with `scope`; KeyProblem otherwise (revoked use is audited)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise KeyProblem("invalid")
    key = (
        ApiKey.select(ApiKey, Organization)
        .join(Organization)
        .where(ApiKey.key_hash == digest(secret))
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest(secret)):
        raise KeyProblem("invalid")
    if key.revoked_at is not None:
        audit.record(
            "api_key.used_after_revoke",
            organization=key.organization_id,
            target_type="api_key",
            target_id=key.id,
            outcome="refused",
            actor=None,
        )
        raise KeyProblem("revoked")
    if scope not in (key.scopes or []):
        raise KeyProblem("scope")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
        ApiKey.update(last_used_at=now).where(ApiKey.id == key.id).execute()
        key.last_used_at = now
    return key
