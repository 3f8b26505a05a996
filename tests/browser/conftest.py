"""Fixtures for the browser tests: one headless Chromium for the run, a fresh page per test,
and a screenshot of what each test checked (in $SCREENSHOTS)."""

import json
import os
import re
import subprocess
import urllib.request
import uuid

import pytest
from playwright.sync_api import sync_playwright

URL = os.environ["SEATKEEPER_URL"]
TOKEN = os.environ["SEATKEEPER_TOKEN"]  # the demo Global admin's bearer token
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


def api(method, path, body=None, token=TOKEN):
    """Calls the REST or Graph API as the demo Global admin (to set up what a test needs);
    returns (status, parsed JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw else None)


def new_user(roles=(), usage_location="US", name=None):
    """Creates a user in the demo organization (with admin `roles`, e.g. ["GlobalReader"]) and
    returns its userPrincipalName."""
    tag = uuid.uuid4().hex[:8]
    upn = f"{name or 'user'}-{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": f"{name or 'User'} {tag}",
        "mailNickname": f"u{tag}", "userPrincipalName": upn, "usageLocation": usage_location,
    })
    assert status == 201, body
    if roles:
        status, body = api("PUT", f"/api/v1/users/{upn}/roles", {"roles": list(roles)})
        assert status == 200, body
    return upn


ADMIN = os.environ.get("SEATKEEPER_ADMIN", "")
ADMIN_PASSWORD = os.environ.get("SEATKEEPER_PASSWORD", "")
# Passwords the tests give users: meets the policy (8+ characters, 3 of 4 kinds).
TEST_PASSWORD = "Browser-test-9"


def set_password(upn, password=TEST_PASSWORD, force_change=False):
    """Sets `upn`'s password as the demo Global admin would, through Graph's passwordProfile."""
    status, body = api("PATCH", f"/v1.0/users/{upn}", {
        "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": force_change},
    })
    assert status == 204, body


def sign_in(tab, upn=None):
    """Signs `tab` in through the sign-in page as `upn` (default: the demo Global admin), as a
    person would; other users get a password first."""
    sign_in_page(tab.page, upn)


def sign_in_page(p, upn=None):
    """Signs the Playwright page `p` in (see `sign_in`); works with JavaScript off too."""
    if upn is None:
        upn, password = ADMIN, ADMIN_PASSWORD
        assert upn and password, "the demo server printed no Global admin password"
    else:
        password = TEST_PASSWORD
        set_password(upn, password)
    p.goto(URL + "/sign-in")
    p.get_by_label("User name").fill(upn)
    p.get_by_label("Password").fill(password)
    p.get_by_role("button", name="Sign in").click()
    p.wait_for_url(lambda url: "/sign-in" not in url)
