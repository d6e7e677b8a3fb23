"""The token format: `v1.<kid>.<nonce>.<ciphertext+tag>` in strict base64url, the associated
data that binds a token to its row, and the vault's errors.
"""

from __future__ import annotations

import logging
import re
from binascii import a2b_base64, b2a_base64
from typing import NamedTuple

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
