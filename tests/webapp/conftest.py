"""Fixtures shared by the web app's tests beyond those of tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.webapp.health_helpers import Collect, Mailbox
from webapp import devmail


@pytest.fixture
def mailbox():
    """A real SMTP server on loopback (aiosmtpd) keeping what it receives."""
    box = Mailbox()
    controller = devmail.start(0, Collect(box))
    box.port = controller.port
    yield box
    controller.stop()
