"""An integration's life after setup: its name, archiving, restoring and deleting.

- A name tells two integrations of one system apart ("Xledger – NBF", "Xledger – region
  Nord"); it is unique in the organisation.
- Archiving keeps everything an auditor may ask for (runs, exported claims and their voucher
  numbers; accounting records are kept five years) and stops every export and check.
- Deleting is only for what never booked anything: a draft, or an integration no claim was
  ever exported by. Anything else is archived instead.

Writes go through `integrations.change` / `integrations.delete_draft` and the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.types import Text
from webapp.models import ExportDuplicate, ExportItem, Integration, User
from webapp.schedule import Schedule
from webapp.services import integrations, scheduler
from webapp.services.claims import routing

MAX_NAME = 200
# What an integration can be archived from (a draft is deleted instead).
ARCHIVABLE = ("connected", "needs_reauth", "degraded", "paused")


def name_problem(organization_id: int, name: str, exclude: int | None = None) -> Text | None:
    """Why `name` cannot be an integration's name, or None."""
    name = (name or "").strip()
    if not name:
        return Text(
            "Skriv et navn, for eksempel «Xledger – NBF».",
            "Enter a name, for example “Xledger – NBF”.",
        )
    if len(name) > MAX_NAME:
        return Text(
            f"Navnet kan være høyst {MAX_NAME} tegn.",
            f"The name can be at most {MAX_NAME} characters.",
        )
    taken = {n.casefold() for n in integrations.names_in_use(organization_id, exclude)}
    if name.casefold() in taken:
        return Text(
            f"En annen integrasjon heter allerede «{name}». Velg et navn som skiller dem.",
            f"Another integration is already called “{name}”. Choose a name that tells them apart.",
        )
    return None


def rename(
    integration: Integration, name: str, actor: User | None, expected_version: int | None = None
) -> Integration:
    """Give the integration a new name (checked with `name_problem` first)."""
    name = name.strip()
    if name == integration.name:
        return integration
    return integrations.change(
        integration,
        {"name": name},
        actor=actor,
        action="integration.renamed",
        expected_version=expected_version,
    )


def finish_setup(
    integration: Integration, actor: User | None, *, expected_version: int | None = None
) -> Integration:
    """Save a tested draft (its credentials become the active set) and start the schedule
    chosen in the wizard from now: slots that passed while it was a draft are not made up."""
    from webapp.services import credentials

    integration = credentials.activate(integration, actor, expected_version=expected_version)
    row = scheduler.schedule_of(integration)
    if row is not None and row.kind != "manual":
        scheduler.save_schedule(integration, Schedule.from_model(row), actor)
    return integration


def exported_count(integration: Integration) -> int:
    """How many claims this integration has booked (and duplicates recorded against it)."""
    booked = (
        ExportItem.select()
        .where((ExportItem.integration == integration.id) & (ExportItem.status == "exported"))
        .count()
    )
    twice = ExportDuplicate.select().where(ExportDuplicate.integration == integration.id).count()
    return booked + twice


@dataclass
class Options:
    """What may be done with an integration now, and the numbers the page shows."""

    can_archive: bool
    can_restore: bool
    can_delete: bool
    exported: int
    waiting: int


def options(integration: Integration) -> Options:
    exported = exported_count(integration)
    return Options(
        can_archive=integration.status in ARCHIVABLE,
        can_restore=integration.status == "archived",
        can_delete=integration.status == "draft" or exported == 0,
        exported=exported,
        waiting=routing.routed_to(integration).count(),
    )


def archive(
    integration: Integration, actor: User | None, expected_version: int | None = None
) -> bool:
    """Stop every export and check and keep the history; False if it cannot be archived."""
    if integration.status not in ARCHIVABLE:
        return False
    integrations.change(
        integration,
        {"status": "archived"},
        actor=actor,
        action="integration.archived",
        expected_version=expected_version,
    )
    scheduler.disable_schedule(integration, actor)
    return True


def restore(
    integration: Integration, actor: User | None, expected_version: int | None = None
) -> bool:
    """Bring an archived integration back, paused: exports start when someone resumes them."""
    if integration.status != "archived":
        return False
    integrations.change(
        integration,
        {"status": "paused"},
        actor=actor,
        action="integration.restored",
        expected_version=expected_version,
    )
    row = scheduler.schedule_of(integration)
    if row is not None and row.kind != "manual":
        # Armed again; the scheduler passes its slots over until exports are resumed.
        scheduler.save_schedule(integration, Schedule.from_model(row), actor)
    return True


def delete(integration: Integration, actor: User | None) -> bool:
    """Delete a draft or an integration that never exported a claim; False otherwise."""
    if not options(integration).can_delete:
        return False
    action = "integration.draft_deleted" if integration.status == "draft" else "integration.deleted"
    integrations.delete_draft(integration, actor, action=action)
    return True
