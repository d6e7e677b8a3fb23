"""A loopback HTTP server with canned answers, for the few edge cases the sandbox cannot
produce (an empty chart of accounts, a next page on another host). Real HTTP, no mocks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# (method, path, parsed JSON body or None) → (status, headers, JSON body)
Answer = Callable[[str, str, Any], tuple[int, dict[str, str], Any]]


@contextmanager
def stub_server(answer: Answer) -> Iterator[str]:
    """Serve `answer` on a free loopback port; yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, headers, payload = answer(self.command, self.path, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def connection(*nodes: dict[str, Any], has_next: bool = False) -> dict[str, Any]:
    return {
        "edges": [{"cursor": n.get("dbId", "1"), "node": n} for n in nodes],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": False},
    }
