"""Saving rows and lookup entries through `integrations.change` (optimistic lock, audit event
naming the target field), and the wizard's default mapping.
"""

from __future__ import annotations

import dataclasses
import logging

from flask_babel import gettext as _

from adapters import get_type
from adapters.types import IntegrationType
from webapp.db import db, utcnow
from webapp.mapping import MappingRow
from webapp.models import (
    FieldMapping,
    Integration,
    User,
)
from webapp.services import integrations
from webapp.services.integrations import StaleVersion
from webapp.services.mappings.form import Draft, check_draft
from webapp.services.mappings.rows import InvalidMapping, reference_kinds, stored_rows
from webapp.services.mappings.times import clock_time

log = logging.getLogger("ledgerlink.mappings")

# ---------------------------------------------------------------------------------------------
# Saving


def save_draft(
    integration: Integration, itype: IntegrationType, draft: Draft, actor: User | None
) -> Integration | None:
    """Check and save the edit form; the fresh integration, or None when the draft is invalid.

    A stale `draft.version` sets `draft.conflict` ("changed by NAME at TIME") and saves nothing.
    """
    row = check_draft(integration, itype, draft)
    if draft.invalid:
        return None
    try:
        return save_row(integration, draft.target, row, actor=actor, expected_version=draft.version)
    except StaleVersion as stale:
        draft.conflict = conflict_message(stale, actor, integration.organization.time_zone)
        return None


def save_row(
    integration: Integration,
    target: str,
    row: MappingRow | None,
    *,
    actor: User | None,
    expected_version: int,
    action: str | None = None,
) -> Integration:
    """Store one row (None removes it) and bump the version; StaleVersion if it moved on.

    The caller has validated the row. One audit event names the target field.
    """
    itype = get_type(integration.type_key)
    old = stored_rows(integration).get(target)
    action = action or _action(old, row)
    with db.atomic():
        fresh = integrations.change(
            integration,
            {},
            actor=actor,
            action=action,
            expected_version=expected_version,
            audit_fields=[target],
        )
        if row is None:
            FieldMapping.delete().where(
                (FieldMapping.integration == integration) & (FieldMapping.target == target)
            ).execute()
        else:
            values = {
                **row.model_values(),
                "position": _position(itype, target),
                "updated_at": utcnow(),
                "updated_by": actor,
            }
            updated = (
                FieldMapping.update(**values)
                .where((FieldMapping.integration == integration) & (FieldMapping.target == target))
                .execute()
            )
            if not updated:
                FieldMapping.create(integration=integration, **values)
    return fresh


def _position(itype: IntegrationType, target: str) -> int:
    names = [f.name for f in itype.target_fields]
    return names.index(target) if target in names else len(names)


def _action(old: MappingRow | None, new: MappingRow | None) -> str:
    """The audit action: what kind of change this is."""
    if new is None:
        return "mapping.cleared"
    if old is None or old.kind != "lookup" or new.kind != "lookup":
        return "mapping.saved"
    if dataclasses.replace(old, lookup=()) != dataclasses.replace(new, lookup=()):
        return "mapping.saved"
    before, after = dict(old.lookup), dict(new.lookup)
    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    changed = {k for k in before.keys() & after.keys() if before[k] != after[k]}
    if added and not removed and not changed:
        return "mapping.lookup_entry_added"
    if removed and not added and not changed:
        return "mapping.lookup_entry_removed"
    if changed and not added and not removed:
        return "mapping.lookup_entry_changed"
    return "mapping.lookup_changed"


def conflict_message(stale: StaleVersion, actor: User | None, time_zone: str) -> str:
    """ "Changed by NAME at TIME – reload": what a second coordinator sees on save."""
    when = clock_time(stale.changed_at, time_zone) if stale.changed_at else "?"
    by_id = stale.integration.updated_by_id
    if actor is not None and by_id == actor.id:
        return _(
            "You changed this integration elsewhere (another row or tab) at %(time)s. Reload "
            "the page, then make this change again. Nothing was saved.",
            time=when,
        )
    return _(
        "Changed by %(name)s at %(time)s – reload the page to see their change, then make yours "
        "again. Nothing was saved.",
        name=stale.changed_by or _("Ledgerlink (automatic)"),
        time=when,
    )


def _edit_lookup(
    integration: Integration,
    target: str,
    change: str,
    key: str,
    value: str,
    *,
    actor: User | None,
    expected_version: int,
) -> Integration:
    itype = get_type(integration.type_key)
    row = stored_rows(integration).get(target)
    if row is None or row.kind != "lookup":
        raise InvalidMapping(_("This field does not use a lookup table."))
    entries = [(str(k), str(v)) for k, v in row.lookup]
    index = next((i for i, (k, _v) in enumerate(entries) if k.casefold() == key.casefold()), None)
    if change == "add":
        if index is not None:
            raise InvalidMapping(_("“%(key)s” is already in the table.", key=key))
        entries.append((key.strip(), value.strip()))
    elif index is None:
        raise InvalidMapping(_("“%(key)s” is not in the table.", key=key))
    elif change == "change":
        entries[index] = (entries[index][0], value.strip())
    else:
        del entries[index]
    new = dataclasses.replace(row, lookup=tuple(entries))
    draft = Draft(target, "lookup", expected_version, lookup_field=row.value, entries=entries)
    draft.lookup_default = row.lookup_default or ""
    draft.transforms = dict(row.transforms)
    check_draft(integration, itype, draft)
    if draft.invalid:
        raise InvalidMapping(next(iter(draft.errors.values()), draft.row_error or ""))
    return save_row(
        integration,
        target,
        new,
        actor=actor,
        expected_version=expected_version,
        action=f"mapping.lookup_entry_{_PAST[change]}",
    )


_PAST = {"add": "added", "change": "changed", "remove": "removed"}


def add_lookup_entry(integration, target, key, value, *, actor, expected_version) -> Integration:
    """Add `key → value` to the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "add", key, value, actor=actor, expected_version=expected_version
    )


def change_lookup_entry(integration, target, key, value, *, actor, expected_version):
    """Give `key` a new value in the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "change", key, value, actor=actor, expected_version=expected_version
    )


def remove_lookup_entry(integration, target, key, *, actor, expected_version) -> Integration:
    """Take `key` out of the row's lookup table; InvalidMapping or StaleVersion."""
    return _edit_lookup(
        integration, target, "remove", key, "", actor=actor, expected_version=expected_version
    )


def install_defaults(integration: Integration, actor: User | None) -> int:
    """Pre-fill a new integration with its type's default mapping; how many rows were added.

    Idempotent: an integration that has any mapping row already is left alone, so a
    coordinator's own choices are never overwritten. Does not change `integration.version`.
    The rows are written by `integrations.apply_default_mapping` (one audit event), so the
    wizard and the editor fill in exactly the same thing.
    """
    return integrations.apply_default_mapping(integration, actor, live_accounts(integration))


def live_accounts(integration: Integration) -> set[str] | None:
    """The system's chart of accounts, fetched now (and cached for the editor's check), or
    None when it cannot be read: the standard accounts are then used as they are."""
    from webapp.services.mappings.rows import cached_references, refresh_references

    if "account" not in reference_kinds(get_type(integration.type_key)):
        return None
    try:
        refresh_references(integration)
    except Exception as error:  # not connected, unreadable vault, provider refusal …
        log.info("defaults without the live chart: %s", type(error).__name__)
        return None
    cache = cached_references(integration).get("account")
    if cache is None or not cache.items:
        return None
    return {str(item[0]) for item in cache.items if item}
