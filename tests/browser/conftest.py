"""Browser tests: Debian's Chromium driven by Playwright against a live server.

`live_server` (pytest-flask) runs the app in a child process on a free port; `browser` is
one Chromium per session; `page` a fresh context per test; `sign_in` goes through the
real OIDC mock pages like a person would; `axe_check` runs axe-core on the current page.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make chromium`")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url().rstrip("/")


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(base_url=base_url, locale="nb-NO")
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone(browser, base_url):
    """A 320 px wide page, as on a small phone."""
    context = browser.new_context(
        base_url=base_url,
        locale="nb-NO",
        viewport={"width": 320, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(15000)
    tab = context.new_page()
    yield tab
    context.close()


class SignIn:
    def __call__(self, page: Page, email: str) -> None:
        """Sign in through the OIDC mock's own page, as a person would."""
        page.goto("/auth/login")
        page.get_by_role("link", name=re.compile("Logg inn|Sign in")).click()
        page.locator("input[name=sub]").fill(email)
        page.get_by_role("button", name="Authorize").click()
        expect(page.locator("h1")).to_be_visible()


@pytest.fixture
def sign_in():
    return SignIn()


_axe = Axe()


def axe_violations(page: Page) -> list[str]:
    results = _axe.run(page)
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


@pytest.fixture
def axe_check():
    def check(page: Page) -> None:
        violations = axe_violations(page)
        assert violations == [], f"axe-core on {page.url}:\n" + "\n".join(violations)

    return check


@pytest.fixture
def both_languages():
    """Open `path` in Norwegian, then English (ending there), and run axe-core on each."""

    def visit(page: Page, axe_check, path: str) -> None:
        separator = "&" if "?" in path else "?"
        for lang in ("nb", "en"):
            page.goto(f"{path}{separator}lang={lang}")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            axe_check(page)

    return visit
