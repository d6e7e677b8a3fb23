"""`flask vault …`: inspect and rotate the credential vault's keyring. Never prints a key."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from webapp.db import db
from webapp.vault import KeyringError, RewrapResult, get_vault

vault_cli = AppGroup("vault", help="The credential vault's keyring: status, rotation, retirement.")


def _counts(result: RewrapResult) -> str:
    return f"rewrapped {result.rewrapped}, skipped {result.skipped}, failed {result.failed}"


@vault_cli.command("status")
def status_command() -> None:
    """Show the key ids, the active key and how many tokens use each key."""
    vault = get_vault()
    with db.connection_context():
        info = vault.status()
    click.echo(f"keyring: {info['source']}")
    click.echo(f"active key: {info['active']}")
    width = max(len(kid) for kid in [*info["tokens"], *info["unknown"]])
    for kid, count in info["tokens"].items():
        marker = "  (active)" if kid == info["active"] else ""
        click.echo(f"  {kid:<{width}}  {count:>7} token(s){marker}")
    for kid, count in info["unknown"].items():
        click.echo(
            f"  {kid:<{width}}  {count:>7} token(s)  NOT IN THE KEYRING: these credentials "
            "cannot be read and must be entered again"
        )
    stale = sum(n for kid, n in info["tokens"].items() if kid != info["active"])
    if stale:
        click.echo(f"{stale} token(s) are not under the active key: run `flask vault rewrap`.")


@vault_cli.command("rotate")
def rotate_command() -> None:
    """Add a new key and make it active (existing tokens stay readable)."""
    vault = get_vault()
    try:
        kid = vault.rotate()
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new active key: {kid}")
    click.echo(
        "Running processes pick up the new keyring from the file by themselves. "
        "Next: `flask vault rewrap` to move existing tokens onto it."
    )


@vault_cli.command("rewrap")
@click.option(
    "--batch-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Tokens re-encrypted and committed per transaction.",
)
def rewrap_command(batch_size: int) -> None:
    """Re-encrypt every token under the active key (resumable, in committed batches)."""
    vault = get_vault()
    progress: list[RewrapResult] = []
    try:
        with db.connection_context():
            result = vault.rewrap(batch_size=batch_size, progress=progress.append)
    except KeyboardInterrupt:
        done = progress[-1] if progress else RewrapResult(0, 0, 0)
        click.echo(f"interrupted: {_counts(done)} so far (committed).", err=True)
        click.echo("Run `flask vault rewrap` again to continue.", err=True)
        sys.exit(130)
    click.echo(_counts(result))
    if result.failed:
        ids = ", ".join(str(i) for i in result.failed_ids)
        click.echo(
            f"{result.failed} token(s) do not decrypt and were left as they are "
            f"(integration_credential ids: {ids}); those credentials must be entered again.",
            err=True,
        )


@vault_cli.command("retire")
@click.argument("kid")
def retire_command(kid: str) -> None:
    """Remove key KID; refused while it is active or any token still uses it."""
    vault = get_vault()
    try:
        with db.connection_context():
            vault.retire(kid)
    except KeyringError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"retired key {kid}; active key: {vault.active_key_id}")
