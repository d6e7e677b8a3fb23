"""`make run`'s catch-all SMTP server (aiosmtpd on loopback) and what it received.

Development only: the messages are kept in this process's memory (the newest 200) and shown
on `/_dev/mail`, so a newcomer sees notifications work without a real mail server.
"""

from __future__ import annotations

import socket
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int = 0, handler: object | None = None):
    """Start a catch-all SMTP server on loopback (any free port with 0); returns the
    controller (`.hostname`, `.port`, `.stop()`)."""
    from aiosmtpd.controller import Controller

    controller = Controller(
        handler or Handler(),
        hostname="127.0.0.1",
        port=port or free_port(),
        # Its own name in the greeting; looking up the FQDN can hang where DNS does not answer.
        server_hostname="localhost",
    )
    controller.start()
    return controller
