"""`flask integrations …`: housekeeping of integrations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.db import db

integrations_cli = AppGroup("integrations", help="Integrations and their setup drafts.")


@integrations_cli.command("purge-drafts")
def purge_drafts() -> None:
    """Delete setup drafts untouched for 24 hours, with the credentials entered for them."""
    from webapp.services.integrations import purge_drafts as purge

    with db.connection_context():
        count = purge()
    click.echo(f"purged {count} draft integration(s)")
