"""`flask api-key …`: create and revoke host-app API keys from the command line."""

from __future__ import annotations

import click

from webapp.services import api_keys


@click.group("api-key")
def api_key_cli() -> None:
    """Manage the host-app API keys of an organisation."""


@api_key_cli.command("create")
@click.argument("org_slug")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(api_keys.SCOPES),
    default=api_keys.SCOPES,
    show_default=True,
)
def create_command(org_slug: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create a key for ORG_SLUG and print it once."""
    from webapp.db import db
    from webapp.models import Organization

    with db.connection_context():
        org = Organization.get_or_none(Organization.slug == org_slug)
        if org is None:
            raise click.ClickException(f"no organisation with the slug {org_slug!r}")
        key, secret = api_keys.create(org, name, list(scopes))
    click.echo(f"API key {key.name!r} ({', '.join(key.scopes)}), shown only now:")
    click.echo(secret)


@api_key_cli.command("revoke")
@click.argument("org_slug")
@click.argument("prefix")
def revoke_command(org_slug: str, prefix: str) -> None:
    """Revoke ORG_SLUG's key that starts with PREFIX."""
    from webapp.db import db
    from webapp.models import ApiKey, Organization

    with db.connection_context():
        org = Organization.get_or_none(Organization.slug == org_slug)
        key = org and ApiKey.get_or_none(
            (ApiKey.organization == org.id) & (ApiKey.prefix == prefix[: api_keys.SHOWN])
        )
        if key is None:
            raise click.ClickException("no such key")
        api_keys.revoke(org, key.id)
    click.echo(f"revoked {key.prefix}…")
