"""The Vault: seal and open credential sets in `integration_credential` rows, fingerprints,
rotation, retirement and resumable rewrap.
"""

from __future__ import annotations

import hmac
import os
import threading
from binascii import Error as BinasciiError
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from peewee import EXCLUDED, fn

from webapp.config import ConfigurationError
from webapp.db import db, utcnow
from webapp.models import Integration, IntegrationCredential, WebhookEndpoint
from webapp.vault.keyring import (
    Keyring,
    KeyringStore,
    MemoryKeyringStore,
    _Keys,
    associated_data,
    read_only_message,
)
from webapp.vault.tokens import (
    _FIELD_RE,
    _FP_DOMAIN,
    _KID_RE,
    _MIN_CT_CHARS,
    _NONCE_CHARS,
    _SEP,
    _SET_FP_DOMAIN,
    FINGERPRINT_HEX,
    NONCE_BYTES,
    TOKEN_VERSION,
    KeyringError,
    RewrapResult,
    Slot,
    VaultError,
    b64url_decode,
    b64url_encode,
    logger,
)


class Vault:
    """Seals and opens credential sets; rotates keys. One per app, in app.extensions."""

    def __init__(self, store: KeyringStore):
        self._store = store
        self._lock = threading.Lock()
        self._signature = store.signature()
        self._keys = _Keys(store.load())

    @classmethod
    def from_keyring(cls, keyring: Keyring) -> Vault:
        return cls(MemoryKeyringStore(keyring))

    def __repr__(self) -> str:
        keys = self._keys
        return f"Vault(source={self._store.source!r}, active={keys.active!r})"

    @property
    def active_key_id(self) -> str:
        return self._keys.active

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._keys.key_ids

    @property
    def source(self) -> str:
        return self._store.source

    def refresh(self) -> bool:
        """Reload the keyring if its store changed (another process rotated); True if so."""
        signature = self._store.signature()
        if signature == self._signature:
            return False
        with self._lock:
            if signature == self._signature:
                return False
            try:
                keys = _Keys(self._store.load())
            except ConfigurationError as exc:
                # Keep working with the keys we have rather than fail every request.
                logger.error("vault keyring changed but cannot be reloaded: %s", exc)
                self._signature = signature
                return False
            self._keys, self._signature = keys, signature
        logger.info("vault keyring reloaded; active key %s", keys.active)
        return True

    # -- the crypto core (no I/O) --------------------------------------------------------------

    def encrypt_field(self, aad_parts: tuple[int, int, int, str], plaintext: str) -> str:
        """Encrypt one value under the active key, bound to `aad_parts`; returns the token.

        `aad_parts` is (organisation id, integration id, set version, field name): a `Slot`.
        """
        keys = self._keys
        kid = keys.active
        try:
            data = plaintext.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):
            raise TypeError("a credential value must be a str of valid text") from None
        aad = associated_data(kid, aad_parts)
        nonce = os.urandom(NONCE_BYTES)
        body = b64url_encode(nonce + keys.aeads[kid].encrypt(nonce, data, aad))
        return f"{keys.token_prefix}{body[:_NONCE_CHARS]}.{body[_NONCE_CHARS:]}"

    def decrypt_field(self, aad_parts: tuple[int, int, int, str], token: str) -> str:
        """Decrypt a token made for `aad_parts`; VaultError (without details) if it does not."""
        try:
            version, kid, nonce_text, ct_text = token.split(".")
        except (AttributeError, ValueError):
            raise VaultError("malformed") from None
        if version != TOKEN_VERSION:
            raise VaultError("version")
        if len(nonce_text) != _NONCE_CHARS or len(ct_text) < _MIN_CT_CHARS:
            raise VaultError("malformed", key_id=_safe_kid(kid))
        aead = self._keys.aeads.get(kid)
        if aead is None:
            # Perhaps another process rotated since this one loaded the keyring.
            if not self.refresh() or (aead := self._keys.aeads.get(kid)) is None:
                raise VaultError("unknown_key", key_id=_safe_kid(kid))
        try:
            raw = b64url_decode(nonce_text + ct_text)
        except (ValueError, BinasciiError):
            raise VaultError("malformed", key_id=kid) from None
        try:
            data = aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(kid, aad_parts)
            )
        except InvalidTag:
            raise VaultError("invalid", key_id=kid) from None
        return data.decode("utf-8")

    def fingerprint(self, integration: Integration | int, field_name: str, value: str) -> str:
        """Keyed, shortened, one-way fingerprint of a value in one integration field."""
        integ = _integration(integration)
        return self._fingerprint(integ.organization_id, integ.id, field_name, value)

    def _fingerprint(self, org_id: int, integration_id: int, field_name: str, value: str) -> str:
        _check_field_name(field_name)
        if not isinstance(value, str):
            raise TypeError("a credential value must be a str")
        msg = _FP_DOMAIN + f"{org_id}{_SEP}{integration_id}{_SEP}{field_name}{_SEP}".encode()
        try:
            msg += value.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError("a credential value must be valid text") from None
        return hmac.digest(self._keys.fingerprint_key, msg, "sha256").hex()[:FINGERPRINT_HEX]

    def combine_fingerprints(self, fingerprints: Mapping[str, str]) -> str | None:
        """One fingerprint for a whole set from its per-field fingerprints (None if empty)."""
        if not fingerprints:
            return None
        msg = _SET_FP_DOMAIN + _SEP.join(
            f"{name}={fingerprints[name]}" for name in sorted(fingerprints)
        ).encode("utf-8")
        return hmac.digest(self._keys.fingerprint_key, msg, "sha256").hex()[:FINGERPRINT_HEX]

    # -- credential sets (database) ------------------------------------------------------------

    def seal_set(
        self,
        integration: Integration | int,
        set_version: int,
        values: Mapping[str, str],
        actor: Any = None,
    ) -> dict[str, str]:
        """Encrypt and save each field of `values` (other fields of the set are kept).

        Returns the per-field fingerprints of what was written.
        """
        self.refresh()
        integ = _integration(integration)
        set_version = int(set_version)
        now = utcnow()
        rows, fingerprints = [], {}
        for name, value in values.items():
            _check_field_name(name)
            slot = Slot(integ.organization_id, integ.id, set_version, name)
            token = self.encrypt_field(slot, value)
            fingerprints[name] = self._fingerprint(integ.organization_id, integ.id, name, value)
            rows.append(
                {
                    "integration": integ.id,
                    "set_version": set_version,
                    "field_name": name,
                    "token": token,
                    "key_id": _token_kid(token),
                    "fingerprint": fingerprints[name],
                    "created_at": now,
                    "created_by": _actor_id(actor),
                }
            )
        if rows:
            _upsert_rows(rows)
        return fingerprints

    def open_set(self, integration: Integration | int, set_version: int) -> dict[str, str]:
        """Decrypt every field of a set; VaultError if any of them does not decrypt."""
        self.refresh()
        integ = _integration(integration)
        rows = IntegrationCredential.select().where(
            (IntegrationCredential.integration == integ.id)
            & (IntegrationCredential.set_version == int(set_version))
        )
        values, first_error = {}, None
        for row in rows:
            try:
                values[row.field_name] = self._open_row(integ.organization_id, row)
            except VaultError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        return values

    def open_field(self, integration: Integration | int, set_version: int, field_name: str) -> str:
        """Decrypt one field; VaultError if it is missing or does not decrypt."""
        self.refresh()
        integ = _integration(integration)
        row = _get_row(integ.id, int(set_version), field_name)
        if row is None:
            raise VaultError("missing", integration_id=integ.id, field_name=field_name)
        return self._open_row(integ.organization_id, row)

    def carry_over(
        self,
        integration: Integration | int,
        from_version: int,
        to_version: int,
        field_names: Iterable[str],
        actor: Any = None,
    ) -> dict[str, str]:
        """Re-encrypt kept fields of one set version into another; returns their fingerprints.

        A kept secret was not entered again, so it keeps its original `created_at` and
        `created_by` ("saved on DATE by NAME"); `actor` is only logged.
        """
        self.refresh()
        integ = _integration(integration)
        from_version, to_version = int(from_version), int(to_version)
        rows, fingerprints = [], {}
        for name in field_names:
            source = _get_row(integ.id, from_version, name)
            if source is None:
                raise VaultError("missing", integration_id=integ.id, field_name=name)
            value = self._open_row(integ.organization_id, source)
            slot = Slot(integ.organization_id, integ.id, to_version, name)
            token = self.encrypt_field(slot, value)
            fingerprints[name] = self._fingerprint(integ.organization_id, integ.id, name, value)
            rows.append(
                {
                    "integration": integ.id,
                    "set_version": to_version,
                    "field_name": name,
                    "token": token,
                    "key_id": _token_kid(token),
                    "fingerprint": fingerprints[name],
                    "created_at": source.created_at,
                    "created_by": source.created_by_id,
                }
            )
        if rows:
            _upsert_rows(rows)
            logger.info(
                "vault: kept fields %s of integration %s from set %s in set %s (by user %s)",
                sorted(fingerprints),
                integ.id,
                from_version,
                to_version,
                _actor_id(actor),
            )
        return fingerprints

    def delete_set(self, integration: Integration | int, set_version: int) -> int:
        """Delete every field of a set version; returns how many rows were deleted."""
        integration_id = integration if isinstance(integration, int) else integration.id
        return (
            IntegrationCredential.delete()
            .where(
                (IntegrationCredential.integration == integration_id)
                & (IntegrationCredential.set_version == int(set_version))
            )
            .execute()
        )

    def field_fingerprints(
        self, integration: Integration | int, set_version: int
    ) -> dict[str, str]:
        """The stored fingerprint of each field of a set (no decryption)."""
        integration_id = integration if isinstance(integration, int) else integration.id
        query = (
            IntegrationCredential.select(
                IntegrationCredential.field_name, IntegrationCredential.fingerprint
            )
            .where(
                (IntegrationCredential.integration == integration_id)
                & (IntegrationCredential.set_version == int(set_version))
            )
            .tuples()
        )
        return dict(query)

    def set_fingerprint(self, integration: Integration | int, set_version: int) -> str | None:
        """One stable fingerprint of the whole stored set; None if the set is empty."""
        return self.combine_fingerprints(self.field_fingerprints(integration, set_version))

    def values_fingerprint(
        self, integration: Integration | int, values: Mapping[str, str]
    ) -> str | None:
        """The set fingerprint these plaintext values would have once sealed."""
        integ = _integration(integration)
        return self.combine_fingerprints(
            {
                name: self._fingerprint(integ.organization_id, integ.id, name, value)
                for name, value in values.items()
            }
        )

    def _open_row(self, org_id: int, row: IntegrationCredential) -> str:
        slot = Slot(org_id, row.integration_id, row.set_version, row.field_name)
        try:
            if _token_kid(row.token) != row.key_id:
                raise VaultError("key_mismatch")
            return self.decrypt_field(slot, row.token)
        except VaultError as exc:
            logger.warning(
                "vault: credential does not decrypt (integration %s, field %s, key %s)",
                row.integration_id,
                row.field_name,
                row.key_id,
            )
            raise VaultError(
                exc.reason,
                integration_id=row.integration_id,
                field_name=row.field_name,
                key_id=row.key_id,
            ) from None

    # -- operations (flask vault …) ------------------------------------------------------------

    def token_counts(self) -> dict[str, int]:
        """Tokens per key id: credential fields and webhook signing secrets alike."""
        query = (
            IntegrationCredential.select(
                IntegrationCredential.key_id, fn.COUNT(IntegrationCredential.id)
            )
            .group_by(IntegrationCredential.key_id)
            .tuples()
        )
        counts = dict(query)
        for (token,) in WebhookEndpoint.select(WebhookEndpoint.secret_token).tuples():
            kid = _token_kid(token)
            counts[kid] = counts.get(kid, 0) + 1
        return counts

    def status(self) -> dict[str, Any]:
        """Key ids, the active one, and token counts per key id (including unknown ids)."""
        self.refresh()
        keys = self._keys
        counts = self.token_counts()
        return {
            "source": self._store.description,
            "writable": self._store.writable,
            "active": keys.active,
            "keys": list(keys.key_ids),
            "tokens": {kid: counts.get(kid, 0) for kid in keys.key_ids},
            "unknown": {kid: n for kid, n in counts.items() if kid not in keys.aeads},
        }

    def rotate(self) -> str:
        """Add a new key and make it active; returns its id. Old keys stay for decryption."""
        self._require_writable()
        with self._store.locked():
            keyring = self._store.load().with_new_active_key()
            self._store.save(keyring)
            self._adopt(keyring)
        logger.info("vault: rotated; new active key %s", keyring.active)
        return keyring.active

    def retire(self, kid: str) -> None:
        """Remove a key from the keyring; refused while active or while any token uses it."""
        self.refresh()
        if kid not in self._keys.aeads:
            raise KeyringError(f"there is no key {kid!r} in the keyring")
        if kid == self._keys.active:
            raise KeyringError(
                f"key {kid} is the active key: run `flask vault rotate` and "
                "`flask vault rewrap` first"
            )
        self._require_writable()
        with self._store.locked():
            keyring = self._store.load()
            if kid == keyring.active:
                raise KeyringError(f"key {kid} is the active key")
            in_use = self.token_counts().get(kid, 0)
            if in_use:
                raise KeyringError(
                    f"key {kid} is still used by {in_use} token(s): run `flask vault rewrap` "
                    "first (tokens it reports as failed do not decrypt: have those credentials "
                    "entered again, which replaces them)"
                )
            if kid in keyring.keys:
                keyring = keyring.without(kid)
                self._store.save(keyring)
            self._adopt(keyring)
        logger.info("vault: retired key %s", kid)

    def rewrap(
        self,
        batch_size: int = 100,
        progress: Callable[[RewrapResult], None] | None = None,
    ) -> RewrapResult:
        """Re-encrypt every token not under the active key, one committed batch at a time.

        Resumable and idempotent: an interrupted run keeps its committed batches, a second
        run rewraps nothing. Tokens that do not decrypt are left alone and reported.
        `progress` is called with the running totals after each committed batch.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.refresh()
        active = self._keys.active
        skipped = self.token_counts().get(active, 0)
        rewrapped, failed_ids, last_id = 0, [], 0
        while True:
            batch = list(
                IntegrationCredential.select(
                    IntegrationCredential, Integration.organization.alias("org_id")
                )
                .join(Integration)
                .where(
                    (IntegrationCredential.key_id != active) & (IntegrationCredential.id > last_id)
                )
                .order_by(IntegrationCredential.id)
                .limit(batch_size)
                .objects()
            )
            if not batch:
                break
            last_id = batch[-1].id
            done, raced, failed = self._rewrap_batch(batch)
            rewrapped, skipped = rewrapped + done, skipped + raced
            failed_ids.extend(failed)
            if progress is not None:
                progress(RewrapResult(rewrapped, skipped, len(failed_ids), tuple(failed_ids)))
        done, failed = self._rewrap_webhook_secrets(active)
        rewrapped += done
        failed_ids.extend(failed)
        result = RewrapResult(rewrapped, skipped, len(failed_ids), tuple(failed_ids))
        logger.info(
            "vault: rewrap onto key %s: rewrapped %s, skipped %s, failed %s",
            active,
            result.rewrapped,
            result.skipped,
            result.failed,
        )
        return result

    def _rewrap_webhook_secrets(self, active: str) -> tuple[int, list[int]]:
        """Re-encrypt webhook signing secrets not under the active key (few: one a row)."""
        done, failed = 0, []
        for endpoint in WebhookEndpoint.select():
            if _token_kid(endpoint.secret_token) == active:
                continue
            aad = webhook_secret_slot(endpoint)
            try:
                token = self.encrypt_field(aad, self.decrypt_field(aad, endpoint.secret_token))
            except VaultError:
                failed.append(-endpoint.id)  # negative: an endpoint, not a credential row
                continue
            done += (
                WebhookEndpoint.update(secret_token=token)
                .where(
                    (WebhookEndpoint.id == endpoint.id)
                    & (WebhookEndpoint.secret_token == endpoint.secret_token)
                )
                .execute()
            )
        return done, failed

    def _rewrap_batch(self, batch: list[IntegrationCredential]) -> tuple[int, int, list[int]]:
        done, raced, failed = 0, 0, []
        with db.atomic():
            for row in batch:
                try:
                    value = self._open_row(row.org_id, row)
                except VaultError:
                    failed.append(row.id)
                    continue
                slot = Slot(row.org_id, row.integration_id, row.set_version, row.field_name)
                token = self.encrypt_field(slot, value)
                # Conditional on the old token: a row re-saved meanwhile is left as it is.
                changed = (
                    IntegrationCredential.update(token=token, key_id=_token_kid(token))
                    .where(
                        (IntegrationCredential.id == row.id)
                        & (IntegrationCredential.token == row.token)
                    )
                    .execute()
                )
                if changed:
                    done += 1
                else:
                    raced += 1
        return done, raced, failed

    def _require_writable(self) -> None:
        if not self._store.writable:
            raise KeyringError(read_only_message(self._store.source))

    def _adopt(self, keyring: Keyring) -> None:
        with self._lock:
            self._keys = _Keys(keyring)
            self._signature = self._store.signature()


# --- helpers ---------------------------------------------------------------------------------


def _integration(integration: Integration | int) -> Integration:
    if isinstance(integration, Integration):
        return integration
    return Integration.get_by_id(int(integration))


def _check_field_name(name: object) -> None:
    if not isinstance(name, str) or not _FIELD_RE.fullmatch(name):
        raise ValueError("a credential field name is 1-64 letters, digits, '.', '-' or '_'")


def _token_kid(token: str) -> str:
    parts = token.split(".", 2)
    return parts[1] if len(parts) == 3 else ""


def _safe_kid(kid: str) -> str | None:
    return kid if _KID_RE.fullmatch(kid) else None


def _actor_id(actor: Any) -> int | None:
    if actor is None or isinstance(actor, int):
        return actor
    return actor.id


def _get_row(integration_id: int, set_version: int, field_name: str):
    return IntegrationCredential.get_or_none(
        (IntegrationCredential.integration == integration_id)
        & (IntegrationCredential.set_version == set_version)
        & (IntegrationCredential.field_name == field_name)
    )


def _upsert_rows(rows: list[dict[str, Any]]) -> None:
    """Write credential rows, replacing a field's row of the same set.

    An upsert, not delete-then-insert: the same form sent twice at once (a double click)
    writes the same row twice instead of tripping over the unique key.
    """
    ic = IntegrationCredential
    ic.insert_many(rows).on_conflict(
        conflict_target=[ic.integration, ic.set_version, ic.field_name],
        update={
            ic.token: EXCLUDED.token,
            ic.key_id: EXCLUDED.key_id,
            ic.fingerprint: EXCLUDED.fingerprint,
            ic.created_at: EXCLUDED.created_at,
            ic.created_by: EXCLUDED.created_by_id,
        },
    ).execute()


# A webhook endpoint's signing secret is bound to the endpoint (integration id 0).
WEBHOOK_SECRET_FIELD = "webhook_secret"


def webhook_secret_slot(endpoint: WebhookEndpoint) -> tuple[int, int, int, str]:
    return (endpoint.organization_id, 0, endpoint.id, WEBHOOK_SECRET_FIELD)
