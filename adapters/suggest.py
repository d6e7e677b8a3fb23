""" "Did you mean …?" for names a system listed (companies, journals, environments)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from adapters.types import Text


def closest(entered: str, options: Iterable[str]) -> str | None:
    """The listed name closest to what was entered (case and spacing aside), or None."""
    by_key = {" ".join(o.split()).casefold(): o for o in options if o}
    wanted = " ".join(entered.split()).casefold()
    if not wanted or not by_key:
        return None
    for key, option in by_key.items():
        # A name that contains the entered one, or the other way round ("CRONUS" for
        # "CRONUS Norge AS"), is the likeliest meant.
        if wanted in key or key in wanted:
            return option
    match = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=0.6)
    return by_key[match[0]] if match else None


def did_you_mean(entered: str, options: Iterable[str]) -> Text:
    """ " Did you mean «X»?" in both languages, or empty text when nothing is close."""
    found = closest(entered, options)
    if found is None:
        return Text("", "")
    return Text(f" Mente du «{found}»?", f" Did you mean “{found}”?")
