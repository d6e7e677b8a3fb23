"""Configuration, read once from the environment into a config class.

`LEDGERLINK_ENV` chooses the class: `DevelopmentConfig` (the default, what `make run` uses)
fills in safe local defaults; `ProductionConfig` requires every setting, refuses weak ones and
stops the process with one line naming the setting and the rule; `TestingConfig` is
development plus test-friendly switches. `create_app` builds the config once; everything else
reads `app.config` or takes arguments.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

ENV_NAMES = ("development", "testing", "production")
ROOT = Path(__file__).resolve().parent.parent
# A session key needs this many bits by a generous estimate (length × log2 of its alphabet).
SECRET_KEY_BITS = 128
SECRET_KEY_HINT = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


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


def secret_key_bits(key: str) -> float:
    """Bits a key can hold at most, given its length and how many different characters it
    uses: "a" * 32 holds none, a token from `secrets.token_urlsafe(48)` about 380."""
    distinct = len(set(key))
    return len(key) * math.log2(distinct) if distinct > 1 else 0.0


def number(
    env: Mapping[str, str],
    key: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
    kind: Callable[[str], Any] = int,
) -> Any:
    """A numeric setting, or one line saying which and what is expected."""
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    what = "a whole number" if kind is int else "a number"
    limits = f"from {minimum:g}" + (f" to {maximum:g}" if maximum is not None else " upwards")
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{key}: expected {what} {limits}, got {raw!r}.") from None
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        raise ConfigurationError(f"{key}: expected {what} {limits}, got {raw!r}.")
    return value


class Config:
    """Settings every mode shares; `from_environ` adds what comes from the environment."""

    name: ClassVar[str] = "development"
    production: ClassVar[bool] = False

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    BABEL_DEFAULT_LOCALE = "nb"
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    # Strict-Transport-Security, sent only where the app is served over TLS (production).
    HSTS: str | None = None

    @classmethod
    def statics(cls) -> dict[str, Any]:
        return {
            key: getattr(cls, key)
            for key in dir(cls)
            if key.isupper() and not key.startswith("_") and not callable(getattr(cls, key))
        }

    @classmethod
    def required(cls, env: Mapping[str, str], key: str, expects: str, default: str | None) -> str:
        value = env.get(key)
        if value:
            return value
        if cls.production or default is None:
            raise ConfigurationError(f"{key} is not set: expected {expects}.")
        return default

    @classmethod
    def from_environ(cls, instance_path: Path, env: Mapping[str, str]) -> dict[str, Any]:
        """The whole Flask config mapping for this mode."""
        database_url = cls.required(
            env,
            "DATABASE_URL",
            "a PostgreSQL URL such as postgresql://user@host/ledgerlink",
            f"sqlite:///{instance_path / 'ledgerlink.db'}",
        )
        secret_key = env.get("SECRET_KEY") or (
            None if cls.production else _dev_secret_key(instance_path)
        )
        if not secret_key:
            raise ConfigurationError("SECRET_KEY is not set: expected a long random string.")
        redis_url = env.get("REDIS_URL") or None
        if cls.production and not redis_url:
            raise ConfigurationError("REDIS_URL is not set: expected redis://host:6379/0.")
        if cls.production:
            for key in ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
                cls.required(env, key, "the OpenID Connect provider's issuer URL and client", None)
        config = {
            **cls.statics(),
            "ENV_NAME": cls.name,
            "TESTING": cls.name == "testing",
            "SECRET_KEY": secret_key,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AUTO_MIGRATE": not cls.production,
            # PostgreSQL connections kept open between requests; tests build an app per test
            # and open their own.
            "DATABASE_POOL": env.get(
                "LEDGERLINK_DATABASE_POOL", "" if cls.name == "testing" else "1"
            ).lower()
            in ("1", "true", "yes"),
            "OIDC_ISSUER": env.get("OIDC_ISSUER") or None,
            "OIDC_CLIENT_ID": env.get("OIDC_CLIENT_ID", "ledgerlink-dev"),
            "OIDC_CLIENT_SECRET": env.get("OIDC_CLIENT_SECRET", "ledgerlink-dev-secret"),
            "OIDC_SCOPES": env.get("OIDC_SCOPES", "openid email profile"),
            # Refuse sign-ins whose ID token does not say `email_verified: true`.
            "OIDC_REQUIRE_EMAIL_VERIFIED": env.get("OIDC_REQUIRE_EMAIL_VERIFIED", "").lower()
            in ("1", "true", "yes"),
            "ADMIN_EMAILS": _split(env.get("ADMIN_EMAILS")),
            "VAULT_KEYRING_FILE": env.get("LEDGERLINK_VAULT_KEYRING_FILE")
            or (None if cls.production else str(instance_path / "vault-keyring.json")),
            "VAULT_KEYRING": env.get("LEDGERLINK_VAULT_KEYRING") or None,
            "SANDBOX_URL": env.get("LEDGERLINK_SANDBOX_URL") or None,
            "PORT": number(env, "PORT", 5000, minimum=1, maximum=65535),
            "SESSION_COOKIE_SECURE": cls.production,
            "PREFERRED_URL_SCHEME": "https" if cls.production else "http",
            # A sign-in ends after this long without a request, and after this long at most.
            "SESSION_IDLE_MINUTES": number(env, "SESSION_IDLE_MINUTES", 30, minimum=1),
            "SESSION_MAX_HOURS": number(env, "SESSION_MAX_HOURS", 12, minimum=1, maximum=168),
            # Connection tests allowed per integration and per user in a sliding minute.
            "TEST_RATE_LIMIT": number(env, "LEDGERLINK_TEST_RATE_LIMIT", 5, minimum=1),
            **export_settings(env),
            **mail_settings(env),
        }
        cls.validate(config)
        return config

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        """Rules of this mode beyond presence; production's are strict."""


class DevelopmentConfig(Config):
    name = "development"


class TestingConfig(Config):
    name = "testing"


class ProductionConfig(Config):
    name = "production"
    production = True
    HSTS = "max-age=31536000; includeSubDomains"

    @classmethod
    def validate(cls, config: dict[str, Any]) -> None:
        if not str(config["DATABASE_URL"]).startswith(("postgres://", "postgresql://")):
            raise ConfigurationError("DATABASE_URL: production expects a postgresql:// URL.")
        key = config["SECRET_KEY"]
        if len(key) < 32:
            raise ConfigurationError(
                f"SECRET_KEY: expected at least 32 random characters; {SECRET_KEY_HINT}."
            )
        if secret_key_bits(key) < SECRET_KEY_BITS:
            raise ConfigurationError(
                "SECRET_KEY: too predictable (it repeats too few different characters); "
                f"{SECRET_KEY_HINT}."
            )
        if not str(config["OIDC_ISSUER"]).lower().startswith("https://"):
            raise ConfigurationError(
                "OIDC_ISSUER: production expects an https:// issuer URL, so sign-in cannot "
                "be read or changed on the way."
            )
        if config["SANDBOX_URL"]:
            raise ConfigurationError(
                "LEDGERLINK_SANDBOX_URL: refused in production; it sends provider calls elsewhere."
            )
        if config["DEV_MAIL"]:
            raise ConfigurationError(
                "LEDGERLINK_DEV_MAIL: refused in production; it shows every e-mail on a page."
            )
        if config["SMTP_HOST"]:
            if not str(config["PUBLIC_URL"]).startswith("https://"):
                raise ConfigurationError(
                    "PUBLIC_URL: with SMTP_HOST set, production expects the https:// address "
                    "people open Ledgerlink at (links in e-mail start with it)."
                )
            if config["SMTP_SECURITY"] == "none" and config["SMTP_HOST"] not in LOOPBACK:
                raise ConfigurationError(
                    "SMTP_SECURITY: production expects starttls or tls to a mail server that is "
                    "not on this machine, so the password and messages are not sent in clear."
                )


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

# Export tuning (webapp.services.exports): name → default; `LEDGERLINK_<NAME>` overrides.
EXPORT_DEFAULTS: dict[str, Any] = {
    # Attempts at sending one batch before the run gives up on a transient error.
    "EXPORT_SEND_ATTEMPTS": 3,
    "EXPORT_SEND_BACKOFF": 1.0,
    # Seconds before each `retry` run after a run ended on a transient error.
    "EXPORT_RETRY_DELAYS": (60.0, 300.0, 1800.0),
    # How long a run waits for another run of the same integration to let go.
    "EXPORT_LOCK_WAIT": 10.0,
    # After a call that got no answer (timeout, connection lost) the provider may still be
    # storing what it received: wait this long before asking it what it has.
    "EXPORT_SETTLE_SECONDS": 30.0,
    # Longest wait the job honours when the provider asks it to slow down.
    "EXPORT_MAX_RETRY_WAIT": 60.0,
    # Claims read and resolved at a time.
    "EXPORT_CLAIM_CHUNK": 500,
    # Voucher lines per call, when lower than the provider's own limit (smaller batches show
    # progress sooner and lose less to an interruption).
    "EXPORT_BATCH_LINES": None,
}


LOOPBACK = ("localhost", "127.0.0.1", "::1")
SMTP_SECURITIES = ("starttls", "tls", "none")


def mail_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """E-mail: the SMTP server (no SMTP_HOST: no e-mail is sent) and the public address."""
    host = (env.get("SMTP_HOST") or "").strip() or None
    security = (env.get("SMTP_SECURITY") or "").strip().lower()
    if not security:
        security = "none" if host in LOOPBACK else "starttls"
    if security not in SMTP_SECURITIES:
        raise ConfigurationError(
            f"SMTP_SECURITY: expected one of {', '.join(SMTP_SECURITIES)}, got {security!r}."
        )
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    port = number(env, "PORT", 5000, minimum=1, maximum=65535)
    return {
        "SMTP_HOST": host,
        "SMTP_PORT": number(env, "SMTP_PORT", default_port, minimum=1, maximum=65535),
        "SMTP_SECURITY": security,
        "SMTP_USER": env.get("SMTP_USER") or None,
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or None,
        "MAIL_FROM": env.get("MAIL_FROM") or "Ledgerlink <ledgerlink@localhost>",
        "PUBLIC_URL": (env.get("PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        # `make run`: a page showing what the local catch-all SMTP server received.
        "DEV_MAIL": (env.get("LEDGERLINK_DEV_MAIL") or "").lower() in ("1", "true", "yes"),
    }


def export_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The export settings, each from `LEDGERLINK_<NAME>` when set, else its default."""
    out: dict[str, Any] = {}
    for name, default in EXPORT_DEFAULTS.items():
        key = f"LEDGERLINK_{name}"
        if isinstance(default, tuple):
            raw = env.get(key)
            if raw is None:
                out[name] = default
                continue
            out[name] = tuple(
                number({key: part}, key, 0.0, minimum=0, kind=float)
                for part in raw.split(",")
                if part.strip()
            )
        elif default is None or isinstance(default, float):
            out[name] = number(env, key, default, minimum=0, kind=float)  # type: ignore[arg-type]
        else:
            out[name] = number(env, key, default, minimum=1)
    return out


def config_class(env: Mapping[str, str]) -> type[Config]:
    name = env.get("LEDGERLINK_ENV", "development")
    if name not in CONFIGS:
        raise ConfigurationError(
            f"LEDGERLINK_ENV: expected one of {', '.join(ENV_NAMES)}, got {name!r}."
        )
    return CONFIGS[name]


def load(instance_path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment (the process's by default)."""
    env = os.environ if environ is None else environ
    return config_class(env).from_environ(instance_path, env)
