"""Where a redirect or a link may lead: only to a path on this site (never an open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None.

    Browsers read a backslash as a slash, so `/\\evil.example` and `//evil.example` both lead
    off-site; control characters can hide either.
    """
    if not target or not target.startswith("/") or len(target) > 2000:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    normalised = target.replace("\\", "/")
    if normalised.startswith("//"):
        return None
    parts = urlsplit(normalised)
    if parts.scheme or parts.netloc:
        return None
    return target


def local_path(path: str) -> str:
    """The request's path when it is safe to link to, else the front page."""
    return safe_next(path) or "/"
