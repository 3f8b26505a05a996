"""The admin center's frame: the sign-in page, our own error pages, the security headers."""

from conftest import URL
from playwright.sync_api import expect


def test_the_home_page_asks_to_sign_in(tab):
    tab.goto("/")
    p = tab.page
    expect(p).to_have_url(URL + "/sign-in")
    expect(p.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(p.get_by_label("User name")).to_be_visible()
    expect(p.get_by_label("Password")).to_have_attribute("type", "password")
    expect(p.get_by_role("button", name="Sign in")).to_be_visible()
    tab.shot()


def test_security_headers_on_every_page(tab):
    r = tab.goto("/sign-in")
    h = r.headers
    assert "unsafe-inline" not in h["content-security-policy"]
    assert "script-src 'self'" in h["content-security-policy"]
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-content-type-options"] == "nosniff"


def test_an_unknown_page_is_our_own_404(tab):
    r = tab.goto("/no-such-page")
    assert r.status == 404
    p = tab.page
    expect(p.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(p.get_by_text("There is no page at /no-such-page")).to_be_visible()
    tab.shot()
    # The browser logs the 404 itself; that is what this test asked for.
    tab.console_errors = [e for e in tab.console_errors if "404" not in e]


def test_readable_on_a_phone(tab):
    tab.page.set_viewport_size({"width": 390, "height": 844})
    tab.goto("/sign-in")
    p = tab.page
    expect(p.get_by_label("User name")).to_be_visible()
    # Nothing is wider than the screen.
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    tab.shot()


def test_opening_a_forms_address_shows_our_own_page(tab):
    r = tab.goto("/sign-out")
    assert r.status == 405
    expect(tab.page.get_by_text("This address is for a form's button")).to_be_visible()
    tab.console_errors = [e for e in tab.console_errors if "405" not in e]
