"""Connecting tries each checked address in turn, as a dual-stack host needs."""

from __future__ import annotations

import socket

import pytest

from adapters.http import connect_any


def test_the_next_address_is_tried_when_the_first_refuses():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        # Nothing listens on 127.0.0.2: refused at once, then 127.0.0.1 answers.
        with connect_any(["127.0.0.2", "127.0.0.1"], port, 2) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)


def test_the_last_error_is_raised_when_no_address_answers():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(OSError):
        connect_any(["127.0.0.2", "127.0.0.1"], port, 2)
