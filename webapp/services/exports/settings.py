"""An export's settings (from the app's configuration, with defaults), its queue and job, and
the helpers for its bilingual messages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from flask import current_app, has_app_context
from flask_babel import force_locale

from adapters import get_type
from adapters.types import Text
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

DEFAULTS = {
    # Tries of one batch inside a run when the provider fails transiently (reconciling first).
    "EXPORT_SEND_ATTEMPTS": 3,
    "EXPORT_SEND_BACKOFF": 2.0,
    # Seconds before each automatic `retry` run after a run failed transiently.
    "EXPORT_RETRY_DELAYS": (120, 600),
    # How long a job waits for another export of the same integration to finish.
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


def setting(name: str):
    """An export setting: app config, else `LEDGERLINK_<NAME>` in the environment, else default."""
    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    raw = os.environ.get(f"LEDGERLINK_{name}")
    if raw is not None:
        default = DEFAULTS[name]
        if isinstance(default, tuple):
            return tuple(float(part) for part in raw.split(",") if part.strip())
        return float(raw) if default is None or isinstance(default, float) else int(raw)
    return DEFAULTS[name]


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
