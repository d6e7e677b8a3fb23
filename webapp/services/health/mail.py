"""E-mail through SMTP: a notification written in its reader's language, with a way out.

Settings (`webapp.config`): SMTP_HOST (no host: no e-mail), SMTP_PORT, SMTP_SECURITY
(`starttls`, `tls` or `none`), SMTP_USER / SMTP_PASSWORD, MAIL_FROM, and PUBLIC_URL, the
address links in a message start with. Every message is plain text (read aloud well by a
screen reader, shown well on a phone) and carries a signed one-click unsubscribe
(`List-Unsubscribe` and `List-Unsubscribe-Post`, RFC 8058) that works without signing in.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.i18n import format_local
from webapp.models import Notification, User
from webapp.services.health import words

_SALT = "ledgerlink-unsubscribe"
TIMEOUT = 15


class SendFailed(Exception):
    """The SMTP server could not be reached or refused the message (no secret in the text)."""


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


def unsubscribe_token(user: User) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).dumps(
        {"u": user.id, "e": user.email}
    )


def user_of_token(token: str) -> User | None:
    """The person an unsubscribe link was made for, or None if it was not made by us."""
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    user = User.get_or_none(User.id == data.get("u"))
    if user is None or user.email != data.get("e"):
        return None  # the account changed hands: the old link does nothing
    return user


def language_of(user: User, notes: list[Notification]) -> str:
    return user.locale or (notes[0].payload.get("locale") if notes else None) or "nb"


def compose(user: User, notes: list[Notification]) -> EmailMessage:
    """The message for these notifications (one, or a digest), in the reader's language."""
    locale = language_of(user, notes)
    public = current_app.config["PUBLIC_URL"].rstrip("/")
    with current_app.test_request_context("/", base_url=public), force_locale(locale):
        token = unsubscribe_token(user)
        unsubscribe = public + url_for("account.unsubscribe", token=token, lang=locale)
        items = [_item(note, public, locale) for note in notes]
        context = dict(
            items=items,
            user=user,
            digest=len(notes) > 1 or (notes and notes[0].status == "digest"),
            preferences=public + url_for("account.notifications"),
            unsubscribe=unsubscribe,
        )
        subject = render_template("mail/subject.txt", **context).strip()
        body = render_template("mail/message.txt", **context)
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = user.email
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=urlsplit(public).hostname or "ledgerlink")
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    message["Content-Language"] = locale  # after set_content, which clears Content-* headers
    return message


def _item(note: Notification, public: str, locale: str) -> dict:
    """One notification's facts, in words, with its absolute link."""
    data = dict(note.payload or {})
    endpoint, args = data.get("link") or ["dashboard.home", {}]
    zone = data.get("time_zone") or "Europe/Oslo"
    # Links start with PUBLIC_URL: the address people open Ledgerlink at, whatever host
    # this worker runs on.
    link = public + url_for(
        endpoint, org_slug=data.get("org_slug"), integration_id=data.get("integration_id"), **args
    )
    item = {
        "kind": note.kind,
        "name": data.get("integration_name") or "",
        "system": (data.get("system") or {}).get(locale) or "",
        "link": link,
    }
    if note.kind == "issue_opened":
        item["label"] = words.issue_label(data.get("issue_kind", ""))
        item["fix"] = words.issue_fix(data.get("issue_kind", ""))
        item["message"] = (data.get("message") or {}).get(locale) or ""
        item["since"] = _when(data.get("since"), zone, locale)
    elif note.kind == "recovered":
        item["labels"] = [words.issue_label(kind) for kind in data.get("kinds") or []]
        item["since"] = _when(data.get("since"), zone, locale)
        item["fixed_at"] = _when(data.get("fixed_at"), zone, locale)
        item["fixed_by"] = data.get("fixed_by")
    elif note.kind == "expiry":
        item["days_left"] = int(data.get("days_left", 0))
        item["valid_until"] = dt.date.fromisoformat(data["valid_until"])
        item["when"] = words.days_left(item["days_left"])
    return item


def _when(value: str | None, zone: str, locale: str) -> str:
    if not value:
        return ""
    return format_local(dt.datetime.fromisoformat(value), zone, locale)


def send_notification(user: User, notes: list[Notification]) -> None:
    send(compose(user, notes))


def send(message: EmailMessage) -> None:
    """Hand one message to the configured SMTP server; SendFailed says why it did not go."""
    config = current_app.config
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    security = config["SMTP_SECURITY"]
    # The name we greet the server with: our public host (smtplib would otherwise look up
    # this machine's FQDN, which can hang for seconds where DNS does not answer).
    helo = urlsplit(config["PUBLIC_URL"]).hostname or "localhost"
    try:
        if security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host,
                port,
                local_hostname=helo,
                timeout=TIMEOUT,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(host, port, local_hostname=helo, timeout=TIMEOUT)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                client.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The class and the server's reply code only: never the message or the password.
        code = getattr(exc, "smtp_code", None)
        raise SendFailed(f"{type(exc).__name__}{f' {code}' if code else ''}") from None
