"""Adapter registry: integration type key → adapter class (Redash style).

Each adapter module ends with `register(ItsAdapter)`; importing this package imports them.
"""

from __future__ import annotations

from adapters.base import Adapter, AdapterSettings
from adapters.types import IntegrationType

_registry: dict[str, type[Adapter]] = {}


def register(adapter_class: type[Adapter]) -> type[Adapter]:
    _registry[adapter_class.type.key] = adapter_class
    return adapter_class


def get_adapter(key: str) -> type[Adapter]:
    """The adapter class for a type key; KeyError for an unknown type."""
    _load()
    return _registry[key]


def get_type(key: str) -> IntegrationType:
    return get_adapter(key).type


def all_types() -> list[IntegrationType]:
    _load()
    return [cls.type for cls in _registry.values()]


def _load() -> None:
    # Imported lazily so that `adapters.types` can be used without pulling in every client.
    from adapters import modules  # noqa: F401


__all__ = ["Adapter", "AdapterSettings", "register", "get_adapter", "get_type", "all_types"]
