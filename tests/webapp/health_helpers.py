"""A real SMTP server on loopback (aiosmtpd) and the organisation the health tests use."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from tests import factories
from tests.webapp.exporting import connected_xledger
from webapp.models import Integration, Organization, User


@dataclass
class Mailbox:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def body(message: EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


class Collect:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


PUBLIC = "https://ledgerlink.example.org"


def smtp_settings(box: Mailbox) -> dict:
    """The app's e-mail settings pointing at `box` (plain SMTP on loopback)."""
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": box.port,
        "SMTP_SECURITY": "none",
        "PUBLIC_URL": PUBLIC,
        "MAIL_FROM": "Ledgerlink <varsel@ledgerlink.example.org>",
    }


ADMIN_NB = "kari@nbf.example"
ADMIN_EN = "olav@nbf.example"
READER = "lise@nbf.example"


@dataclass
class Org:
    org: Organization
    integration: Integration
    token: str
    kari: User
    olav: User
    lise: User


def organisation(sandbox, **integration_options) -> Org:
    """Two coordinator-admins (Kari reads Norwegian, Olav English) and a read-only coordinator,
    with an Xledger integration on a token of its own (so revoking it touches nothing else)."""
    org = factories.org("Norges Bueskytterforbund", slug="nbf")
    people = {}
    for email, role, name, locale in (
        (ADMIN_NB, "coordinator_admin", "Kari Nordmann", None),
        (ADMIN_EN, "coordinator_admin", "Olav Smith", "en"),
        (READER, "coordinator", "Lise Leser", None),
    ):
        person = factories.user(email, display_name=name, locale=locale)
        membership = factories.member(org, email, role)
        membership.user = person
        membership.save()
        people[email] = person
    token = sandbox.new_xledger_token()
    integration = connected_xledger(org, token, name="Xledger – NBF", **integration_options)
    return Org(org, integration, token, people[ADMIN_NB], people[ADMIN_EN], people[READER])
