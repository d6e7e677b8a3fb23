"""The host-app API and the pages that manage it (API keys, claim routing).

`init_app` registers them; the API answers every error under `/api/` as a problem document,
never an HTML page.
"""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _

from webapp.api.claims import bp, json_response, not_found
from webapp.api.openapi import document
from webapp.api.problems import problem

PREFIX = "/api/"


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document (no key needed)."""
    return json_response(document())


@bp.get("/docs")
def reference() -> str:
    """A readable reference page built from the same document."""
    return render_template("api/reference.html", doc=document())


def is_api_request() -> bool:
    return request.path.startswith(PREFIX)


def init_app(app: Flask) -> None:
    """Register the API and its problem documents for errors under /api/."""
    app.register_blueprint(bp)
    for code in (400, 404, 405, 413, 500):
        _problem_under_api(app, code)


def _problem_under_api(app: Flask, code: int) -> None:
    """Wrap the app's page for `code` so requests under /api/ get a problem document."""
    page = next(iter(app.error_handler_spec[None][code].values()))

    def handler(exc):
        if not is_api_request():
            return page(exc)
        if code == 404:
            return not_found()
        if code == 405:
            return problem(
                405,
                "method-not-allowed",
                _("Not allowed"),
                _("This address does not take that method."),
            )
        if code == 413:
            return problem(
                413, "body-too-large", _("The request is too large"), _("Split the batch.")
            )
        if code == 400:
            return problem(
                400,
                "bad-request",
                _("The request cannot be read"),
                _("Check the request and send it again."),
            )
        return problem(
            500,
            "server-error",
            _("Something went wrong"),
            _("Nothing was stored. Send the request again; tell Ledgerlink if it keeps happening."),
        )

    app.register_error_handler(code, handler)
