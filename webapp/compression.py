"""Gzip for text responses: a page of the dashboard shrinks to a fraction on a phone's link.

Only responses worth it (text of at least MIN_SIZE bytes, not already encoded, not streamed
files) and only for clients that accept gzip; `Vary: Accept-Encoding` keeps caches honest.
Level 6 is zlib's default; measured in bench/pages.py it costs well under a millisecond for
the largest page.
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

MIN_SIZE = 1024
LEVEL = 6
TEXT_TYPES = (
    "application/json",
    "application/problem+json",
    "application/manifest+json",
    "application/javascript",
    "image/svg+xml",
)


def init_app(app: Flask) -> None:
    app.after_request(compress)


def compress(response: Response) -> Response:
    """Gzip the body of `response` when the client accepts it and it is worth it."""
    if not _compressible(response):
        return response
    response.vary.add("Accept-Encoding")
    if not request.accept_encodings["gzip"]:
        return response
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def _compressible(response: Response) -> bool:
    if response.direct_passthrough or response.is_streamed:
        return False  # files and streams are sent as they are read
    if response.status_code < 200 or response.status_code in (204, 304):
        return False
    if "Content-Encoding" in response.headers:
        return False
    mimetype = response.mimetype or ""
    return mimetype.startswith("text/") or mimetype in TEXT_TYPES
