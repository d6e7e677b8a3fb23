"""Test helpers: a sandbox on a free loopback port for the length of a `with` block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.server import SandboxServer, serve


@contextmanager
def running_sandbox(**options: Any) -> Iterator[SandboxServer]:
    """Yield a running sandbox (burst limit off unless asked for); shut it down after."""
    server = serve(**options)
    try:
        yield server
    finally:
        server.shutdown()
