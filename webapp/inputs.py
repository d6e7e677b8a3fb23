"""One guard for what people type: characters no form field may hold.

A NUL byte ends a PostgreSQL text value (psycopg refuses it) and other control characters
are invisible in a form, so a value holding either would end in an error page or in data no
one can read. Every browser form post is checked here before any view runs; the answer names
the field and says what to do, and the form keeps what was typed (htmx shows the message in
the page's live region; without JavaScript the browser's back button keeps the form).
"""

from __future__ import annotations

import re

from flask import Response, render_template, request
from flask_babel import gettext as _
from flask_babel import refresh

from webapp import htmx

# C0 controls but tab, line feed and carriage return; DEL; C1 controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def first_bad_field() -> str | None:
    """The name of the first submitted form field holding a forbidden character."""
    for name, value in request.form.items(multi=True):
        if FORBIDDEN.search(value) or FORBIDDEN.search(name):
            return FORBIDDEN.sub("?", name)[:80]
    return None


def refuse(field: str) -> Response:
    """The answer to a form with a forbidden character: which field, and what to do."""
    refresh()  # this runs before the request's locale is chosen: choose it now
    message = _(
        "The field “%(field)s” contains an invisible control character (often from copying "
        "text out of another program). Type the value again, or paste it as plain text, "
        "then send the form again.",
        field=field,
    )
    if htmx.is_fragment_request():
        # htmx does not swap 4xx answers: put the message in the page's live region.
        return htmx.to_region(render_template("_flash.html", message=message), "#flash")
    return Response(
        render_template("error.html", title=_("Invalid characters"), message=message), 400
    )
