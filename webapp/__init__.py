"""Ledgerlink web application: `create_app` is the only place an app is built."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, abort, g, render_template, request
from flask_babel import Babel, refresh
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from peewee import InterfaceError, OperationalError
from redis.exceptions import RedisError

from webapp import compression, htmx, inputs
from webapp import config as config_module
from webapp.config import ConfigurationError
from webapp.templating import CollapseWhitespace

ROOT = Path(__file__).resolve().parent.parent

babel = Babel()
csrf = CSRFProtect()

__all__ = ["create_app", "create_app_or_exit", "ConfigurationError"]


def create_app_or_exit() -> Flask:
    """Build the app for a process; a configuration problem exits with one line naming it."""
    import sys

    try:
        return create_app()
    except ConfigurationError as exc:
        sys.exit(f"ledgerlink: configuration error: {exc}")


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment, with `config` overriding any setting."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    instance = Path(app.instance_path)
    overrides = dict(config or {})
    environ = None
    if "ENV_NAME" in overrides:
        import os

        environ = {**os.environ, "LEDGERLINK_ENV": overrides["ENV_NAME"]}
        if "DATABASE_URL" in overrides:
            environ["DATABASE_URL"] = overrides["DATABASE_URL"]
    app.config.update(config_module.load(instance, environ))
    app.config.update(overrides)
    instance.mkdir(parents=True, exist_ok=True)
    _configure_logging(app)
    # First registered, so it runs after every other after_request function.
    compression.init_app(app)
    app.jinja_env.add_extension(CollapseWhitespace)

    _init_database(app)
    from webapp import queue, vault

    vault.init_app(app)
    queue.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.url_value_preprocessor
    def _csrf_first(endpoint, values):
        # Refuse a forged state change before any lookup runs (blueprint preprocessors
        # would otherwise answer 404 first and tell an attacker what exists).
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and endpoint:
            if endpoint.startswith("api."):
                return  # the host-app API: bearer keys, no cookies, so no CSRF (DESIGN §11)
            if endpoint == "account.unsubscribe":
                return  # one click from a mail client (RFC 8058): the signed link is the key
            csrf.protect()
            bad = inputs.first_bad_field()
            if bad is not None:
                abort(inputs.refuse(bad))

    from webapp import api
    from webapp.views import auth

    auth.init_app(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_handlers(app)
    _register_template_helpers(app)
    api.init_app(app)
    return app


def _configure_logging(app: Flask) -> None:
    if not logging.getLogger("ledgerlink").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("ledgerlink").addHandler(handler)
    logging.getLogger("ledgerlink").setLevel(logging.INFO)


def _init_database(app: Flask) -> None:
    from webapp.db import db, init_database
    from webapp.migrate import upgrade

    database = init_database(app.config["DATABASE_URL"], pool=bool(app.config.get("DATABASE_POOL")))
    if app.config["AUTO_MIGRATE"]:
        try:
            with database.connection_context():
                upgrade(database)
        except OperationalError as exc:
            raise ConfigurationError(
                f"DATABASE_URL: the database did not answer ({type(exc).__name__})."
            ) from exc

    @app.before_request
    def _connect():
        if request.endpoint not in ("static", "health.healthz", "health.readyz"):
            db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()


def _select_locale() -> str:
    from webapp.i18n import select_locale

    return select_locale()


def _register_blueprints(app: Flask) -> None:
    from webapp.services.claims import counts_by_integration
    from webapp.views import (
        account,
        admin,
        api_keys,
        auth,
        claims,
        claims_import,
        connection,
        credentials,
        dashboard,
        dev_mail,
        health,
        integration_settings,
        mappings,
        pwa,
        routing,
        runs,
        schedules,
        webhooks,
        wizard,
    )

    app.before_request(_load_user)
    for bp in (
        auth.bp,
        admin.bp,
        dashboard.bp,
        dashboard.home_bp,
        health.bp,
        pwa.bp,
        wizard.bp,
        credentials.bp,
        mappings.bp,
        schedules.bp,
        runs.bp,
        api_keys.bp,
        routing.bp,
        claims.bp,
        claims_import.bp,
        webhooks.bp,
        account.bp,
        connection.bp,
        integration_settings.bp,
    ):
        app.register_blueprint(bp)
    if app.config.get("DEV_MAIL"):
        app.register_blueprint(dev_mail.bp)  # development only: what the local SMTP caught
    # The dashboard's claim counts per integration (templates/dashboard/_default_integration).
    app.jinja_env.globals["claim_counts"] = counts_by_integration


def _load_user() -> None:
    from flask_babel import refresh

    from webapp.access import load_user

    # The locale is chosen per request (an app context can outlive one request in tests).
    refresh()

    if request.endpoint not in ("static", "health.healthz", "health.readyz"):
        load_user()
    else:
        g.user = None


def _register_cli(app: Flask) -> None:
    from webapp.cli import commands
    from webapp.cli.api_keys import api_key_cli
    from webapp.cli.vault import vault_cli

    app.cli.add_command(vault_cli)
    app.cli.add_command(api_key_cli)
    commands.register(app)


def _register_handlers(app: Flask) -> None:
    from webapp.services.integrations import StaleVersion

    def page(status: int, title: str, message: str):
        return render_template("error.html", title=title, message=message, status=status), status

    @app.errorhandler(404)
    def not_found(exc):
        return page(
            404, _("Page not found"), _("The page does not exist, or you do not have access to it.")
        )

    @app.errorhandler(403)
    def forbidden(exc):
        return page(
            403,
            _("Not allowed"),
            _(
                "Only a coordinator administrator can do this. Ask your organisation's administrator."
            ),
        )

    @app.errorhandler(405)
    def method_not_allowed(exc):
        return page(
            405, _("Not allowed"), _("This address cannot be used that way. Go back and try again.")
        )

    @app.errorhandler(400)
    def bad_request(exc):
        return page(
            400,
            _("Something was wrong with the request"),
            _("Go back, check what you entered and try again."),
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return page(
            400,
            _("The form expired"),
            _(
                "For your security the form must be sent from this site. Reload the page and try again."
            ),
        )

    @app.errorhandler(413)
    def too_large(exc):
        refresh()  # the body was refused before the request's locale was chosen
        limit = (app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
        message = _(
            "What you sent is larger than %(limit)d MB, more than any field here needs. Check "
            "for text pasted by mistake, shorten it and send the form again.",
            limit=limit,
        )
        if htmx.is_fragment_request():
            # Shown in the page's live region, next to the form that keeps what was typed.
            return htmx.to_region(render_template("_flash.html", message=message), "#flash")
        return page(413, _("Too much data"), message)

    @app.errorhandler(StaleVersion)
    def stale_version(exc):
        # A form's own view answers a conflict next to the form; this is for a save that met
        # a background change (a connection test or export bumped the version meanwhile).
        message = _("Someone else changed this integration just now. Look at it again and retry.")
        if htmx.is_fragment_request():
            return htmx.to_region(render_template("_flash.html", message=message), "#flash")
        return page(409, _("Changed meanwhile"), message)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(RedisError)
    def unavailable(exc):
        logging.getLogger("ledgerlink").error("service unavailable: %s", type(exc).__name__)
        return page(
            503,
            _("Temporarily unavailable"),
            _(
                "Ledgerlink cannot reach its database or job queue right now. Wait a minute and try again."
            ),
        )

    @app.errorhandler(500)
    def server_error(exc):
        return page(
            500,
            _("Something went wrong"),
            _(
                "An unexpected error stopped this page. Nothing you entered was lost. Try again, and tell your administrator if it keeps happening."
            ),
        )

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
            "object-src 'none'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if app.config.get("HSTS"):
            headers.setdefault("Strict-Transport-Security", app.config["HSTS"])
        if g.get("user") is not None and request.endpoint != "static":
            # Signed-in pages are never stored by browsers, proxies or the service worker.
            headers["Cache-Control"] = "no-store"
        return response


def _register_template_helpers(app: Flask) -> None:
    from babel.dates import format_date

    from webapp.db import utcnow
    from webapp.i18n import current_locale, text
    from webapp.services.health import words
    from webapp.urls import local_path

    def lang_url(lang: str) -> str:
        """The current page in another language (works on error pages too)."""
        args = request.args.to_dict()
        args["lang"] = lang
        return f"{local_path(request.path)}?{urlencode(args)}"

    def format_day(value) -> str:
        """A calendar date in the reader's language (4. mars 2027 / 4 March 2027)."""
        locale = current_locale()
        return format_date(value, "long", locale="en_GB" if locale == "en" else "nb_NO")

    app.jinja_env.globals.update(text=text, current_locale=current_locale, lang_url=lang_url)
    app.jinja_env.globals.update(
        issue_label=words.issue_label,
        issue_fix=words.issue_fix,
        duration=words.duration,
        words_days_left=words.days_left,
        now_utc=utcnow,
    )
    app.jinja_env.filters["format_day"] = format_day
