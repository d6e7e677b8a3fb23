"""Times in the editor, in the reader's language and the organisation's time zone; Text in the
reader's language.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from adapters.types import Text
from webapp.i18n import current_locale, format_local

# ---------------------------------------------------------------------------------------------
# Small helpers


def local_time(value: dt.datetime, time_zone: str) -> str:
    """An instant as the organisation reads it, in the reader's language and its time zone."""
    return format_local(value, _zone(time_zone).key, current_locale(), "numeric")


def clock_time(value: dt.datetime, time_zone: str) -> str:
    """14:05 when it was today in the organisation's time zone, else with the date too."""
    zone = _zone(time_zone)
    local = value.astimezone(zone)
    if local.date() == dt.datetime.now(zone).date():
        return local.strftime("%H:%M")
    return format_local(value, zone.key, current_locale(), "numeric")


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (KeyError, ValueError):
        return ZoneInfo("Europe/Oslo")


def _t(value: Text) -> str:
    from webapp.i18n import text

    return text(value)
