"""The words for connection health, shared by pages and e-mail (both translated)."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import ngettext


def issue_label(kind: str) -> str:
    """What is wrong, as a coordinator reads it."""
    labels = {
        "auth": _("The accounting system rejected the sign-in"),
        "permission": _("Access is missing in the accounting system"),
        "config": _("A setting points at something that does not exist"),
        "unreachable": _("The accounting system could not be reached"),
        "rate_limited": _("The accounting system asked Ledgerlink to slow down"),
        "data": _("The accounting system refused some claims"),
    }
    return labels.get(kind, _("The connection failed"))


def issue_fix(kind: str) -> str:
    """What to do about it."""
    fixes = {
        "auth": _("Enter new credentials and test them."),
        "permission": _(
            "Ask an administrator of the accounting system to grant the missing access, then "
            "test the connection."
        ),
        "config": _("Correct the setting on the credentials page and test the connection."),
        "unreachable": _(
            "Nothing to do yet: Ledgerlink keeps trying. If it lasts, check the system's "
            "status page."
        ),
        "rate_limited": _("Nothing to do: Ledgerlink waits and goes on by itself."),
        "data": _("Open the run history to see which claims were refused and why."),
    }
    return fixes.get(kind, "")


def duration(delta: dt.timedelta) -> str:
    """How long something has lasted, in the largest whole unit."""
    seconds = max(0, int(delta.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds // 3600, seconds // 60
    if days:
        return ngettext("%(num)d day", "%(num)d days", days)
    if hours:
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    return ngettext("%(num)d minute", "%(num)d minutes", max(1, minutes))


def days_left(days: int) -> str:
    """When a secret stops working, relative to today."""
    if days < 0:
        return _("expired")
    if days == 0:
        return _("expires today")
    return ngettext("expires in %(num)d day", "expires in %(num)d days", days)
