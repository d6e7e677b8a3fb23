"""The keyring (key id → 32-byte key, one active, a separate fingerprint key) and where it is
kept: a file (0600, rewritten atomically and reloaded when another process rotates), the
environment (read-only) or memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hmac
import json
import operator
import os
import secrets
import stat
from binascii import Error as BinasciiError
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from webapp.config import ConfigurationError
from webapp.vault.tokens import (
    _AAD_DOMAIN,
    _KID_RE,
    _SEP,
    FILE_ENV,
    JSON_ENV,
    KEY_BYTES,
    TOKEN_VERSION,
    KeyringError,
    b64url_decode,
    b64url_encode,
    logger,
)

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


# --- what the vault keeps per keyring ------------------------------------------------------


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
