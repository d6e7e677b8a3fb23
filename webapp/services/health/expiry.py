"""Secrets that expire: the "valid until" entered with a credential set, and its warnings.

An Entra ID client secret has an end date (the Azure portal shows it as "Expires" next to the
secret); an Xledger token may have one. Ledgerlink warns 30 and 7 days ahead and on the day,
and shows an expired secret as expired before any call fails. The date belongs to the
credential set it was entered with, so a rotation (a new set) clears the warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from webapp.db import utcnow
from webapp.models import Integration, SecretExpiry, User

FIELD = "valid_until"
# Days before the end date when a warning is due, latest last.
THRESHOLDS = (30, 7, 0)
_NORWEGIAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class InvalidDate(ValueError):
    """The entered date cannot be used; the message says what to enter instead."""


@dataclass(frozen=True)
class Expiry:
    valid_until: dt.date
    today: dt.date

    @property
    def days_left(self) -> int:
        return (self.valid_until - self.today).days

    @property
    def expired(self) -> bool:
        return self.days_left < 0

    @property
    def threshold(self) -> int | None:
        """The warning due now (30, 7 or 0 days ahead), or None while more than 30 remain."""
        if self.expired:
            return 0
        due = [t for t in THRESHOLDS if self.days_left <= t]
        return min(due) if due else None

    @property
    def level(self) -> str | None:
        """How the page shows it: expired, urgent (a week or less), soon (30 days), or None."""
        if self.expired:
            return "expired"
        if self.days_left <= 7:
            return "urgent"
        return "soon" if self.days_left <= 30 else None


def local_today(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    return (now or utcnow()).astimezone(ZoneInfo(time_zone)).date()


def parse(raw: str, today: dt.date) -> dt.date | None:
    """A date from the form (2027-12-31, or 31.12.2027 where no date picker is shown)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        match = _NORWEGIAN.match(raw)
        if match:
            day, month, year = (int(part) for part in match.groups())
            value = dt.date(year, month, day)
        else:
            value = dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidDate(
            _("Enter the date as 31.12.2027 (day, month, year), or leave the field empty.")
        ) from None
    if value < today:
        raise InvalidDate(
            _(
                "This date has passed, so the secret no longer works. Create a new secret, "
                "paste its value and enter its end date."
            )
        )
    if value > today + dt.timedelta(days=366 * 10):
        raise InvalidDate(_("Check the year: the date is more than ten years ahead."))
    return value


def of_set(integration: Integration, version: int | None) -> dt.date | None:
    if version is None:
        return None
    row = SecretExpiry.get_or_none(
        (SecretExpiry.integration == integration.id) & (SecretExpiry.set_version == version)
    )
    return row.valid_until if row is not None else None


def store(
    integration: Integration, version: int, valid_until: dt.date | None, actor: User | None
) -> None:
    """Set (or with None, clear) the end date of credential set `version`."""
    SecretExpiry.delete().where(
        (SecretExpiry.integration == integration.id) & (SecretExpiry.set_version == version)
    ).execute()
    if valid_until is not None:
        SecretExpiry.create(
            integration=integration.id,
            set_version=version,
            valid_until=valid_until,
            entered_by=actor,
        )


def current(
    integrations: Iterable[Integration], time_zone: str, now: dt.datetime | None = None
) -> dict[int, Expiry]:
    """The end date of each integration's credentials in use (of one organisation), in one
    query."""
    wanted = {
        (i.id, i.active_credential_version): i
        for i in integrations
        if i.active_credential_version is not None
    }
    if not wanted:
        return {}
    ids = {integration_id for integration_id, _version in wanted}
    today = local_today(time_zone, now)
    out: dict[int, Expiry] = {}
    for row in SecretExpiry.select().where(SecretExpiry.integration.in_(list(ids))):
        integration = wanted.get((row.integration_id, row.set_version))
        if integration is not None:
            out[integration.id] = Expiry(row.valid_until, today)
    return out
