"""Setting the vault up: from the app's configuration (development creates a keyring), and
`python -m webapp.vault create-keyring PATH` for production.
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from webapp.config import ConfigurationError
from webapp.vault.credentials import Vault
from webapp.vault.keyring import EnvKeyringStore, FileKeyringStore, Keyring, KeyringStore
from webapp.vault.tokens import DEV_KEYRING_NAME, FILE_ENV, JSON_ENV, logger

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
        if env_name == "production":
            _refuse_shared_file(store)
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


def _refuse_shared_file(store: FileKeyringStore) -> None:
    """Production keeps its keys to itself: a keyring others may read or write is refused."""
    try:
        mode = store.path.stat().st_mode
    except OSError:
        return  # FileKeyringStore.load names the unreadable file
    if mode & 0o077:
        raise ConfigurationError(
            f"{FILE_ENV}: the vault keyring {str(store.path)!r} can be read or changed by other "
            f"users (mode {mode & 0o777:o}); run chmod 600 on it"
        )


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
