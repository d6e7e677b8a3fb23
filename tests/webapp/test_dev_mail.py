"""`make run`'s catch-all mail server: what Ledgerlink sends shows on /_dev/mail (development
only; the page does not exist otherwise)."""

from __future__ import annotations

import pytest

from tests.webapp.exporting import wait_for
from tests.webapp.health_helpers import ADMIN_EN, organisation
from webapp import create_app, devmail
from webapp.services.health import probe


@pytest.fixture
def catch_all():
    controller = devmail.start(0)
    yield controller
    controller.stop()


@pytest.fixture
def app_config(app_config, catch_all):
    return {
        **app_config,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": catch_all.port,
        "SMTP_SECURITY": "none",
        "DEV_MAIL": True,
    }


def test_the_development_page_shows_what_was_sent(app, client, sandbox):
    nbf = organisation(sandbox)
    before = len(devmail.caught())
    sandbox.revoke_xledger_token(nbf.token)
    assert probe.run_check(nbf.integration.id) == "failed"
    wait_for(lambda: len(devmail.caught()) >= before + 2)
    page = client.get("/_dev/mail?lang=en").get_data(as_text=True)
    assert "Action needed: Xledger – NBF – The accounting system rejected the sign-in" in page
    assert ADMIN_EN in page and "/unsubscribe/" in page


def test_without_the_setting_there_is_no_page(app_config):
    quiet = create_app({**app_config, "DEV_MAIL": False})
    assert quiet.test_client().get("/_dev/mail").status_code == 404
