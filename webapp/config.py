"""Configuration, read once from the environment.

`LEDGERLINK_ENV` chooses the mode: `development` (the default, what `make run` uses) fills
in safe local defaults; `production` requires every setting and refuses to start with one
line naming what is missing; `testing` is development plus test-friendly switches.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

ENV_NAMES = ("development", "testing", "production")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names it and what it expects."""


def _split(value: str | None) -> list[str]:
    return [part.strip().lower() for part in (value or "").split(",") if part.strip()]


def _dev_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts locally."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load(instance_path: Path, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Build the Flask config mapping from the environment."""
    env = os.environ if environ is None else environ
    name = env.get("LEDGERLINK_ENV", "development")
    if name not in ENV_NAMES:
        raise ConfigurationError(
            f"LEDGERLINK_ENV: expected one of {', '.join(ENV_NAMES)}, got {name!r}."
        )
    production = name == "production"

    def required(key: str, expects: str, dev_default: str | None) -> str:
        value = env.get(key)
        if value:
            return value
        if production or dev_default is None:
            raise ConfigurationError(f"{key} is not set: expected {expects}.")
        return dev_default

    database_url = required(
        "DATABASE_URL",
        "a PostgreSQL URL such as postgresql://user@host/ledgerlink",
        f"sqlite:///{instance_path / 'ledgerlink.db'}",
    )
    if production and not database_url.startswith(("postgres", "postgresql")):
        raise ConfigurationError("DATABASE_URL: production expects a postgresql:// URL.")
    secret_key = env.get("SECRET_KEY") or (None if production else _dev_secret_key(instance_path))
    if not secret_key:
        raise ConfigurationError("SECRET_KEY is not set: expected a long random string.")
    if production and len(secret_key) < 32:
        raise ConfigurationError("SECRET_KEY: expected at least 32 random characters.")

    redis_url = env.get("REDIS_URL") or None
    if production and not redis_url:
        raise ConfigurationError("REDIS_URL is not set: expected redis://host:6379/0.")

    oidc_issuer = env.get("OIDC_ISSUER") or None
    if production:
        for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
            required(key, "the OpenID Connect provider's issuer URL and client", None)

    sandbox_url = env.get("LEDGERLINK_SANDBOX_URL") or None
    if production and sandbox_url:
        raise ConfigurationError(
            "LEDGERLINK_SANDBOX_URL: refused in production; it sends provider calls elsewhere."
        )

    port = env.get("PORT", "5000")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"PORT: expected a number from 1 to 65535, got {port!r}.")

    return {
        "ENV_NAME": name,
        "TESTING": name == "testing",
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTO_MIGRATE": not production,
        "OIDC_ISSUER": oidc_issuer,
        "OIDC_CLIENT_ID": env.get("OIDC_CLIENT_ID", "ledgerlink-dev"),
        "OIDC_CLIENT_SECRET": env.get("OIDC_CLIENT_SECRET", "ledgerlink-dev-secret"),
        "OIDC_SCOPES": env.get("OIDC_SCOPES", "openid email profile"),
        "ADMIN_EMAILS": _split(env.get("ADMIN_EMAILS")),
        "VAULT_KEYRING_FILE": env.get("LEDGERLINK_VAULT_KEYRING_FILE")
        or (None if production else str(instance_path / "vault-keyring.json")),
        "VAULT_KEYRING": env.get("LEDGERLINK_VAULT_KEYRING") or None,
        "SANDBOX_URL": sandbox_url,
        "PORT": int(port),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "BABEL_DEFAULT_LOCALE": "nb",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent.parent / "translations"),
        # Connection tests allowed per integration and per user in a sliding minute.
        "TEST_RATE_LIMIT": int(env.get("LEDGERLINK_TEST_RATE_LIMIT", "5")),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    }
