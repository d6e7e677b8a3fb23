"""`make run` as a newcomer runs it: one process starts the app, the demo sign-in, the sandbox
and the catch-all mail server on the ports asked for, and prints where they are with the demo
credentials (the Xledger entity code included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _distinct_ports(count: int) -> list[int]:
    """Free ports, none next to another (the demo sign-in takes PORT + 1)."""
    held, ports = [], []
    while len(ports) < count:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        held.append(probe)
        port = probe.getsockname()[1]
        if all(abs(port - other) > 1 for other in ports):
            ports.append(port)
    for probe in held:
        probe.close()
    return ports


def _start(tmp_path: Path, ports: list[int]) -> tuple[subprocess.Popen, Path]:
    app_port, sandbox_port, smtp_port = ports
    env = {
        **os.environ,
        "PORT": str(app_port),
        "LEDGERLINK_SANDBOX_PORT": str(sandbox_port),
        "LEDGERLINK_SMTP_PORT": str(smtp_port),
        # Its own database and keys, never the developer's instance/.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ledgerlink.db'}",
        "SECRET_KEY": "make-run-test-secret-key-that-is-long-enough-0123",
        "LEDGERLINK_VAULT_KEYRING_FILE": str(tmp_path / "vault-keyring.json"),
    }
    for key in ("REDIS_URL", "SMTP_HOST", "OIDC_ISSUER", "LEDGERLINK_SANDBOX_URL", "PUBLIC_URL"):
        env.pop(key, None)
    log = tmp_path / f"run-{app_port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli.run_embedded"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def _banner(process: subprocess.Popen, log: Path) -> str | None:
    """The banner once printed; None if the process stopped first (a port taken meanwhile)."""
    deadline = time.monotonic() + 60
    while "Stop with Ctrl+C" not in log.read_text():
        if process.poll() is not None:
            assert "Address already in use" in log.read_text(), log.read_text()
            return None
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    return log.read_text()


def _answers(url: str, process: subprocess.Popen, log: Path) -> bool:
    deadline = time.monotonic() + 30
    while True:
        try:
            return urllib.request.urlopen(url, timeout=10).status == 200
        except OSError:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)


@pytest.mark.slow
def test_make_run_honours_the_ports_and_prints_the_banner(tmp_path):
    for _attempt in range(3):
        # Another process on this machine may take a port between choosing and binding it.
        ports = _distinct_ports(3)
        process, log = _start(tmp_path, ports)
        banner = _banner(process, log)
        if banner is not None:
            break
    else:
        pytest.fail(f"make run found its ports taken three times:\n{log.read_text()}")
    app_port, sandbox_port, _smtp_port = ports
    try:
        assert f"http://127.0.0.1:{app_port}" in banner
        assert f"http://127.0.0.1:{sandbox_port}/_sandbox/" in banner
        assert f"http://127.0.0.1:{app_port}/_dev/mail" in banner
        assert "entity code NBF" in banner and "demo-xledger-token-2026" in banner
        # The banner comes just before the web server binds its port: wait for it to answer.
        assert _answers(f"http://127.0.0.1:{app_port}/healthz", process, log)
        mail_page = urllib.request.urlopen(f"http://127.0.0.1:{app_port}/_dev/mail", timeout=10)
        assert "Ingen e-post ennå" in mail_page.read().decode()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
