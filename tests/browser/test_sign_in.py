"""Signing in and out of the admin center, as a person would."""

from conftest import ADMIN, URL, TEST_PASSWORD, new_user, set_password, sign_in
from playwright.sync_api import expect


def fill_and_submit(p, user, password):
    p.get_by_label("User name").fill(user)
    p.get_by_label("Password").fill(password)
    p.get_by_role("button", name="Sign in").click()


def change_password(p, current, new):
    p.get_by_label("Current password").fill(current)
    p.get_by_label("New password", exact=True).fill(new)
    p.get_by_label("Confirm new password").fill(new)
    p.get_by_role("button", name="Change password").click()


def test_a_wrong_password_and_an_unknown_user_get_one_message(tab):
    p = tab.page
    tab.goto("/sign-in")
    fill_and_submit(p, ADMIN, "not-the-password")
    wrong_password = p.get_by_role("alert").inner_text()
    tab.shot("wrong-password")
    tab.goto("/sign-in")
    fill_and_submit(p, "nobody-at-all@contoso.test", "whatever-1A")
    unknown_user = p.get_by_role("alert").inner_text()
    assert wrong_password == unknown_user
    assert "user name or password is incorrect" in wrong_password
    expect(p).to_have_url(URL + "/sign-in")
    # A failed sign-in is an answer the browser logs; that is what this test asked for.
    tab.console_errors = [e for e in tab.console_errors if "401" not in e and "400" not in e]


def test_sign_in_lands_on_home_and_sign_out_ends_the_session(tab):
    sign_in(tab)
    p = tab.page
    expect(p.get_by_role("navigation", name="Main").get_by_role("link", name="Licenses")).to_be_visible()
    expect(p.get_by_text(ADMIN)).to_be_visible()
    tab.shot("home")
    p.get_by_role("button", name="Sign out").click()
    expect(p.get_by_role("heading", name="Sign in")).to_be_visible()
    # The old cookie no longer opens anything.
    tab.goto("/licenses")
    expect(p).to_have_url(URL + "/sign-in?next=%2Flicenses")
    # The sign-in page says why, in one line.
    expect(p.get_by_role("status")).to_have_text("You were signed out. Sign in again to continue.")
    tab.shot("signed-out")
    # Signed in again, the line is gone for good.
    sign_in(tab)
    tab.goto("/sign-in")
    expect(p.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(p.locator("#sign-in-ended")).to_have_count(0)


def test_a_forced_password_change_comes_first(tab):
    upn = new_user(name="Forced")
    set_password(upn, TEST_PASSWORD, force_change=True)
    p = tab.page
    tab.goto("/sign-in")
    fill_and_submit(p, upn, TEST_PASSWORD)
    expect(p.get_by_role("heading", name="Change your password")).to_be_visible()
    expect(p.get_by_text("You must choose a new password")).to_be_visible()
    # Every other page sends the user back here until the password is changed.
    tab.goto("/")
    expect(p.get_by_role("heading", name="Change your password")).to_be_visible()
    change_password(p, TEST_PASSWORD, "short")
    expect(p.get_by_role("alert")).to_contain_text("8")
    tab.shot("policy")
    change_password(p, TEST_PASSWORD, "Another-pass-42")
    expect(p.get_by_role("heading", name="My account")).to_be_visible()
    tab.shot("changed")
    tab.console_errors = [e for e in tab.console_errors if "400" not in e]


def test_a_post_without_the_csrf_token_is_refused(tab):
    sign_in(tab)
    p = tab.page
    tab.goto("/")
    # The browser's own cookie, but no token: as a form on another site would post it.
    r = p.request.post(URL + "/account/tokens", form={"name": "forged"})
    assert r.status == 403
    assert "did not come from Seatkeeper" in r.text()
    # And the sign-in form itself cannot be posted without its token either.
    r = p.request.post(URL + "/sign-in", form={"user_name": ADMIN, "password": "x"})
    assert r.status == 403


def test_an_end_user_lands_on_their_own_page_never_an_admin_one(tab):
    upn = new_user(name="Enduser")
    set_password(upn, TEST_PASSWORD, force_change=True)
    p = tab.page
    # A link to an admin page, opened signed out: sign in, change the password, go on.
    tab.goto("/licenses")
    fill_and_submit(p, upn, TEST_PASSWORD)
    expect(p.get_by_role("heading", name="Change your password")).to_be_visible()
    change_password(p, TEST_PASSWORD, "Another-pass-42")
    expect(p.get_by_role("heading", name="My account")).to_be_visible()
    expect(p.get_by_text("Your password has been changed.")).to_be_visible()
    tab.shot("landed")
    # An admin page opened by address says why and links home.
    tab.goto("/users")
    expect(p.get_by_text("This page is for admins")).to_be_visible()
    tab.shot("refused")
    p.get_by_role("link", name="Go to the home page").click()
    expect(p.get_by_role("heading", name="My account")).to_be_visible()
    tab.console_errors = [e for e in tab.console_errors if "403" not in e]
