"""Playwright (sync API) driving Debian's chromium against pytest-django's live server.

Never `playwright install`: the browser is /usr/bin/chromium. The live server binds 127.0.0.1 and,
on SQLite, shares the in-memory test database with the test (Django's LiveServerThread does that).
Screenshots go to test-artifacts/screenshots/ (gitignored); a few are copied to docs/ by hand.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000


@pytest.fixture
def browser(monkeypatch):
    """A chromium per test. Playwright's sync API runs an event loop in this thread while it is
    open, and Django refuses ORM calls under a running loop; the test's own ORM calls are plain
    synchronous code, so the guard is lifted for the browser's lifetime only (a session-wide
    browser would lift it for every other test too)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: sudo apt-get install -y chromium (make browser-deps)", pytrace=False
        )
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
        # ORM calls made while Playwright's loop ran hold their own connection (Django keys
        # connections by context); close it here, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
