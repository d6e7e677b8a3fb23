"""htmx helpers: every HX-* header the app reads or writes goes through here."""

from __future__ import annotations

import json

from flask import Response, render_template, request


def is_fragment_request() -> bool:
    """True for an htmx request that wants a fragment (not a boosted page load)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


def render(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the full page, or only its fragment for htmx; one view serves both."""
    template = fragment if is_fragment_request() else page
    response = Response(render_template(template, **context), status=status)
    response.headers.add("Vary", "HX-Request")
    return response


def redirect(response: Response, location: str) -> Response:
    """Send an htmx client to another page (a full navigation, not a swap)."""
    response.headers["HX-Redirect"] = location
    return response


def push_url(response: Response, url: str) -> Response:
    response.headers["HX-Push-Url"] = url
    return response


def trigger(response: Response, event: str, detail: object | None = None) -> Response:
    """Fire a client-side event after the swap so other regions can refresh."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def to_region(body: str, target: str) -> Response:
    """Swap `body` into another region of the page (e.g. the live region) instead."""
    response = Response(body, status=200)
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = "innerHTML"
    response.headers.add("Vary", "HX-Request")
    return response


# htmx stops polling an element whose response has this status.
STOP_POLLING = 286
