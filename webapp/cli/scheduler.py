"""`flask scheduler` (the loop, or one `tick`) and `flask sync …` (runs by hand)."""

from __future__ import annotations

import datetime as dt
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webapp.db import db

sync_cli = AppGroup("sync", help="Export runs: start, retry and inspect them.")


@click.group("scheduler", cls=AppGroup, invoke_without_command=True)
@click.pass_context
@with_appcontext
def scheduler_cli(ctx: click.Context) -> None:
    """Queue scheduled exports every minute until stopped; `tick` runs one tick."""
    if ctx.invoked_subcommand is not None:
        return
    from webapp.services.scheduler import run_forever

    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        click.echo(f"scheduler: {signal.Signals(signum).name} received, stopping")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not db.is_closed():
        db.close()  # the loop opens a connection per tick
    run_forever(current_app._get_current_object(), stop)  # type: ignore[attr-defined]


@scheduler_cli.command("tick")
@click.option(
    "--at",
    "at",
    default=None,
    help="Pretend it is this UTC time (ISO 8601), for trying schedules out.",
)
def scheduler_tick(at: str | None) -> None:
    """Run one tick now: queue the exports that are due and print what happened."""
    from webapp.services.scheduler import tick

    now = None
    if at:
        now = dt.datetime.fromisoformat(at)
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
    with db.connection_context():
        result = tick(now)
    click.echo(result.summary())


@sync_cli.command("run")
@click.argument("integration_id", type=int)
def sync_run(integration_id: int) -> None:
    """Queue an export of one integration now (like Export now)."""
    from webapp.models import Integration
    from webapp.services.exports import start_manual

    with db.connection_context():
        integration = Integration.get_or_none(Integration.id == integration_id)
        if integration is None:
            raise click.ClickException(f"no integration {integration_id}")
        started = start_manual(integration)
    if started.run is None:
        raise click.ClickException(
            f"integration {integration_id} cannot export now: it is {started.refused}"
        )
    state = "already under way" if started.already_running else "queued"
    click.echo(f"run {started.run.id} {state} (job {started.run.job_id})")


@sync_cli.command("retry")
@click.argument("run_id", type=int)
def sync_retry(run_id: int) -> None:
    """Continue an interrupted or failed run in a new retry run, queued now."""
    from webapp.models import SyncRun
    from webapp.services.exports import retry_run

    with db.connection_context():
        run = SyncRun.get_or_none(SyncRun.id == run_id)
        if run is None:
            raise click.ClickException(f"no run {run_id}")
        try:
            retry = retry_run(run)
        except ValueError:
            raise click.ClickException(
                f"run {run_id} is still being exported by a worker; not retried"
            ) from None
    if retry.id == run_id:
        click.echo(f"run {run_id} queued (job {retry.job_id})")
    else:
        click.echo(f"run {run_id} continues in retry run {retry.id} (job {retry.job_id})")


@sync_cli.command("show")
@click.argument("run_id", type=int)
def sync_show(run_id: int) -> None:
    """Print a run's status, counts and message."""
    from webapp.models import SyncRun

    with db.connection_context():
        run = SyncRun.get_or_none(SyncRun.id == run_id)
        if run is None:
            raise click.ClickException(f"no run {run_id}")
    message = (run.message or {}).get("en", "")
    click.echo(
        f"run {run.id} of integration {run.integration_id} ({run.trigger}): {run.status}"
        f"{f' [{run.error_kind}]' if run.error_kind else ''}; {run.exported_count} exported, "
        f"{run.failed_count} failed of {run.total_count}. {message}".rstrip()
    )


__all__ = ["scheduler_cli", "sync_cli"]
