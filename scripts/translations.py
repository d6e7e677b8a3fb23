"""Keep both catalogues complete: extract, merge, fill, compile.

`make messages` runs this. Norwegian translations come from the catalogue itself and from
`translations/pending/*.po` (where features add theirs); English msgstrs equal the msgids.
Exits non-zero listing any msgid without a Norwegian translation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PYBABEL = str(Path(sys.executable).parent / "pybabel")


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def _write(path: Path, catalog) -> None:
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False, no_location=True, sort_output=True)


def main() -> int:
    pot = TRANSLATIONS / "messages.pot"
    subprocess.check_call(
        [
            PYBABEL,
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "--sort-output",
            "-o",
            str(pot),
            "webapp",
            "adapters",
            "templates",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    template = _read(pot)
    known = {}
    for path in sorted((TRANSLATIONS / "pending").glob("*.po")):
        for message in _read(path):
            if message.id and message.string:
                known[message.id] = message.string
    missing = []
    for locale in ("nb", "en"):
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        catalog = _read(po)
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if not message.id:
                continue
            message.flags.discard("fuzzy")
            if locale == "en":
                message.string = message.id
            elif message.id in known:
                message.string = known[message.id]
            elif not (all(message.string) if message.pluralizable else message.string):
                missing.append(message.id)
        catalog.obsolete.clear()
        _write(po, catalog)
    subprocess.check_call(
        [PYBABEL, "compile", "-d", str(TRANSLATIONS)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for msgid in missing:
        print(f"missing Norwegian translation: {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
