"""Credential sets: check what a coordinator entered, seal it into the vault, switch sets.

An integration has at most two credential sets in the vault: the *active* one, which exports
use, and a *pending* one, which the setup wizard or the credential form fills. Values are
sealed into the vault the moment their form is submitted, never kept in the session, a hidden
field or a URL. Secrets are write-only: an empty submission keeps the stored value, and a
value that looks like a mask (dots, stars) is refused rather than saved. A pending set becomes
the active one only after a connection test passed for exactly those values (the vault's set
fingerprint), and the previous set's tokens are deleted after the switch.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from peewee import JOIN

from adapters import get_type, paste
from adapters.types import CredentialField, IntegrationType
from webapp.db import db
from webapp.i18n import text
from webapp.models import ConnectionTest, Integration, IntegrationCredential, User
from webapp.services import integrations
from webapp.services.claims import routing
from webapp.services.health import expiry
from webapp.vault import VaultError, get_vault

# What a password manager or a copy of a masked value looks like: only dots, stars, bullets.
_MASK = re.compile(r"^[\s*.•●·∙◦⁕＊]+$")
FINAL_TEST_STATUSES = ("passed", "failed", "error")


class NotTested(Exception):
    """Save refused: no passed test for exactly the credentials being saved."""


@dataclass(frozen=True)
class Saved:
    """When and by whom a field of a set was entered."""

    at: dt.datetime
    by: str | None


@dataclass(frozen=True)
class FieldView:
    """What a credential form shows for one field. Never a secret's value."""

    field: CredentialField
    # The stored value of a non-secret field; always "" for a secret.
    value: str
    saved: Saved | None
    # Entered after the last finished test of this set; None when the set was never tested.
    changed: bool | None


@dataclass
class StageResult:
    integration: Integration
    errors: dict[str, str]
    # Non-secret values as typed, to show again next to their errors.
    entered: dict[str, str]
    # False when the submission equals the active set: nothing new to test or save.
    changed: bool

    @property
    def ok(self) -> bool:
        return not self.errors


# --- validation (no I/O) -----------------------------------------------------------------------


def validate(
    itype: IntegrationType, form: Mapping[str, str], kept: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Values to seal and error messages by field name.

    `kept` names the secrets already stored: left empty, they keep their value.
    """
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in itype.credential_fields:
        raw = (form.get(f.name) or "").strip()
        if f.kind == "select" and not raw and f.default:
            raw = f.default
        if not raw:
            if f.secret and f.name in kept:
                continue
            if f.required:
                errors[f.name] = (
                    _("Choose one of the options.")
                    if f.kind == "select"
                    else _("Fill in this field.")
                )
            else:
                values[f.name] = ""
            continue
        # A known paste mistake says more than "not the right form".
        pasted = paste.mistake(f.name, raw, form)
        error = text(pasted) if pasted is not None else _field_error(f, raw)
        if error:
            errors[f.name] = error
        else:
            values[f.name] = raw
    return values, errors


def _describe(ch: str) -> str:
    """A character as a person can recognise it, also when it is invisible."""
    name = unicodedata.name(ch, "")
    shown = f"“{ch}” " if ch.isprintable() and not ch.isspace() else ""
    return f"{shown}U+{ord(ch):04X}{' ' + name if name else ''}"


def _field_error(f: CredentialField, raw: str) -> str | None:
    if f.secret and _MASK.match(raw):
        return _(
            "Paste the value itself. Ledgerlink never shows a saved secret, so dots or stars "
            "cannot be saved."
        )
    if len(raw) > f.max_length:
        return _("This is too long: at most %(max)s characters.", max=f.max_length)
    if f.secret:
        odd = next((ch for ch in raw if not " " < ch < "\x7f"), None)
        if odd is not None:
            # Keys and secrets are plain ASCII; anything else cannot even be sent in a request
            # header, and is nearly always pasted by mistake.
            return _(
                "This has a character that keys and secrets never contain (%(char)s), often an "
                "emoji, a typographic quote or a space pasted with the value. Copy the value "
                "again from where it was created and paste only the value.",
                char=_describe(odd),
            )
    if f.kind == "select":
        if raw not in {c.value for c in f.choices}:
            return text(f.pattern_message) or _("Choose one of the options.")
        return None
    if not f.matches(raw):
        return text(f.pattern_message) or _("Check the value: it does not have the right form.")
    return None


# --- entering credentials ------------------------------------------------------------------------


def shown_version(integration: Integration) -> int | None:
    """The set a form shows: the pending one while it exists, else the active one."""
    if integration.pending_credential_version is not None:
        return integration.pending_credential_version
    return integration.active_credential_version


def stage(
    integration: Integration,
    form: Mapping[str, str],
    actor: User | None,
    *,
    advance_to: str | None = None,
    expected_version: int | None = None,
) -> StageResult:
    """Seal what was entered into the pending set (started from the active one if needed).

    Valid fields are sealed even when others have errors, so a pasted secret is never lost
    to a typo elsewhere. Raises `StaleVersion` if someone else changed the integration.
    """
    if expected_version is not None and expected_version != integration.version:
        # Checked before sealing, so a stale form never writes into someone else's set.
        raise integrations.StaleVersion(integration)
    itype = get_type(integration.type_key)
    vault = get_vault()
    active = integration.active_credential_version
    pending = integration.pending_credential_version
    base = pending if pending is not None else active
    stored = vault.field_fingerprints(integration, base) if base is not None else {}
    kept = {name for name in itype.secret_fields if name in stored}
    values, errors = validate(itype, form, kept)
    entered = {
        f.name: (form.get(f.name) or "").strip() for f in itype.credential_fields if not f.secret
    }
    valid_until, given = _valid_until(integration, form, errors)
    if given:
        entered[expiry.FIELD] = (form.get(expiry.FIELD) or "").strip()
    version = pending if pending is not None else integrations.next_set_version(integration)
    if pending is None and active is not None:
        # A rotation starts: secrets left empty keep the active set's values.
        _carry_secrets(integration, active, version, kept - values.keys(), actor, errors)
    if values:
        vault.seal_set(integration, version, values, actor)
    new_secret = bool(values.keys() & set(itype.secret_fields))
    if (
        given
        and new_secret
        and base is not None
        and valid_until == expiry.of_set(integration, base)
    ):
        # The form still showed the old secret's end date: a new secret has its own.
        valid_until = None
    if given and expiry.FIELD not in errors:
        expiry.store(integration, version, valid_until, actor)
    elif pending is None and active is not None and not new_secret:
        # No new secret: the end date entered with the secret in use still holds.
        expiry.store(integration, version, expiry.of_set(integration, active), actor)
    update: dict[str, object] = {"pending_credential_version": version}
    if advance_to and not errors:
        update["wizard_step"] = integrations.furthest_step(integration.wizard_step, advance_to)
    integration = integrations.change(
        integration,
        update,
        actor=actor,
        action="integration.credentials_entered",
        audit_fields=sorted(values),
        expected_version=expected_version,
    )
    changed = True
    if not errors and active is not None:
        same = vault.set_fingerprint(integration, version) == vault.set_fingerprint(
            integration, active
        )
        if same:
            # Nothing differs from the credentials in use: keep using those (with the end
            # date entered now, if one was).
            if given and expiry.FIELD not in errors:
                expiry.store(integration, active, valid_until, actor)
            integration = discard_pending(integration, actor)
            changed = False
    return StageResult(integration, errors, entered, changed)


def _valid_until(
    integration: Integration, form: Mapping[str, str], errors: dict[str, str]
) -> tuple[dt.date | None, bool]:
    """(the secret's end date, whether the form had the field) with its error, if any."""
    if expiry.FIELD not in form:
        return None, False
    today = expiry.local_today(integration.organization.time_zone)
    try:
        return expiry.parse(form.get(expiry.FIELD) or "", today), True
    except expiry.InvalidDate as invalid:
        errors[expiry.FIELD] = str(invalid)
        return None, True


def _carry_secrets(
    integration: Integration,
    source: int,
    target: int,
    names: set[str],
    actor: User | None,
    errors: dict[str, str],
) -> None:
    vault = get_vault()
    for name in sorted(names):
        try:
            vault.carry_over(integration, source, target, [name], actor)
        except VaultError:
            errors[name] = _("The saved value cannot be read any more. Paste it again.")


def discard_pending(integration: Integration, actor: User | None) -> Integration:
    """Forget the pending set; the active one (if any) stays in use."""
    version = integration.pending_credential_version
    if version is None:
        return integration
    with db.atomic():
        get_vault().delete_set(integration, version)
        expiry.store(integration, version, None, actor)
        return integrations.change(
            integration,
            {"pending_credential_version": None},
            actor=actor,
            action="integration.credentials_discarded",
            audit_fields=[],
        )


# --- what a form shows ---------------------------------------------------------------------------


def field_views(integration: Integration, version: int | None) -> tuple[list[FieldView], bool]:
    """Each declared field as the form shows it, and whether any stored value is unreadable.

    Only non-secret values are decrypted here; a secret is described by date and author.
    """
    itype = get_type(integration.type_key)
    rows = _field_rows(integration, version) if version is not None else {}
    tested_at = _last_test_time(integration, version) if version is not None else None
    vault = get_vault()
    views, unreadable = [], False
    for f in itype.credential_fields:
        row = rows.get(f.name)
        value = ""
        if row is not None and version is not None and not f.secret:
            try:
                value = vault.open_field(integration, version, f.name)
            except VaultError:
                unreadable = True
                row = None
        saved = (
            Saved(row.created_at, row.created_by.label if row.created_by else None) if row else None
        )
        changed = None if (row is None or tested_at is None) else row.created_at > tested_at
        views.append(FieldView(f, value, saved, changed))
    return views, unreadable


def _field_rows(integration: Integration, version: int) -> dict[str, IntegrationCredential]:
    # Only the metadata columns: the token column is the vault's alone.
    query = (
        IntegrationCredential.select(
            IntegrationCredential.field_name,
            IntegrationCredential.created_at,
            IntegrationCredential.created_by,
            User,
        )
        .join(User, on=(IntegrationCredential.created_by == User.id), join_type=JOIN.LEFT_OUTER)
        .where(
            (IntegrationCredential.integration == integration.id)
            & (IntegrationCredential.set_version == version)
        )
    )
    return {row.field_name: row for row in query}


def latest_test(integration: Integration, version: int | None) -> ConnectionTest | None:
    """The newest connection test of a credential set (any state)."""
    if version is None:
        return None
    return (
        ConnectionTest.select()
        .where(
            (ConnectionTest.integration == integration.id)
            & (ConnectionTest.credential_version == version)
        )
        .order_by(ConnectionTest.created_at.desc(), ConnectionTest.id.desc())
        .first()
    )


def _last_test_time(integration: Integration, version: int) -> dt.datetime | None:
    test = (
        ConnectionTest.select(ConnectionTest.created_at)
        .where(
            (ConnectionTest.integration == integration.id)
            & (ConnectionTest.credential_version == version)
            & (ConnectionTest.status.in_(FINAL_TEST_STATUSES))
        )
        .order_by(ConnectionTest.created_at.desc())
        .first()
    )
    return test.created_at if test else None


def failed_check(test: ConnectionTest | None, field_name: str) -> dict | None:
    """The failed check of a finished test that names this field, if there is one."""
    if test is None or test.status != "failed":
        return None
    for check in test.checks or []:
        if check.get("status") == "failed" and check.get("field") == field_name:
            return check
    return None


# --- saving --------------------------------------------------------------------------------------


def passed_test(integration: Integration, version: int | None) -> ConnectionTest | None:
    """The newest finished test of the set if it passed for exactly the stored values."""
    if version is None:
        return None
    test = (
        ConnectionTest.select()
        .where(
            (ConnectionTest.integration == integration.id)
            & (ConnectionTest.credential_version == version)
            & (ConnectionTest.status.in_(FINAL_TEST_STATUSES))
        )
        .order_by(ConnectionTest.finished_at.desc(), ConnectionTest.id.desc())
        .first()
    )
    if test is None or test.status != "passed":
        return None
    if test.fingerprint != get_vault().set_fingerprint(integration, version):
        return None  # the credentials changed after the test
    return test


def activate(
    integration: Integration, actor: User | None, *, expected_version: int | None = None
) -> Integration:
    """Make the tested pending set the active one, atomically; then delete the old set.

    Raises `NotTested` unless a test passed for exactly the pending values, and
    `StaleVersion` if someone else changed the integration meanwhile.
    """
    version = integration.pending_credential_version
    if passed_test(integration, version) is None:
        raise NotTested(integration.id)
    old = integration.active_credential_version
    first_save = integration.status == "draft"
    status = "connected" if integration.status in ("draft", "needs_reauth") else integration.status
    with db.atomic():
        if first_save:
            # The organisation's first integration becomes where claims go by default.
            routing.default_if_none(integration, actor)
        integration = integrations.change(
            integration,
            {
                "active_credential_version": version,
                "pending_credential_version": None,
                "status": status,
                "reauth_reason": None,
                "wizard_step": "save",
            },
            actor=actor,
            action="integration.saved" if first_save else "integration.credentials_rotated",
            audit_fields=["active_credential_version", "status"],
            expected_version=expected_version,
        )
    if old is not None and old != version:
        # Only after the switch is committed: exports never see a missing set.
        get_vault().delete_set(integration, old)
    return integration
