"""Typed adapter errors: every provider failure becomes exactly one of these.

Each carries the provider's code and a coordinator message in both languages saying what
was rejected and what to do, plus the credential field to fix where there is one. Never a
secret: messages are built from fixed text and provider codes, never from request data.
"""

from __future__ import annotations

from adapters.types import Text


class AdapterError(Exception):
    """Base class. `kind` is stored on sync runs (`auth`, `permission`, …)."""

    kind = "error"

    def __init__(
        self,
        message: Text,
        *,
        provider_code: str | None = None,
        hint: Text | None = None,
        field: str | None = None,
        retry_after: float | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message.en)
        self.message = message
        self.provider_code = provider_code
        self.hint = hint
        self.field = field
        self.retry_after = retry_after
        # What support needs and a coordinator never reads in the message: the provider's
        # request and correlation ids (e.g. {"request_id": …}), shown under "Technical details".
        self.details = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.provider_code!r}, message={self.message.en!r})"


class AuthError(AdapterError):
    """The system rejected who we are: wrong, expired or revoked credentials."""

    kind = "auth"


class PermissionError(AdapterError):  # shadows the builtin on purpose: the design names this kind
    """We are known but not allowed to do this (missing role, scope or registration)."""

    kind = "permission"


class ConfigError(AdapterError):
    """A setting points at something that does not exist (tenant, environment, table)."""

    kind = "config"


class TransientError(AdapterError):
    """Worth retrying later: timeouts, 5xx, rate limits, unreachable host."""

    kind = "transient"


class DataError(AdapterError):
    """The system refused the data we sent for one record; other records may pass."""

    kind = "data"


class AddressError(ConfigError):
    """The address is not one we are allowed to call (host not allowed, private IP …)."""
