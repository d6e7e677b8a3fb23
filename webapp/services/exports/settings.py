"""An export's settings (from the app's configuration, with defaults), its queue and job, and
the helpers for its bilingual messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app, has_app_context
from flask_babel import force_locale

from adapters import get_type
from adapters.types import Text
from webapp.config import EXPORT_DEFAULTS
from webapp.i18n import current_locale
from webapp.models import (
    Integration,
)

log = logging.getLogger("ledgerlink.exports")

JOB = "webapp.jobs.export.run_export"
# Transport failures after which the request may still be in the provider's hands.
UNANSWERED = ("timeout", "connect")
QUEUE = "exports"
# Integrations whose claims may be exported; the others are skipped and the dashboard says why.
EXPORTABLE = ("connected", "degraded")
ACTIVE = ("queued", "running")
# First key of the PostgreSQL advisory lock an export holds; the second is the integration id.
LOCK_CLASS = 0x4C4C


def setting(name: str):
    """An export setting from the app's configuration (webapp.config reads the environment)."""
    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return EXPORT_DEFAULTS[name]


def bilingual(render: Callable[[], str]) -> dict[str, str]:
    """A message in both languages: `render` runs once per locale with gettext forced to it."""
    out = {}
    for locale in ("nb", "en"):
        with force_locale(locale):
            out[locale] = render()
    return out


def _t(value: Text | dict | None) -> str:
    """The current (forced) language's half of a provider `Text` or a stored message."""
    if value is None:
        return ""
    locale = current_locale()
    if isinstance(value, dict):
        return value.get(locale) or value.get("nb") or ""
    return value.get(locale)


def type_name(integration: Integration) -> Text:
    """The accounting system's name; use `_t` on it inside `bilingual`."""
    try:
        return get_type(integration.type_key).name
    except KeyError:
        return Text(integration.type_key, integration.type_key)
