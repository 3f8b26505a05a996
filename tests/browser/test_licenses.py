"""The Licenses pages: products with available and assigned licenses, a product's users, Assign
licenses (people picker, apps and services on or off), Unassign licenses, one user's apps and
services, Export users; what a Global reader may see and do."""

import re
import uuid

from conftest import SCREENSHOTS, URL, api, new_user, sign_in, sign_in_page
from playwright.sync_api import expect

SUITE_BASIC = "3b555118-da6a-4418-894f-7df1e2096870"
SUITE_PREMIUM = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
CHAT_ESSENTIALS = "7e31c0d9-9551-471d-836f-32ee72be4a01"
OFFICE_WEB = "e95bec33-7c88-4a70-8e19-b10bd9d0c014"


def buy(sku, quantity):
    status, body = api("POST", "/api/v1/subscriptions",
                       {"skuId": sku, "quantity": quantity, "billingFrequency": "monthly"})
    assert status == 201, body
    return body


def row_numbers(p, product):
    """(available, assigned, total) of a product's row on the Licenses page."""
    row = p.get_by_role("row").filter(has=p.get_by_role("link", name=product, exact=True))
    cells = row.get_by_role("cell")
    available = int(cells.nth(1).inner_text())
    m = re.match(r"(\d+) of (\d+)", cells.nth(2).inner_text())
    return available, int(m.group(1)), int(m.group(2))


def pick(p, upn):
    """Types the user's name in the people picker and checks the user."""
    p.get_by_label("Search users").fill(upn.split("@")[0])
    result = p.locator("#picker-results label").filter(has_text=upn)
    expect(result).to_be_visible()
    result.get_by_role("checkbox").check()
    expect(p.locator("#picked-users").get_by_text(upn)).to_be_visible()


def test_assign_three_users_with_one_app_off_and_the_counts_change(tab):
    buy(SUITE_BASIC, 5)
    users = [new_user(name="Assignee") for _ in range(3)]
    sign_in(tab)
    p = tab.page
    tab.goto("/licenses")
    expect(p.get_by_role("heading", name="Licenses")).to_be_visible()
    available, assigned, total = row_numbers(p, "Suite Basic")
    assert available >= 3
    p.get_by_role("link", name="Suite Basic", exact=True).click()
    p.get_by_role("link", name="Assign licenses").click()
    for upn in users:
        pick(p, upn)
    p.get_by_text("Turn apps and services on or off").click()
    p.get_by_label("Web apps").uncheck()
    tab.shot("picked")
    p.get_by_role("button", name="Assign", exact=True).click()
    expect(p.get_by_role("status")).to_have_text("3 users were assigned Suite Basic.")
    expect(p.get_by_text(f"{available - 3} available · {assigned + 3} of {total} assigned")).to_be_visible()
    # Each of them is on the product's list with 4 of its 5 apps and services on.
    p.get_by_label("Search users").fill("assignee")
    for upn in users:
        expect(p.get_by_role("row").filter(has_text=upn)).to_contain_text("4 of 5")
    tab.goto("/licenses")
    assert row_numbers(p, "Suite Basic") == (available - 3, assigned + 3, total)
    tab.shot()
    status, body = api("GET", f"/api/v1/users/{users[0]}/licenses")
    assert status == 200, body
    held = [l for l in body["licenses"] if l["skuId"] == SUITE_BASIC][0]
    assert OFFICE_WEB in str(held) or "OFFICE_WEB" in str(held)


def test_a_plan_conflict_is_shown_in_words_and_nothing_is_assigned(tab):
    buy(SUITE_BASIC, 1)
    upn = new_user(name="Conflict")
    sign_in(tab)
    p = tab.page
    tab.goto(f"/licenses/{SUITE_BASIC}/assign")
    pick(p, upn)
    p.get_by_text("Turn apps and services on or off").click()
    # Whiteboard needs Chat and meetings: turning only Chat off is refused.
    p.get_by_label("Chat and meetings").uncheck()
    p.get_by_role("button", name="Assign", exact=True).click()
    alert = p.get_by_role("alert")
    # In the switches' own labels, saying what to change; no code names.
    expect(alert).to_contain_text(
        "Whiteboard (from Suite Basic) needs Chat and meetings: "
        "turn Chat and meetings on as well, or turn Whiteboard off.")
    expect(alert).not_to_contain_text("WHITEBOARD")
    # The heading fits the problem: a missing dependency, not two apps on together.
    expect(alert).to_contain_text("These apps and services need others that are off; nothing was changed")
    expect(alert).not_to_contain_text("cannot be on together")
    # The form keeps what was picked and turned off, to fix and try again.
    expect(p.locator("#picked-users").get_by_role("checkbox")).to_be_checked()
    expect(p.get_by_label("Chat and meetings")).not_to_be_checked()
    tab.shot()
    status, body = api("GET", f"/api/v1/users/{upn}/licenses")
    assert status == 200 and body["licenses"] == [], body
    # The browser logs the refusal's status (400) itself; that is what this test asked for.
    tab.console_errors = [e for e in tab.console_errors if "400" not in e]


def test_every_plan_conflict_is_shown_at_once_in_the_switches_labels(tab):
    buy(SUITE_PREMIUM, 1)
    buy(SUITE_BASIC, 1)
    upn = new_user(name="Conflicts")
    status, body = api("POST", f"/api/v1/licenses/{SUITE_PREMIUM}/assign", {"users": [upn]})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    tab.goto(f"/licenses/{SUITE_BASIC}/assign")
    pick(p, upn)
    p.get_by_role("button", name="Assign", exact=True).click()
    alert = p.get_by_role("alert")
    # Both conflicts with the user's Suite Premium at once, each saying what to change.
    for words in ["Mail (Plan 1) (from Suite Basic)", "Mail (Plan 2) (from Suite Premium)",
                  "Files and sites (Standard) (from Suite Basic)",
                  "Files and sites (Enterprise) (from Suite Premium)"]:
        expect(alert).to_contain_text(words)
    assert alert.inner_text().count("cannot both be on: turn one of them off.") == 2
    expect(alert).to_contain_text("These apps and services cannot be on together; nothing was changed")
    expect(alert).not_to_contain_text("MAIL_PLAN")
    tab.shot("all conflicts")
    status, body = api("GET", f"/api/v1/users/{upn}/licenses")
    assert status == 200 and [l["skuId"] for l in body["licenses"]] == [SUITE_PREMIUM], body
    tab.console_errors = [e for e in tab.console_errors if "400" not in e]


def test_unassign_after_confirming(tab):
    buy(CHAT_ESSENTIALS, 2)
    users = [new_user(name="Leaver") for _ in range(2)]
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": users})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    tab.goto("/licenses")
    available, assigned, total = row_numbers(p, "Chat Essentials")
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}?search=leaver")
    for upn in users:
        p.get_by_role("row").filter(has_text=upn).get_by_role("checkbox").check()
    p.get_by_role("button", name="Unassign licenses").click()
    expect(p.get_by_role("heading", name="Unassign licenses")).to_be_visible()
    expect(p.get_by_text("these 2 users")).to_be_visible()
    tab.shot("confirm")
    p.get_by_role("button", name="Unassign", exact=True).click()
    expect(p.get_by_role("status")).to_contain_text(
        "2 users were unassigned Chat Essentials; 2 licenses are available again.")
    for upn in users:
        expect(p.get_by_text(upn)).to_have_count(0)
    tab.goto("/licenses")
    assert row_numbers(p, "Chat Essentials") == (available + 2, assigned - 2, total)


def test_unassigning_one_user_says_one_license_is_available_again(tab):
    buy(CHAT_ESSENTIALS, 1)
    upn = new_user(name="OneLeaver")
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": [upn]})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}?search={upn.split('@')[0]}")
    p.get_by_role("row").filter(has_text=upn).get_by_role("checkbox").check()
    p.get_by_role("button", name="Unassign licenses").click()
    expect(p.get_by_text("the license becomes available again")).to_be_visible()
    p.get_by_role("button", name="Unassign", exact=True).click()
    expect(p.get_by_role("status")).to_have_text(
        "1 user was unassigned Chat Essentials; 1 license is available again.")
    tab.shot()


def test_a_users_apps_and_services_are_saved(tab):
    buy(CHAT_ESSENTIALS, 1)
    upn = new_user(name="Planner")
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": [upn]})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}")
    p.get_by_label("Search users").fill(upn.split("@")[0])
    p.get_by_role("row").filter(has_text=upn).get_by_role("link").click()
    expect(p.get_by_label("Whiteboard")).to_be_checked()
    p.get_by_label("Whiteboard").uncheck()
    p.get_by_role("button", name="Save").click()
    expect(p.get_by_role("status")).to_contain_text("were saved")
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}?search={upn.split('@')[0]}")
    expect(p.get_by_role("row").filter(has_text=upn)).to_contain_text("1 of 2")
    tab.shot()


def test_export_users_downloads_a_csv(tab):
    upn = new_user(name="Exported")
    buy(CHAT_ESSENTIALS, 1)
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": [upn]})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}")
    with p.expect_download() as d:
        p.get_by_role("link", name="Export users").click()
    path = d.value.path()
    text = open(path, encoding="utf-8").read()
    assert text.startswith("userPrincipalName,displayName,")
    assert upn in text


def test_a_global_reader_sees_the_data_but_no_buttons_and_a_forged_post_is_refused(tab):
    upn = new_user(name="Holder")
    buy(CHAT_ESSENTIALS, 1)
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": [upn]})
    assert status == 200, body
    reader = new_user(roles=["GlobalReader"], name="Reader")
    sign_in(tab, reader)
    p = tab.page
    tab.goto("/licenses")
    expect(p.get_by_role("link", name="Chat Essentials", exact=True)).to_be_visible()
    p.get_by_role("link", name="Chat Essentials", exact=True).click()
    p.get_by_label("Search users").fill(upn.split("@")[0])
    expect(p.get_by_role("row")).to_have_count(2)  # the header and the one user found
    expect(p.get_by_role("row").filter(has_text=upn)).to_be_visible()
    expect(p.get_by_role("link", name="Assign licenses")).to_have_count(0)
    expect(p.get_by_role("button", name="Unassign licenses")).to_have_count(0)
    expect(p.get_by_role("checkbox")).to_have_count(0)
    tab.shot("product")
    p.get_by_role("row").filter(has_text=upn).get_by_role("link").click()
    expect(p.get_by_text("Whiteboard: On")).to_be_visible()
    expect(p.get_by_role("button", name="Save")).to_have_count(0)
    expect(p.get_by_role("checkbox")).to_have_count(0)
    # Every button left on these pages changes nothing (Sign out, Search).
    names = [b.inner_text() for b in p.get_by_role("button").all()]
    assert set(names) <= {"Sign out", "Search"}, names
    # A post made by hand, with the page's own CSRF token, is refused by the server.
    csrf = p.locator("body").get_attribute("data-csrf")
    other = new_user(name="Forged")
    r = p.request.post(URL + f"/licenses/{CHAT_ESSENTIALS}/assign",
                       form={"csrf": csrf, "user": other})
    assert r.status == 403
    assert "Insufficient privileges" in r.text()
    status, body = api("GET", f"/api/v1/users/{other}/licenses")
    assert body["licenses"] == [], body
    r = tab.goto(f"/licenses/{CHAT_ESSENTIALS}/assign")
    assert r.status == 403
    expect(p.get_by_text("Insufficient privileges")).to_be_visible()
    tab.shot()
    tab.console_errors = [e for e in tab.console_errors if "403" not in e]


def test_a_display_name_with_markup_shows_as_text(tab):
    tag = uuid.uuid4().hex[:8]
    upn = f"xss-{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": "<script>alert(1)</script>",
        "mailNickname": f"x{tag}", "userPrincipalName": upn, "usageLocation": "US",
    })
    assert status == 201, body
    buy(CHAT_ESSENTIALS, 1)
    status, body = api("POST", f"/api/v1/licenses/{CHAT_ESSENTIALS}/assign", {"users": [upn]})
    assert status == 200, body
    sign_in(tab)
    p = tab.page
    dialogs = []
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}?search=xss-{tag}")
    expect(p.get_by_role("link", name="<script>alert(1)</script>")).to_be_visible()
    tab.goto(f"/licenses/{CHAT_ESSENTIALS}/assign?q=xss-{tag}")
    expect(p.locator("#picker-results").get_by_text("<script>alert(1)</script>")).to_be_visible()
    tab.shot()
    assert dialogs == []


def test_the_licenses_pages_are_readable_on_a_phone(tab):
    tab.page.set_viewport_size({"width": 390, "height": 844})
    sign_in(tab)
    p = tab.page
    for path in ["/licenses", f"/licenses/{CHAT_ESSENTIALS}", f"/licenses/{CHAT_ESSENTIALS}/assign"]:
        tab.goto(path)
        expect(p.get_by_role("heading", level=1)).to_be_visible()
        # Nothing is wider than the screen (wide tables scroll inside their frame).
        assert p.evaluate("document.documentElement.scrollWidth") <= 390, path
    tab.shot()


def test_assign_works_without_javascript(browser):
    buy(CHAT_ESSENTIALS, 1)
    upn = new_user(name="Nojs")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        p = context.new_page()
        sign_in_page(p)
        p.goto(URL + f"/licenses/{CHAT_ESSENTIALS}/assign")
        p.get_by_label("Search users").fill(upn.split("@")[0])
        p.get_by_role("button", name="Search").click()
        # The search's address carries what was typed, never the form's CSRF token.
        expect(p.locator("#picker-results label").filter(has_text=upn)).to_be_visible()
        assert "q=" in p.url and "csrf" not in p.url, p.url
        p.locator("#picker-results label").filter(has_text=upn).get_by_role("checkbox").check()
        p.get_by_role("button", name="Assign", exact=True).click()
        expect(p.get_by_role("status")).to_have_text("1 user was assigned Chat Essentials.")
        p.screenshot(path=f"{SCREENSHOTS}/test_assign_works_without_javascript.png", full_page=True)
    finally:
        context.close()
    status, body = api("GET", f"/api/v1/users/{upn}/licenses")
    assert [l["skuId"] for l in body["licenses"]] == [CHAT_ESSENTIALS], body
