"""CLI commands grouped by noun: `flask db …`, `flask demo …`, `flask worker`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from webapp.db import db

db_cli = AppGroup("db", help="Database schema migrations.")
demo_cli = AppGroup("demo", help="Demo data for the embedded default.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from webapp.migrate import upgrade

    with db.connection_context():
        applied = upgrade(db.obj)
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@db_cli.command("status")
def db_status() -> None:
    """List migrations and whether each is applied."""
    from webapp.migrate import runner

    with db.connection_context():
        for migration in runner(db.obj).status():
            state = "applied" if migration.applied else "pending"
            click.echo(f"{migration.name}: {state}")


@demo_cli.command("seed")
@click.option("--email", default="koordinator@demo.ledgerlink.no", show_default=True)
def demo_seed(email: str) -> None:
    """Create the demo organisation, its coordinator-admin and demo expense claims."""
    from webapp.services.demo import seed

    with db.connection_context():
        summary = seed(email)
    click.echo(summary)


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker for the checks and exports queues with this app's configuration."""
    from rq import Worker

    # Load every job module (and through them every adapter) before RQ forks its work
    # horses, so each job starts with all of it imported.
    import webapp.jobs.checks
    import webapp.jobs.export
    import webapp.jobs.webhooks  # noqa: F401
    from webapp.queue import QUEUES, get_queue

    job_queue = get_queue()
    if job_queue.in_process:
        raise click.ClickException("REDIS_URL is not set: jobs already run inside the web app.")
    names = queues or QUEUES
    if not db.is_closed():
        db.close()  # each job opens its own connection
    Worker([job_queue.queue(n) for n in names], connection=job_queue.connection).work(burst=burst)


def register(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(worker)
    from webapp.cli.integrations import integrations_cli
    from webapp.cli.scheduler import scheduler_cli, sync_cli

    app.cli.add_command(integrations_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(sync_cli)


__all__ = ["register"]
