"""The credential vault: AES-256-GCM tokens for accounting-system credentials (DESIGN §4).

Each credential field is one row of `integration_credential` holding a token
`v1.<kid>.<nonce>.<ciphertext+tag>` (base64url, no padding). The associated data binds the
token to its place (organisation, integration, credential set version, field name), so a token
copied to any other row does not decrypt. A keyed fingerprint (HMAC-SHA256 under a separate
key) lets the UI and the audit log say "same secret as before" without revealing anything.

The keyring (`{"active": kid, "keys": {kid: key}, "fingerprint_key": key}`, keys base64url)
comes from a JSON file (`VAULT_KEYRING_FILE` / `LEDGERLINK_VAULT_KEYRING_FILE`), or read-only
from the variable itself (`VAULT_KEYRING` / `LEDGERLINK_VAULT_KEYRING`). A file-backed vault
notices when another process (`flask vault rotate`) rewrites the file and reloads it, so running
web and worker processes follow a rotation without a restart.

Key material and plaintext are never logged, printed, put in an exception or shown in a repr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hmac
import json
import logging
import operator
import os
import re
import secrets
import stat
import sys
import threading
from binascii import Error as BinasciiError
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from peewee import fn

from webapp.config import ConfigurationError
from webapp.db import db, utcnow
from webapp.models import Integration, IntegrationCredential

logger = logging.getLogger("ledgerlink.vault")

TOKEN_VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
FINGERPRINT_HEX = 32
FILE_ENV = "LEDGERLINK_VAULT_KEYRING_FILE"
JSON_ENV = "LEDGERLINK_VAULT_KEYRING"
DEV_KEYRING_NAME = "vault-keyring.json"

_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_FIELD_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SEP = "\x1f"  # unit separator: never in an id, a key id or a field name
_AAD_DOMAIN = "ledgerlink/vault/" + TOKEN_VERSION
_FP_DOMAIN = b"ledgerlink/fingerprint/v1" + _SEP.encode()
_SET_FP_DOMAIN = b"ledgerlink/set-fingerprint/v1" + _SEP.encode()
_TO_URL = bytes.maketrans(b"+/", b"-_")
_FROM_URL = bytes.maketrans(b"-_+/=", b"+/!!!")
# base64 of the 12-byte nonce is exactly 16 characters; of the bare 16-byte tag, 22.
_NONCE_CHARS = NONCE_BYTES * 4 // 3
_MIN_CT_CHARS = -(-TAG_BYTES * 4 // 3)

REASONS = {
    "malformed": "the stored token is malformed",
    "version": "the stored token has an unknown format version",
    "unknown_key": "its key is not in the keyring",
    "key_mismatch": "the token does not match its key id column",
    "invalid": "wrong key, altered token, or token moved from another place",
    "missing": "it is not saved",
}


class VaultError(Exception):
    """A credential cannot be read: the caller asks for it to be entered again.

    The message names the integration, field and key id at most, never the token or a value.
    """

    def __init__(
        self,
        reason: str,
        *,
        integration_id: int | None = None,
        field_name: str | None = None,
        key_id: str | None = None,
    ):
        self.reason = reason
        self.integration_id = integration_id
        self.field_name = field_name
        self.key_id = key_id
        where = "credential"
        if field_name is not None:
            where += f" {field_name!r}"
        if integration_id is not None:
            where += f" of integration {integration_id}"
        if key_id is not None:
            where += f" (key {key_id})"
        super().__init__(f"{where} cannot be read: {REASONS.get(reason, reason)}")


class KeyringError(Exception):
    """An operator's keyring command cannot be done (read-only keyring, key in use, …)."""


# --- base64url, strict -----------------------------------------------------------------------

# After the last full 4-character group, the characters whose spare low bits are zero: the
# only ones a canonical encoder writes there (2 left over: 4 spare bits, 3 left over: 2).
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_PADDING = (b"", b"===", b"==", b"=")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url."""
    return b2a_base64(data, newline=False).translate(_TO_URL, b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ValueError for anything but the canonical spelling."""
    raw = text.encode("ascii").translate(_FROM_URL)  # '+', '/' and '=' become invalid
    rest = len(raw) & 3
    if rest and text[-1] not in _CANONICAL_LAST.get(rest, ()):
        raise ValueError("not canonical base64url")
    return a2b_base64(raw + _PADDING[rest], strict_mode=True)


# --- the keyring -----------------------------------------------------------------------------


def new_key_id(existing: Iterable[str] = ()) -> str:
    taken = set(existing)
    while True:
        kid = f"k{dt.datetime.now(dt.UTC):%Y%m%d}{secrets.token_hex(3)}"
        if kid not in taken:
            return kid


@dataclass(frozen=True, repr=False)
class Keyring:
    """Encryption keys by id, the active id, and the separate fingerprint key."""

    active: str
    keys: Mapping[str, bytes]
    fingerprint_key: bytes = field(compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        self.validate()

    def __repr__(self) -> str:
        return f"Keyring(active={self.active!r}, key_ids={sorted(self.keys)!r})"

    def validate(self) -> None:
        """Raise ValueError (naming the key id, never the key) if the keyring is unusable."""
        if not self.keys:
            raise ValueError('"keys" is empty')
        for kid, key in self.keys.items():
            if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
                raise ValueError("a key id is not 1-32 letters, digits, '-' or '_'")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} is not {KEY_BYTES} bytes")
        if self.active not in self.keys:
            raise ValueError('"active" is not one of the ids in "keys"')
        fk = self.fingerprint_key
        if not isinstance(fk, bytes) or len(fk) < KEY_BYTES:
            raise ValueError(f'"fingerprint_key" is shorter than {KEY_BYTES} bytes')
        if any(hmac.compare_digest(fk, key) for key in self.keys.values()):
            raise ValueError('"fingerprint_key" must differ from every encryption key')
        if len(set(self.keys.values())) != len(self.keys):
            raise ValueError("two key ids share the same key")

    @classmethod
    def generate(cls) -> Keyring:
        kid = new_key_id()
        return cls(kid, {kid: AESGCM.generate_key(256)}, secrets.token_bytes(KEY_BYTES))

    def with_new_active_key(self) -> Keyring:
        kid = new_key_id(self.keys)
        keys = {**self.keys, kid: AESGCM.generate_key(256)}
        return Keyring(kid, keys, self.fingerprint_key)

    def without(self, kid: str) -> Keyring:
        keys = {k: v for k, v in self.keys.items() if k != kid}
        return Keyring(self.active, keys, self.fingerprint_key)

    def to_json(self) -> str:
        doc = {
            "active": self.active,
            "keys": {kid: b64url_encode(key) for kid, key in sorted(self.keys.items())},
            "fingerprint_key": b64url_encode(self.fingerprint_key),
        }
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        """Parse the keyring JSON; ValueError messages never contain key material."""
        try:
            doc = json.loads(text)
        except (ValueError, TypeError):
            raise ValueError("it is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ValueError('it is not a JSON object {"active", "keys", "fingerprint_key"}')
        keys = doc.get("keys")
        if not isinstance(keys, dict):
            raise ValueError('"keys" is missing or not an object {key id: base64url key}')
        decoded = {}
        for kid, value in keys.items():
            decoded[kid] = _decode_key(value, f"key {kid!r}")
        fingerprint_key = _decode_key(doc.get("fingerprint_key"), '"fingerprint_key"')
        active = doc.get("active")
        if not isinstance(active, str):
            raise ValueError('"active" is missing or not a key id')
        return cls(active, decoded, fingerprint_key)


def _decode_key(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} is missing or not a base64url string")
    try:
        return b64url_decode(value.rstrip("="))
    except (ValueError, BinasciiError):
        raise ValueError(f"{what} is not valid base64url") from None


class KeyringStore(Protocol):
    """Where a keyring lives: loaded at start, rewritten by rotate/retire when writable."""

    source: str  # the setting it comes from, for messages
    writable: bool

    @property
    def description(self) -> str: ...

    def load(self) -> Keyring: ...

    def save(self, keyring: Keyring) -> None: ...

    def signature(self) -> object: ...

    def locked(self) -> contextlib.AbstractContextManager[None]: ...


def read_only_message(source: str) -> str:
    return (
        f"the keyring comes from {source} and cannot be changed from here: update that "
        'variable instead (to rotate, add a new key under "keys" and point "active" at it; to '
        "retire, remove the key once `flask vault status` shows no tokens use it), then "
        "restart every process"
    )


class MemoryKeyringStore:
    """A keyring held in memory only: tests, benchmarks, one-off scripts."""

    source = "memory"
    writable = True

    def __init__(self, keyring: Keyring):
        self._keyring = keyring

    def __repr__(self) -> str:
        return "MemoryKeyringStore()"

    @property
    def description(self) -> str:
        return "in memory"

    def load(self) -> Keyring:
        return self._keyring

    def save(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def signature(self) -> object:
        return id(self._keyring)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class EnvKeyringStore:
    """The keyring JSON given directly in configuration: read-only here."""

    writable = False

    def __init__(self, text: str, source: str = JSON_ENV):
        self._text = text
        self.source = source

    def __repr__(self) -> str:
        return f"EnvKeyringStore(source={self.source!r})"

    @property
    def description(self) -> str:
        return f"the {self.source} variable (read-only)"

    def load(self) -> Keyring:
        try:
            return Keyring.from_json(self._text)
        except ValueError as exc:
            raise ConfigurationError(
                f"{self.source}: {exc}; it must hold the keyring JSON "
                '{"active": KID, "keys": {KID: base64url 32-byte key}, '
                '"fingerprint_key": base64url key}'
            ) from None

    def save(self, keyring: Keyring) -> None:
        raise KeyringError(
            f"the keyring comes from {self.source} and cannot be changed from here: write the "
            'new keyring into that variable (add a key under "keys", point "active" at it, '
            "keep the old keys until `flask vault rewrap` has moved every token), then restart "
            "every process"
        )

    def signature(self) -> object:
        return None

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class FileKeyringStore:
    """A keyring JSON file, mode 0600, replaced atomically on every change."""

    writable = True

    def __init__(self, path: str | os.PathLike[str], source: str = FILE_ENV):
        self.path = Path(path)
        self.source = source

    def __repr__(self) -> str:
        return f"FileKeyringStore(path={str(self.path)!r})"

    @property
    def description(self) -> str:
        return f"{self.path} (file from {self.source})"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Keyring:
        try:
            text = self.path.read_text(encoding="utf-8")
            mode = self.path.stat().st_mode
        except OSError as exc:
            raise ConfigurationError(
                f"{self.source}: cannot read the vault keyring {str(self.path)!r} "
                f"({exc.strerror or exc}); it must name a readable JSON file "
                '{"active", "keys", "fingerprint_key"}'
            ) from None
        if mode & 0o077:
            logger.warning(
                "vault keyring %s can be read by other users; run chmod 600 on it", self.path
            )
        try:
            return Keyring.from_json(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"{self.source}: the vault keyring {str(self.path)!r} is unusable: {exc}"
            ) from None

    def save(self, keyring: Keyring) -> None:
        tmp = self._write_temp(keyring)
        try:
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self._sync_dir()

    def create(self, keyring: Keyring) -> bool:
        """Write the keyring only if no file exists yet; False if another process won."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self._write_temp(keyring)
        try:
            os.link(tmp, self.path)  # atomic create-if-absent, already complete when visible
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        self._sync_dir()
        return True

    def signature(self) -> object:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise read-modify-write of the keyring between processes."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_temp(self, keyring: Keyring) -> Path:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise KeyringError(
                f"cannot write the keyring next to {str(self.path)!r} "
                f"({exc.strerror or exc}); is the directory writable?"
            ) from None
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
            os.write(fd, keyring.to_json().encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        return tmp

    def _sync_dir(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# --- the vault -------------------------------------------------------------------------------


class _Keys:
    """Immutable per-keyring state: one AESGCM object per key, built once."""

    __slots__ = ("active", "aeads", "fingerprint_key", "key_ids", "token_prefix")

    def __init__(self, keyring: Keyring):
        self.active = keyring.active
        self.key_ids = tuple(sorted(keyring.keys))
        self.aeads = {kid: AESGCM(key) for kid, key in keyring.keys.items()}
        self.token_prefix = f"{TOKEN_VERSION}.{keyring.active}."
        self.fingerprint_key = keyring.fingerprint_key

    def __repr__(self) -> str:
        return f"_Keys(active={self.active!r}, key_ids={self.key_ids!r})"


@functools.lru_cache(maxsize=4096)
def associated_data(kid: str, aad_parts: tuple[int, int, int, str]) -> bytes:
    """The associated data of a token: format, key id, and the token's place.

    The three ids are integers and the field name comes last, so the encoding is
    unambiguous. Cached: it is not secret, and a worker opens the same sets again and again.
    """
    org_id, integration_id, set_version, field_name = aad_parts
    ids = (operator.index(org_id), operator.index(integration_id), operator.index(set_version))
    if not isinstance(field_name, str):
        raise TypeError("the last associated data part is the field name, a str")
    return _SEP.join((_AAD_DOMAIN, kid, *map(str, ids), field_name)).encode("utf-8")


class RewrapResult(NamedTuple):
    rewrapped: int
    skipped: int
    failed: int
    failed_ids: tuple[int, ...] = ()


class Slot(NamedTuple):
    """Where a token lives; its parts are the associated data."""

    organization_id: int
    integration_id: int
    set_version: int
    field_name: str


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
            with db.atomic():
                _delete_fields(integ.id, set_version, list(fingerprints))
                IntegrationCredential.insert_many(rows).execute()
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
            with db.atomic():
                _delete_fields(integ.id, to_version, list(fingerprints))
                IntegrationCredential.insert_many(rows).execute()
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
        query = (
            IntegrationCredential.select(
                IntegrationCredential.key_id, fn.COUNT(IntegrationCredential.id)
            )
            .group_by(IntegrationCredential.key_id)
            .tuples()
        )
        return dict(query)

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
        result = RewrapResult(rewrapped, skipped, len(failed_ids), tuple(failed_ids))
        logger.info(
            "vault: rewrap onto key %s: rewrapped %s, skipped %s, failed %s",
            active,
            result.rewrapped,
            result.skipped,
            result.failed,
        )
        return result

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


def _delete_fields(integration_id: int, set_version: int, names: list[str]) -> None:
    IntegrationCredential.delete().where(
        (IntegrationCredential.integration == integration_id)
        & (IntegrationCredential.set_version == set_version)
        & (IntegrationCredential.field_name.in_(names))
    ).execute()


# --- Flask integration -----------------------------------------------------------------------


def keyring_store_for(app) -> KeyringStore:
    """Choose (and in development create) the keyring store from the app's configuration."""
    env_name = app.config.get("ENV_NAME", "production")
    # webapp.config reads LEDGERLINK_VAULT_KEYRING(_FILE) from the environment into these.
    text = app.config.get("VAULT_KEYRING") or None
    path = app.config.get("VAULT_KEYRING_FILE") or None
    if text and path:
        raise ConfigurationError(
            f"{FILE_ENV}: set either it or {JSON_ENV}, not both, so there is one keyring"
        )
    if text:
        return EnvKeyringStore(text)
    if path:
        store = FileKeyringStore(path)
        if env_name != "production" and not store.exists():
            _create_dev_keyring(store, env_name)
        return store
    if env_name == "production":
        raise ConfigurationError(
            f"{FILE_ENV}: production needs the vault keyring: the path of a JSON file "
            '{"active": KID, "keys": {KID: base64url 32-byte key}, "fingerprint_key": '
            "base64url key}, mode 0600, kept outside the code and backed up (create one with "
            f"`python -m webapp.vault create-keyring PATH`), or the JSON itself in {JSON_ENV}"
        )
    store = FileKeyringStore(Path(app.instance_path) / DEV_KEYRING_NAME)
    if not store.exists():
        _create_dev_keyring(store, env_name)
    return store


def _create_dev_keyring(store: FileKeyringStore, env_name: str) -> None:
    if store.create(Keyring.generate()):
        # Tests create one per app; only a developer needs the warning.
        level = logging.INFO if env_name == "testing" else logging.WARNING
        logger.log(
            level,
            "vault: created a development keyring at %s; production refuses to start without "
            "%s, and credentials saved under this keyring cannot be read without this file",
            store.path,
            FILE_ENV,
        )


def init_app(app) -> Vault:
    """Load (or in development create) the keyring; put the Vault in app.extensions."""
    store = keyring_store_for(app)
    _check_distinct_from_secret_key(store.load(), app.config.get("SECRET_KEY"))
    vault = Vault(store)
    app.extensions["vault"] = vault
    return vault


def _check_distinct_from_secret_key(keyring: Keyring, secret_key: str | bytes | None) -> None:
    if not secret_key:
        return
    secret = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    if any(
        hmac.compare_digest(secret, key)
        for key in (*keyring.keys.values(), keyring.fingerprint_key)
    ):
        raise ConfigurationError(
            f"{FILE_ENV}: the vault keys must differ from SECRET_KEY; generate a new keyring"
        )


def get_vault() -> Vault:
    """The current app's vault."""
    from flask import current_app

    try:
        return current_app.extensions["vault"]
    except KeyError:
        raise RuntimeError("the vault is not set up: call webapp.vault.init_app(app)") from None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m webapp.vault create-keyring PATH`: make a production keyring file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "create-keyring":
        print("usage: python -m webapp.vault create-keyring PATH", file=sys.stderr)
        return 2
    store = FileKeyringStore(args[1])
    if not store.create(Keyring.generate()):
        print(f"{args[1]} exists already; not overwritten", file=sys.stderr)
        return 1
    print(f"created vault keyring {args[1]} (mode 0600); set {FILE_ENV} to its path")
    return 0


if __name__ == "__main__":
    sys.exit(main())
