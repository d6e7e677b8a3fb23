"""Language choice: Norwegian Bokmål by default, English on request.

Order: `?lang=` (remembered in the session), the session, the organisation's default, then
the browser's Accept-Language where `no` and `nn` count as Bokmål.
"""

from __future__ import annotations

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
    if _normalise(session.get("lang")):
        return session["lang"]
    org = g.get("org")
    if org is not None and _normalise(org.default_locale):
        return _normalise(org.default_locale)
    for tag, _quality in request.accept_languages:
        if _normalise(tag):
            return _normalise(tag)
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
