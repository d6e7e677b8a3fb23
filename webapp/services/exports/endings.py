"""How a run ends, in words: the final status, its kind and the message in both languages.

Kept apart from the run itself (run.py) so the protocol reads without the wording.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from adapters.types import Text
from webapp.services.exports.settings import _t, bilingual


def completed(
    system: Text, exported: int, failed: int, reconciled: int
) -> tuple[str, str | None, dict[str, str]]:
    """(status, error kind, message) of a run that went through all its claims."""
    if exported + failed == 0:
        status, kind = "succeeded", None
        message = bilingual(lambda: _("No new approved claims to export."))
    elif failed == 0:
        status, kind = "succeeded", None
        message = bilingual(
            lambda: ngettext(
                "%(num)d claim exported to %(system)s.",
                "%(num)d claims exported to %(system)s.",
                exported,
                system=_t(system),
            )
        )
    elif exported:
        status, kind = "partial", "data"
        message = bilingual(
            lambda: (
                ngettext(
                    "%(num)d claim exported to %(system)s.",
                    "%(num)d claims exported to %(system)s.",
                    exported,
                    system=_t(system),
                )
                + " "
                + ngettext(
                    "%(num)d claim could not be exported: see the reason in the run history. "
                    "It is sent again with the next export once it is corrected.",
                    "%(num)d claims could not be exported: see the reasons in the run history. "
                    "They are sent again with the next export once they are corrected.",
                    failed,
                )
            )
        )
    else:
        status, kind = "failed", "data"
        message = bilingual(
            lambda: ngettext(
                "%(num)d claim could not be exported: see the reason in the run history. "
                "It is sent again with the next export once it is corrected.",
                "None of the %(num)d claims could be exported: see the reasons in the run "
                "history. They are sent again with the next export once they are corrected.",
                failed,
            )
        )
    if reconciled:
        extra = bilingual(
            lambda: ngettext(
                "%(num)d of them was already in %(system)s from an interrupted export and "
                "was not sent again.",
                "%(num)d of them were already in %(system)s from an interrupted export and "
                "were not sent again.",
                reconciled,
                system=_t(system),
            )
        )
        message = {k: f"{message[k]} {extra[k]}" for k in message}
    return status, kind, message


def not_run(status: str) -> tuple[str | None, dict[str, str]]:
    """(error kind, message) of a run refused because of the integration's `status`."""
    if status == "needs_reauth":
        message = bilingual(
            lambda: _(
                "Not run: the accounting system rejected the saved credentials. Enter new "
                "credentials to continue."
            )
        )
        kind = "auth"
    elif status == "paused":
        message = bilingual(lambda: _("Not run: exports for this integration are paused."))
        kind = None
    else:
        message = bilingual(
            lambda: _("Not run: the integration is not set up yet. Finish the setup first.")
        )
        kind = "config"
    return kind, message


def crashed(note) -> dict[str, str]:
    """The message of a run an unexpected error stopped; `note` adds the progress."""
    return bilingual(
        lambda: (
            _(
                "An unexpected error stopped the export. Claims already sent are recorded "
                "and the rest are tried again at the next export. Tell your administrator "
                "if this keeps happening."
            )
            + note()
        )
    )
