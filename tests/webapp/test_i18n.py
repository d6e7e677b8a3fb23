"""Norwegian Bokmål by default, English on request, every string in both catalogues."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_extracted_string_has_a_norwegian_and_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.check_call(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
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
    wanted = {m.id for m in read_po(pot.open("rb")) if m.id}
    assert len(wanted) > 50
    for locale in ("nb", "en"):
        po = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
        have = {m.id: m.string for m in read_po(po.open("rb")) if m.id}
        missing = sorted(str(w) for w in wanted if not _translated(have.get(w)))
        assert missing == [], f"{locale}: run `make messages` and translate: {missing[:10]}"


def _translated(string) -> bool:
    # Plural entries carry a tuple of forms; every form must be filled in.
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)


def test_norwegian_is_the_default(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert '<html lang="nb">' in page
    assert "Logg inn i Ledgerlink" in page


def test_browser_no_and_nn_mean_bokmal(client):
    for tag in ("no", "nn-NO", "nb-NO,en;q=0.5"):
        page = client.get("/auth/login", headers={"Accept-Language": tag}).get_data(as_text=True)
        assert "Logg inn i Ledgerlink" in page, tag


def test_lang_parameter_switches_and_sticks(client):
    page = client.get("/auth/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in to Ledgerlink" in page
    assert "Sign in to Ledgerlink" in client.get("/auth/login").get_data(as_text=True)
    assert "Logg inn i Ledgerlink" in client.get("/auth/login?lang=nb").get_data(as_text=True)


def test_english_browser_gets_english(client):
    page = client.get("/auth/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "Sign in to Ledgerlink" in page
