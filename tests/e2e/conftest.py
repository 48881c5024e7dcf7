"""Browser tests: Playwright for Python driving Debian's chromium against pytest-django's live server.

- Marked `e2e`; run with `.venv/bin/pytest tests/e2e -m e2e`. CI installs chromium; without
  /usr/bin/chromium the tests skip and say why.
- The live server serves static files through Django's finders, so the vendor assets come straight from
  node_modules (settings.STATICFILES_DIRS). Without node_modules the tests fail, naming the missing files:
  a page silently rendered without htmx, Pico or the Noto Sans SC font is not a pass.
- Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from a thread with a
  running loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set, so it is set here (test process only).
- Screenshots of every page go to test-artifacts/e2e/NN-name.png at the repository root (git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The vendor files every page loads (see templates/base.html), relative to node_modules.
VENDOR_FILES = [
    "htmx.org/dist/htmx.min.js",
    "@picocss/pico/css/pico.min.css",
    "@fontsource/noto-sans-sc/400.css",
    "@fontsource/noto-sans-sc/700.css",
]
DESKTOP = {"width": 1280, "height": 900}
#: Reports each CSP violation with the element that caused it (init scripts are not subject to the CSP).
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const target = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 300) : String(e.target);
  console.error(`CSP violation: ${e.violatedDirective} by ${target} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`);
}, true);
"""


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    missing = [f for f in VENDOR_FILES if not (REPO_ROOT / "node_modules" / f).exists()]
    if missing:
        pytest.fail(
            "front-end assets are missing from node_modules: "
            + ", ".join(missing)
            + " — run `npm ci` in the repository root first",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageProblems:
    """What went wrong in the browser while a test ran: console errors (CSP violations are reported there),
    uncaught script errors, and failed requests for our own assets."""

    console: list[str] = field(default_factory=list)
    script: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [*self.console, *self.script, *self.assets]


@dataclass
class Browsers:
    """Opens a browser context per person (separate cookies and sessions) and keeps the screenshots numbered."""

    browser: object
    base_url: str
    problems: PageProblems = field(default_factory=PageProblems)
    shots: list[Path] = field(default_factory=list)
    contexts: list = field(default_factory=list)
    #: number of the first screenshot; tests use separate ranges so their files do not collide
    first_shot: int = 1

    def page(self, *, locale: str = "zh-CN", viewport: dict | None = None):
        context = self.browser.new_context(
            base_url=self.base_url, locale=locale, viewport=viewport or DESKTOP, accept_downloads=False
        )
        self.contexts.append(context)
        context.add_init_script(CSP_REPORTER)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda exc: self.problems.script.append(str(exc)))
        page.on("response", self._response)
        return page

    def _console(self, page, message) -> None:
        if message.type != "error":
            return
        where = message.location or {}
        if message.text.startswith("Failed to load resource") and "/static/" not in where.get("url", ""):
            return  # a page answered 4xx on purpose (a refused form); failed assets are caught in _response
        self.problems.console.append(
            f"{message.text} [{page.url} {where.get('url', '')}:{where.get('lineNumber', '')}]"
        )

    def _response(self, response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.problems.assets.append(f"{response.status} {response.url}")

    def shot(self, page, name: str) -> Path:
        """A full-page screenshot, once the web fonts have loaded."""
        page.evaluate("document.fonts.ready.then(() => true)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.first_shot + len(self.shots):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    @staticmethod
    def login(page, username: str, password: str = "correct-horse-battery") -> None:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("form[action='/accounts/login/'] button[type=submit]")
        page.wait_for_url("**/staff/")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsers(browser, live_server) -> Iterator[Browsers]:
    helper = Browsers(browser=browser, base_url=live_server.url)
    yield helper
    helper.close()
    assert not helper.problems.all(), f"problems in the browser: {helper.problems.all()}"
