"""`make run`'s sandbox port: LEDGERLINK_SANDBOX_PORT is honoured, a taken one is named."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest
import requests

from webapp.cli import run_embedded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_sandbox_starts_on_the_port_chosen(monkeypatch):
    port = free_port()
    monkeypatch.setenv("LEDGERLINK_SANDBOX_PORT", str(port))
    with ExitStack() as stack:
        url = run_embedded._sandbox(stack)
        assert url.endswith(f":{port}")
        assert requests.get(f"{url}/_sandbox/", timeout=5).status_code == 200


def test_a_chosen_port_that_is_taken_stops_with_its_name(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LEDGERLINK_SANDBOX_PORT", str(port))
        with ExitStack() as stack, pytest.raises(SystemExit) as stopped:
            run_embedded._sandbox(stack)
    assert f"port {port} (LEDGERLINK_SANDBOX_PORT)" in str(stopped.value)


def test_the_banner_shows_the_xledger_entity_code(app, capsys):
    run_embedded._banner(app, 5000, "demo", None)
    printed = capsys.readouterr().out
    assert "Xledger entity code:    NBF" in printed
    assert '"Logg inn" (English page: "Sign in")' in printed
