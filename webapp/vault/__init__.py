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

The package's parts: `tokens` (format, associated data, errors), `keyring` (keys and where
they are kept), `credentials` (the Vault: seal, open, fingerprint, rotate, rewrap), `setup`
(from the app's configuration; `python -m webapp.vault create-keyring PATH`).
"""

from __future__ import annotations

from webapp.vault.credentials import Vault
from webapp.vault.keyring import (
    EnvKeyringStore,
    FileKeyringStore,
    Keyring,
    KeyringStore,
    MemoryKeyringStore,
    associated_data,
    new_key_id,
    read_only_message,
)
from webapp.vault.setup import get_vault, init_app, keyring_store_for, main
from webapp.vault.tokens import (
    DEV_KEYRING_NAME,
    FILE_ENV,
    FINGERPRINT_HEX,
    JSON_ENV,
    KEY_BYTES,
    NONCE_BYTES,
    REASONS,
    TAG_BYTES,
    TOKEN_VERSION,
    KeyringError,
    RewrapResult,
    Slot,
    VaultError,
    b64url_decode,
    b64url_encode,
)

__all__ = [
    "DEV_KEYRING_NAME",
    "EnvKeyringStore",
    "FILE_ENV",
    "FINGERPRINT_HEX",
    "FileKeyringStore",
    "JSON_ENV",
    "KEY_BYTES",
    "Keyring",
    "KeyringError",
    "KeyringStore",
    "MemoryKeyringStore",
    "NONCE_BYTES",
    "REASONS",
    "RewrapResult",
    "Slot",
    "TAG_BYTES",
    "TOKEN_VERSION",
    "Vault",
    "VaultError",
    "associated_data",
    "b64url_decode",
    "b64url_encode",
    "get_vault",
    "init_app",
    "keyring_store_for",
    "main",
    "new_key_id",
    "read_only_message",
]
