"""Fixtures for the browser tests: one headless Chromium for the run, a fresh page per test,
and a screenshot of what each test checked (in $SCREENSHOTS)."""

import os
import re

import pytest
from playwright.sync_api import sync_playwright

URL = os.environ["SEATKEEPER_URL"]
SCREENSHOTS = os.environ.get("SCREENSHOTS", "target/screenshots")


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Page:
    """A browser tab on the server, that records what a person would notice went wrong: console
    errors (a Content-Security-Policy violation is one) and requests that leave the server."""

    def __init__(self, context, name):
        self.context = context
        self.page = context.new_page()
        self.name = name
        self.console_errors = []
        self.foreign_requests = []
        self.page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on(
            "request",
            lambda r: None
            if r.url.startswith(URL) or r.url.startswith("data:")
            else self.foreign_requests.append(r.url),
        )

    def goto(self, path):
        return self.page.goto(URL + path)

    def shot(self, label=""):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.name}{'-' + label if label else ''}")
        self.page.screenshot(path=os.path.join(SCREENSHOTS, safe + ".png"), full_page=True)


@pytest.fixture
def tab(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    t = Page(context, request.node.name)
    yield t
    try:
        t.shot("end")
    finally:
        context.close()
    assert t.foreign_requests == [], f"requests left the server: {t.foreign_requests}"
    assert t.console_errors == [], f"console errors: {t.console_errors}"
