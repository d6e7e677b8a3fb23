"""Run the sandbox in a background thread: `serve()` for tests and the embedded demo."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_sandbox_app
from sandbox.state import SandboxState


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (embedded use: tests and the product's demo)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class SandboxServer:
    """A running sandbox: `.url` (no trailing slash), `.state`, `.shutdown()`."""

    def __init__(self, server: BaseWSGIServer, state: SandboxState) -> None:
        self._server = server
        self.state = state
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        # A short poll interval keeps shutdown() fast; tests start one sandbox per test.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sandbox-{port}",
            daemon=True,
        )

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop accepting requests and close the socket (requests still sleeping are dropped)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"<SandboxServer {self.url}>"


def serve(
    host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = False, **options: Any
) -> SandboxServer:
    """Start a threaded sandbox on `host:port` (0 = any free port) and return at once.

    `options` are sandbox settings (see `sandbox.state.DEFAULT_SETTINGS`), e.g.
    `burst_limit=True` or `token_expires_in=5`; unknown names raise ValueError.
    `log_requests` prints werkzeug's access log line per request (the CLI turns it on).
    """
    state = SandboxState(settings=options)
    app = create_sandbox_app(state)
    handler = WSGIRequestHandler if log_requests else _QuietHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    return SandboxServer(server, state).start()
