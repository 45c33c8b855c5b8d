"""Headless Chromium for the page tests: Debian's browser (``make install`` installs it), driven by Playwright.

Playwright's own browser download cannot run here, so it launches the system
Chromium with the flags this machine needs: no sandbox (tests may run as root), and
none of Chromium's background connections, which a closed network refuses.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Where screenshots go, one PNG per page the tests visit (CI keeps the folder as an artifact).
SCREENSHOTS = Path(
    os.environ.get("APID_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
)


@contextmanager
def chromium(*flags: str) -> Iterator[Browser]:
    """The browser, with ``flags`` besides :data:`FLAGS` (``--host-resolver-rules`` to reach a name on loopback)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*FLAGS, *flags], headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls a screen reader cannot name (no label, no aria-label): what the page tests require none of."""
    return page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
        .map(e => e.outerHTML)""")


def words(text: str) -> str:
    """Text as a reader sees it: one space between words, whatever the layout's line breaks."""
    return " ".join(text.split())
