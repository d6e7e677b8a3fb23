"""Helpers for the wizard, credential form and connection-test tests."""

from __future__ import annotations

import re
import time

from sandbox import demo
from webapp.models import ConnectionTest, Integration

XLEDGER = {"api_token": demo.XLEDGER_TOKEN, "environment": "production", "entity_code": ""}
DATAVERSE = {
    "tenant_id": demo.TENANT_ID,
    "client_id": demo.CLIENT_ID,
    "client_secret": demo.CLIENT_SECRET,
    "environment_url": demo.DATAVERSE_URL,
    "table": demo.DATAVERSE_TABLE,
}
HTMX = {"HX-Request": "true"}


def csrf(client, path: str) -> str:
    """The CSRF token from a page's <meta>."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def wait_for_test(test_id: int, timeout: float = 15.0) -> ConnectionTest:
    """Wait until the connection test is final (the job runs on another thread)."""
    deadline = time.monotonic() + timeout
    while True:
        test = ConnectionTest.get_by_id(test_id)
        if test.status in ("passed", "failed", "error"):
            return test
        if time.monotonic() > deadline:
            raise AssertionError(f"connection test {test_id} still {test.status}")
        time.sleep(0.02)


def latest_test(integration: Integration) -> ConnectionTest:
    return (
        ConnectionTest.select()
        .where(ConnectionTest.integration == integration.id)
        .order_by(ConnectionTest.id.desc())
        .get()
    )


def input_names(html: str) -> list[str]:
    """Names of the form controls a page offers (without the CSRF token and version)."""
    names = re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', html)
    return [n for n in names if n not in ("csrf_token", "version")]
