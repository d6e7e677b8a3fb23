"""`python -m sandbox --port 8765`: run the sandbox alone, in the foreground."""

from __future__ import annotations

import argparse
import threading

from sandbox import demo
from sandbox.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse options, start the sandbox and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Local fake Xledger and Dynamics 365 APIs."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--burst-limit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refuse more than 20 Xledger requests per token in 5 s (default: on)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no access log line per request (benchmarks)"
    )
    args = parser.parse_args(argv)
    server = serve(args.host, args.port, log_requests=not args.quiet, burst_limit=args.burst_limit)
    print(demo.credentials_summary(server.url), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
