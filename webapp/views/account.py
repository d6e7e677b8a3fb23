"""A person's own settings: which e-mail they get, and the one-click way to stop it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.access import login_required
from webapp.i18n import LOCALES
from webapp.models import NOTIFY_CHOICES
from webapp.services import users
from webapp.services.health import mail

bp = Blueprint("account", __name__)


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def notifications():
    """Choose immediate e-mail, a daily digest or none, and the language it is written in."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        notify = request.form.get("notify", "")
        locale = request.form.get("locale", "")
        if notify not in NOTIFY_CHOICES:
            errors["notify"] = _("Choose how often you want e-mail: at once, daily, or never.")
        if locale and locale not in LOCALES:
            errors["locale"] = _("Choose Norwegian, English or the organisation's language.")
        if not errors:
            users.set_notifications(g.user, notify, locale or None)
            flash(_("Your e-mail settings are saved."), "success")
            return redirect(url_for("account.notifications"), code=303)
    return render_template(
        "account/notifications.html",
        errors=errors,
        notify=request.form.get("notify", g.user.notify),
        locale=request.form.get("locale", g.user.locale or ""),
        mail_configured=mail.configured(),
    ), (400 if errors else 200)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The link in every e-mail: GET asks, POST (a button, or a mail client's one click under
    RFC 8058) stops the e-mail. No sign-in: the signed link names the person."""
    user = mail.user_of_token(token)
    if user is None:
        abort(404)
    done = request.method == "POST"
    if done:
        users.unsubscribe(user)
    return render_template("account/unsubscribe.html", token=token, email=user.email, done=done)
