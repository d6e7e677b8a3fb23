"""Test helpers: a sandbox on a free loopback port for the length of a `with` block.

`running_sandbox()` serves it from a thread of the calling process (tests inspect and change
its `.state`); `sandbox_process()` runs `python -m sandbox` as a process of its own, the way a
real provider is another machine: its work then takes none of the caller's interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.server import SandboxServer, serve

# The first line `python -m sandbox` prints (sandbox.demo.credentials_summary).
_RUNNING_AT = "Ledgerlink sandbox running at "


@contextmanager
def running_sandbox(**options: Any) -> Iterator[SandboxServer]:
    """Yield a running sandbox (burst limit off unless asked for); shut it down after."""
    server = serve(**options)
    try:
        yield server
    finally:
        server.shutdown()


@contextmanager
def sandbox_process(*, burst_limit: bool = False) -> Iterator[str]:
    """Yield the URL of a quiet `python -m sandbox` on a free loopback port; stop it after.

    Reach it through `SandboxClient(url)` only: its state lives in the other process.
    """
    flag = "--burst-limit" if burst_limit else "--no-burst-limit"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--quiet", flag],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        # The server listens before it prints, so the address answers once it is read.
        first = process.stdout.readline()
        if not first.startswith(_RUNNING_AT):
            raise RuntimeError(f"python -m sandbox did not start: {first!r}")
        # The rest of the banner is a few lines; nothing more is printed when quiet.
        yield first[len(_RUNNING_AT) :].strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
