"""`make run`'s catch-all SMTP server (aiosmtpd on loopback) and what it received.

Development only: the messages are kept in this process's memory (the newest 200) and shown
on `/_dev/mail`, so a newcomer sees notifications work without a real mail server.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from webapp.db import utcnow

_LOCK = threading.Lock()
_CAUGHT: deque[Caught] = deque(maxlen=200)


@dataclass
class Caught:
    message: EmailMessage
    recipients: list[str]
    at: object = field(default_factory=utcnow)

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class Handler:
    """aiosmtpd handler: keep every message, accept it."""

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        message = message_from_bytes(envelope.content, policy=policy.default)
        with _LOCK:
            _CAUGHT.appendleft(Caught(message, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def caught() -> list[Caught]:
    with _LOCK:
        return list(_CAUGHT)


def start(port: int = 0):
    """Start the catch-all server on loopback; returns the controller (`.port`, `.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    controller.port = controller.server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return controller
