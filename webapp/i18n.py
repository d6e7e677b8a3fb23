"""Language choice: Norwegian Bokmål by default, English on request.

Order: `?lang=` (remembered in the session), the session, the organisation's default, then
the browser's Accept-Language where `no` and `nn` count as Bokmål.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import DateTimePattern, parse_pattern
from flask import g, request, session
from flask_babel import get_locale

LOCALES = ("nb", "en")
_ALIASES = {"nb": "nb", "no": "nb", "nn": "nb", "en": "en"}


def _normalise(tag: str | None) -> str | None:
    if not tag:
        return None
    return _ALIASES.get(tag.replace("_", "-").split("-")[0].lower())


def select_locale() -> str:
    chosen = _normalise(request.args.get("lang"))
    if chosen:
        session["lang"] = chosen
        return chosen
    candidates = [session.get("lang")]
    org = g.get("org")
    if org is not None:
        candidates.append(org.default_locale)
    candidates += [tag for tag, _quality in request.accept_languages]
    for candidate in candidates:
        locale = _normalise(candidate)
        if locale:
            return locale
    return "nb"


def current_locale() -> str:
    return str(get_locale() or "nb")


def text(value) -> str:
    """Pick the current language from an adapters `Text` or a {"nb", "en"} dict."""
    if value is None:
        return ""
    locale = current_locale()
    if isinstance(value, dict):
        return value.get(locale) or value.get("nb") or ""
    return value.get(locale)


def word(words: Mapping[str, Callable[[], str]], key: str) -> str:
    """An internal value in words from a table of translated words (each looked up when
    read, in the request's language); a value the table lacks reads as itself."""
    found = words.get(key)
    return found() if found else key


# How instants read on pages: (language, style) → CLDR pattern.
_PATTERNS = {
    ("nb", "short"): "dd.MM.yyyy 'kl.' HH:mm",
    ("en", "short"): "d MMM yyyy, HH:mm",
    ("nb", "long"): "EEEE d. MMMM yyyy 'kl.' HH:mm",
    ("en", "long"): "EEEE d MMMM yyyy 'at' HH:mm",
    ("nb", "numeric"): "dd.MM.yyyy HH:mm",
    ("en", "numeric"): "d MMM yyyy HH:mm",
    ("nb", "seconds"): "dd.MM.yyyy HH:mm:ss",
    ("en", "seconds"): "d MMM yyyy HH:mm:ss",
}


@functools.cache
def _formatter(language: str, style: str) -> tuple[DateTimePattern, Locale]:
    """The parsed pattern and locale, once per process (Babel's format_datetime parses the
    locale name on every call, which a page of a hundred times paid a hundred times)."""
    return parse_pattern(_PATTERNS[(language, style)]), Locale.parse(
        "en_GB" if language == "en" else "nb_NO"
    )


def format_local(value: dt.datetime, time_zone: str, locale: str, style: str = "short") -> str:
    """An instant in the organisation's time zone and the reader's language."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    pattern, babel_locale = _formatter("en" if locale.startswith("en") else "nb", style)
    return pattern.apply(value.astimezone(ZoneInfo(time_zone)), babel_locale)


def local_time(value: dt.datetime | str | None, style: str = "short") -> str:
    """An instant as the current organisation reads it (empty for none); ISO strings too."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    org = g.get("org")
    return format_local(
        value, org.time_zone if org is not None else "Europe/Oslo", current_locale(), style
    )


def money(value) -> str:
    """An amount in kroner with two decimals, as the page's language writes it (1 234,50)."""
    from babel.numbers import format_decimal

    if value is None or value == "":
        return ""
    return format_decimal(value, format="#,##0.00", locale=current_locale())
