"""`make run`: the whole product on the embedded default, in one process.

SQLite in `instance/`, the demo sign-in provider (oidc-provider-mock) and the accounting
sandbox on loopback, demo data, jobs through RQ in-process (or a worker process when
`REDIS_URL` is set), the scheduler on a background thread, then the web app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from contextlib import ExitStack

from werkzeug.serving import make_server

DEMO_EMAIL = "koordinator@demo.ledgerlink.no"
SANDBOX_PORT = int(os.environ.get("LEDGERLINK_SANDBOX_PORT", "8765"))


def _demo_identity_provider(stack: ExitStack, port: int) -> str:
    from oidc_provider_mock import User, run_server_in_thread

    users = [
        User(sub=DEMO_EMAIL, claims={"email": DEMO_EMAIL, "name": "Demo Koordinator"}),
        User(
            sub="frivillig@demo.ledgerlink.no",
            claims={"email": "frivillig@demo.ledgerlink.no", "name": "Demo Frivillig"},
        ),
    ]
    try:
        server = stack.enter_context(
            run_server_in_thread(port=port, require_nonce=True, user_claims=users)
        )
    except (OSError, SystemExit):  # the usual port is taken (werkzeug exits): any free one
        server = stack.enter_context(
            run_server_in_thread(port=0, require_nonce=True, user_claims=users)
        )
    return f"http://localhost:{server.server_port}"


def _sandbox(stack: ExitStack) -> str:
    from sandbox.server import serve

    try:
        server = serve(port=SANDBOX_PORT, burst_limit=True)
    except (OSError, SystemExit):  # the usual port is taken: any free one will do
        server = serve(port=0, burst_limit=True)
    stack.callback(server.shutdown)
    return server.url


def _mail(stack: ExitStack, port: int) -> str | None:
    """A local catch-all SMTP server for the e-mail Ledgerlink sends, unless SMTP_HOST is set;
    what it catches is shown on /_dev/mail. Returns that page's address."""
    if os.environ.get("SMTP_HOST"):
        return None
    from webapp import devmail

    wanted = int(os.environ.get("LEDGERLINK_SMTP_PORT", "8025"))
    try:
        controller = devmail.start(wanted)
    except OSError:  # the usual port is taken: any free one will do
        controller = devmail.start(0)
    stack.callback(controller.stop)
    os.environ.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(controller.port),
        SMTP_SECURITY="none",
        LEDGERLINK_DEV_MAIL="1",
    )
    os.environ.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}/_dev/mail"


def main() -> int:
    # The demo provider imports authlib modules that warn about their own future; not ours.
    warnings.filterwarnings("ignore", message=".*(authlib|httpx).*")
    os.environ.setdefault("LEDGERLINK_ENV", "development")
    port = int(os.environ.get("PORT", "5000"))
    with ExitStack() as stack:
        os.environ.setdefault("OIDC_ISSUER", _demo_identity_provider(stack, port + 1))
        os.environ.setdefault("LEDGERLINK_SANDBOX_URL", _sandbox(stack))
        mail_page = _mail(stack, port)

        from webapp import create_app_or_exit
        from webapp.db import db
        from webapp.services.demo import seed

        app = create_app_or_exit()
        with app.app_context(), db.connection_context():
            summary = seed(DEMO_EMAIL)
        if app.config["REDIS_URL"]:
            worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"])
            stack.callback(worker.terminate)
        _start_scheduler(app)
        # Listening before the banner says so: the address it prints answers at once.
        server = make_server("127.0.0.1", port, app, threaded=True)
        _banner(app, port, summary, mail_page)
        server.serve_forever()
    return 0


def _start_scheduler(app) -> None:
    from webapp.services.scheduler import run_forever

    threading.Thread(target=run_forever, args=(app,), daemon=True, name="scheduler").start()


def _banner(app, port: int, summary: str, mail_page: str | None) -> None:
    from sandbox import demo

    jobs = "Redis + worker process" if app.config["REDIS_URL"] else "in-process (no REDIS_URL)"
    mail = (
        f"caught by a local mail server, shown at {mail_page}"
        if mail_page
        else f"sent through {app.config['SMTP_HOST']}"
    )
    print(
        f"""
Ledgerlink is running: http://127.0.0.1:{port}

  Sign in: open the address, choose "Logg inn" (on the English page: "Sign in"), then pick
           {DEMO_EMAIL} on the demo sign-in page (no password).
  Demo data: {summary}
  Jobs: {jobs}
  E-mail: {mail}
  Accounting sandbox: {app.config["SANDBOX_URL"]}/_sandbox/  (control page)
    Xledger API token:      {demo.XLEDGER_TOKEN}  (environment production or demo, entity code {demo.XLEDGER_ENTITY_CODE})
    Dynamics tenant id:     {demo.TENANT_ID}
    Dynamics client id:     {demo.CLIENT_ID}
    Dynamics client secret: {demo.CLIENT_SECRET}
    Dataverse environment:  {demo.DATAVERSE_URL}  table {demo.DATAVERSE_TABLE}
    Business Central:       environment {demo.BC_ENVIRONMENT}, company "{demo.BC_COMPANY_NAME}", journal {demo.BC_JOURNAL}
    Tripletex:              consumer token {demo.TRIPLETEX_CONSUMER_TOKEN}, employee token {demo.TRIPLETEX_EMPLOYEE_TOKEN} (environment test)

Stop with Ctrl+C.
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
