"""Webhook endpoints: an organisation's HTTPS addresses, each with its signing secret."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit

from flask import current_app

from webapp.db import db
from webapp.models import Organization, User, WebhookEndpoint
from webapp.services import audit

EVENTS = ("claim.exported", "claim.failed", "integration.needs_attention", "integration.recovered")


class EndpointProblem(Exception):
    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


def check_url(url: str) -> str:
    """HTTPS with a host name; plain HTTP only to loopback in the testing configuration."""
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > 2000 or not parts.hostname or parts.username or parts.password:
        raise EndpointProblem("url", "invalid")
    testing = current_app.config.get("ENV_NAME") == "testing"
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and testing and loopback):
        raise EndpointProblem("url", "https")
    return url


def _aad(endpoint: WebhookEndpoint) -> tuple[int, int, int, str]:
    # Integration id 0: the token belongs to the endpoint, not to an integration. The vault
    # names the slot, so that `flask vault rewrap` and `retire` cover these secrets too.
    from webapp.vault.credentials import webhook_secret_slot

    return webhook_secret_slot(endpoint)


def secret_of(endpoint: WebhookEndpoint) -> str:
    from webapp.vault import get_vault

    return get_vault().decrypt_field(_aad(endpoint), endpoint.secret_token)


def create_endpoint(
    organization: Organization,
    url: str,
    events: list[str],
    description: str = "",
    actor: User | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (`whsec_…`), which the caller shows once."""
    from webapp.vault import get_vault

    url = check_url(url)
    events = [e for e in EVENTS if e in events]
    if not events:
        raise EndpointProblem("events", "empty")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with db.atomic():
        endpoint = WebhookEndpoint.create(
            organization=organization.id,
            url=url,
            description=description.strip()[:200],
            events=events,
            secret_token="",
            created_by=actor,
        )
        endpoint.secret_token = get_vault().encrypt_field(_aad(endpoint), secret)
        endpoint.save()
        audit.record(
            "webhook_endpoint.created",
            organization=organization.id,
            target_type="webhook_endpoint",
            target_id=endpoint.id,
            fields=["url", "events"],
            actor=actor,
        )
    return endpoint, secret


def endpoints_of(organization_id: int) -> list[WebhookEndpoint]:
    """The organisation's endpoints in the order they were added."""
    return list(
        WebhookEndpoint.select()
        .where(WebhookEndpoint.organization == organization_id)
        .order_by(WebhookEndpoint.id)
    )
