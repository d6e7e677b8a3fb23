"""Build adapters for an integration from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from adapters import Adapter, AdapterSettings, get_adapter
from webapp.models import Integration


def adapter_settings() -> AdapterSettings:
    """Timeouts and the development-only sandbox redirect, from the app config."""
    config = current_app.config
    return AdapterSettings(
        sandbox_url=config.get("SANDBOX_URL"),
        connect_timeout=float(config.get("ADAPTER_CONNECT_TIMEOUT", 5.0)),
        read_timeout=float(config.get("ADAPTER_READ_TIMEOUT", 20.0)),
        max_attempts=int(config.get("ADAPTER_MAX_ATTEMPTS", 4)),
        max_retry_seconds=float(config.get("ADAPTER_MAX_RETRY_SECONDS", 60.0)),
        backoff_base=float(config.get("ADAPTER_BACKOFF_BASE", 0.5)),
    )


def adapter_for(integration: Integration, credentials: Mapping[str, str]) -> Adapter:
    """An adapter for this integration's type holding decrypted credentials (worker only)."""
    return get_adapter(integration.type_key)(credentials, adapter_settings())
