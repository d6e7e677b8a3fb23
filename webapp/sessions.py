"""How long a sign-in lasts, and how it ends (DESIGN §8, and the outside review).

The session cookie (signed, HttpOnly) carries the user id, the user's session epoch and two
times: when the person signed in and when they were last seen. A session is over when
- the person has been idle longer than SESSION_IDLE_MINUTES (default 30),
- it is older than SESSION_MAX_HOURS (default 12), or
- its epoch is not the user's any more: signing out bumps the epoch, which ends every
  session of that person at once, a copied cookie included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from webapp.models import User

# The last-seen time is rewritten at most this often, so the cookie does not change (and is
# not sent back) on every request.
TOUCH_SECONDS = 60


def start(session: MutableMapping[str, Any], user: User, now: float | None = None) -> None:
    """A fresh session for `user` (the caller cleared the old one)."""
    now = time.time() if now is None else now
    session["user_id"] = user.id
    session["epoch"] = user.session_epoch
    session["signed_in_at"] = int(now)
    session["seen_at"] = int(now)


def is_current(
    session: Mapping[str, Any], user: User, config: Mapping[str, Any], now: float | None = None
) -> bool:
    """Whether the session still stands: same epoch, not idle too long, not too old."""
    now = time.time() if now is None else now
    if session.get("epoch") != user.session_epoch:
        return False
    idle = float(config.get("SESSION_IDLE_MINUTES", 30)) * 60
    lifetime = float(config.get("SESSION_MAX_HOURS", 12)) * 3600
    seen = session.get("seen_at")
    signed_in = session.get("signed_in_at")
    if not isinstance(seen, int | float) or not isinstance(signed_in, int | float):
        return False
    return now - seen <= idle and now - signed_in <= lifetime


def touch(session: MutableMapping[str, Any], now: float | None = None) -> None:
    now = time.time() if now is None else now
    if now - float(session.get("seen_at") or 0) >= TOUCH_SECONDS:
        session["seen_at"] = int(now)
