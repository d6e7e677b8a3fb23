"""Development only (`make run`): the e-mail the local catch-all SMTP server received."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp import devmail

bp = Blueprint("dev_mail", __name__)


@bp.get("/_dev/mail")
def index():
    return render_template("dev_mail/index.html", messages=devmail.caught())
