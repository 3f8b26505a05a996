"""Active users: search and filter, Add a user with a license at once, Manage product licenses
(Replace), Licenses and apps (a plan turned off sticks), Delete user frees its license, and a
Global reader sees nothing that changes anything."""

import re
import uuid

from conftest import api, new_user, sign_in
from playwright.sync_api import expect


def buy(part, n=3):
    """Buys `n` more licenses of `part`, so that the test never runs short on the shared server."""
    status, body = api("POST", "/api/v1/subscriptions", {"skuId": part, "quantity": n, "billingFrequency": "monthly"})
    assert status == 201, body


def license_row(part):
    status, body = api("GET", "/api/v1/licenses")
    assert status == 200, body
    return next(r for r in body["value"] if r["skuPartNumber"] == part)


def graph_assigned(part):
    """consumedUnits of the product on Graph's subscribedSkus."""
    status, body = api("GET", "/v1.0/subscribedSkus")
    assert status == 200, body
    return next(s for s in body["value"] if s["skuPartNumber"] == part)["consumedUnits"]


def held(upn):
    status, body = api("GET", f"/v1.0/users/{upn}/licenseDetails")
    assert status == 200, body
    return sorted(d["skuPartNumber"] for d in body["value"])


def assign(upn, part):
    status, body = api("POST", f"/v1.0/users/{upn}/assignLicense", {
        "addLicenses": [{"skuId": sku_id(part), "disabledPlans": []}], "removeLicenses": []})
    assert status == 200, body


def sku_id(part):
    status, body = api("GET", "/v1.0/subscribedSkus")
    assert status == 200, body
    return next(s for s in body["value"] if s["skuPartNumber"] == part)["skuId"]


def refused_as_asked(tab, code):
    """The browser logs a refused form's 4xx itself; that refusal is what the test asked for."""
    tab.console_errors = [e for e in tab.console_errors if f"status of {code}" not in e]


def row_of(p, upn):
    return p.get_by_role("row").filter(has_text=upn)


def test_search_and_filter(tab):
    tag = uuid.uuid4().hex[:6]
    licensed = new_user(name=f"Srch{tag}a")
    unlicensed = new_user(name=f"Srch{tag}b")
    buy("CHAT_ESSENTIALS", 1)
    assign(licensed, "CHAT_ESSENTIALS")
    sign_in(tab)
    tab.goto("/users")
    p = tab.page
    expect(p.get_by_role("heading", name="Active users")).to_be_visible()
    p.get_by_label("Search users").fill(f"Srch{tag}")
    p.get_by_role("button", name="Search").click()
    expect(row_of(p, licensed)).to_be_visible()
    expect(row_of(p, unlicensed)).to_be_visible()
    expect(row_of(p, licensed)).to_contain_text("Chat Essentials")
    expect(row_of(p, unlicensed)).to_contain_text("Unlicensed")
    p.get_by_label("Show").select_option(label="Licensed users")
    p.get_by_role("button", name="Search").click()
    expect(row_of(p, licensed)).to_be_visible()
    expect(row_of(p, unlicensed)).to_have_count(0)
    p.get_by_label("Show").select_option(label="Unlicensed users")
    p.get_by_role("button", name="Search").click()
    expect(row_of(p, unlicensed)).to_be_visible()
    expect(row_of(p, licensed)).to_have_count(0)
    p.get_by_label("Show").select_option(label="Guest users")
    p.get_by_role("button", name="Search").click()
    expect(p.get_by_text("No users match")).to_be_visible()
    tab.shot()


def test_add_a_user_with_a_license_at_once(tab):
    buy("SUITE_BASIC", 1)
    before = license_row("SUITE_BASIC")["assigned"]
    tag = uuid.uuid4().hex[:8]
    upn = f"added-{tag}@contoso.test"
    sign_in(tab)
    tab.goto("/users")
    p = tab.page
    p.get_by_role("link", name="Add a user").click()
    p.get_by_label("Display name").fill(f"Added <b>{tag}</b>")
    p.get_by_label("User name").fill(upn)
    p.get_by_label("Usage location").fill("GB")
    suite = p.get_by_role("group", name=re.compile("^Suite Basic"))
    suite.get_by_role("checkbox", name="Suite Basic").check()
    suite.get_by_label("Whiteboard").uncheck()
    tab.shot("form")
    p.get_by_role("button", name="Add user").click()
    expect(p.get_by_role("status")).to_contain_text(f"Added <b>{tag}</b> was added and assigned Suite Basic.")
    expect(row_of(p, upn)).to_contain_text("Suite Basic")
    expect(row_of(p, upn)).to_contain_text("GB")
    tab.shot()
    assert held(upn) == ["SUITE_BASIC"]
    assert license_row("SUITE_BASIC")["assigned"] == before + 1


def test_add_a_user_refused_leaves_no_user(tab):
    tag = uuid.uuid4().hex[:8]
    upn = f"refused-{tag}@contoso.test"
    sign_in(tab)
    tab.goto("/users/new")
    p = tab.page
    p.get_by_label("Display name").fill(f"Refused {tag}")
    p.get_by_label("User name").fill(upn)
    p.get_by_label("Usage location").fill("ZZZ")
    p.get_by_role("button", name="Add user").click()
    expect(p.get_by_role("alert")).to_contain_text("usageLocation")
    # The form keeps what was typed.
    expect(p.get_by_label("User name")).to_have_value(upn)
    tab.shot()
    status, _ = api("GET", f"/v1.0/users/{upn}")
    assert status == 404
    refused_as_asked(tab, 400)


def test_manage_product_licenses_replace_for_two_users(tab):
    buy("MAIL_PLAN1", 2)
    buy("CHAT_ESSENTIALS", 2)
    tag = uuid.uuid4().hex[:6]
    a = new_user(name=f"Repl{tag}a")
    b = new_user(name=f"Repl{tag}b")
    assign(a, "MAIL_PLAN1")
    assign(b, "MAIL_PLAN1")
    mail_before = license_row("MAIL_PLAN1")["assigned"]
    chat_before = license_row("CHAT_ESSENTIALS")["assigned"]
    chat_graph_before = graph_assigned("CHAT_ESSENTIALS")
    sign_in(tab)
    tab.goto(f"/users?q=Repl{tag}")
    p = tab.page
    p.get_by_label(f"Select Repl{tag}a").check()
    p.get_by_label(f"Select Repl{tag}b").check()
    p.get_by_role("button", name="Manage product licenses").click()
    expect(p.get_by_role("heading", name="Manage product licenses")).to_be_visible()
    p.get_by_label("Replace").check()
    chat = p.get_by_role("group", name=re.compile("^Chat Essentials"))
    chat.get_by_role("checkbox", name="Chat Essentials").check()
    tab.shot("form")
    p.get_by_role("button", name="Save changes").click()
    expect(p.get_by_role("status")).to_contain_text("The licenses of 2 users were replaced with Chat Essentials.")
    expect(row_of(p, a)).to_contain_text("Chat Essentials")
    expect(row_of(p, a)).not_to_contain_text("Mail")
    expect(row_of(p, b)).to_contain_text("Chat Essentials")
    tab.shot()
    assert held(a) == ["CHAT_ESSENTIALS"] and held(b) == ["CHAT_ESSENTIALS"]
    assert license_row("MAIL_PLAN1")["assigned"] == mail_before - 2
    assert license_row("CHAT_ESSENTIALS")["assigned"] == chat_before + 2
    assert graph_assigned("CHAT_ESSENTIALS") == chat_graph_before + 2


def test_licenses_and_apps_turns_a_plan_off_and_it_sticks(tab):
    buy("SUITE_BASIC", 1)
    upn = new_user(name="Plans")
    assign(upn, "SUITE_BASIC")
    sign_in(tab)
    tab.goto(f"/users?q={upn}")
    p = tab.page
    p.get_by_role("link", name=re.compile("^Plans ")).click()
    expect(p.get_by_role("heading", name="Licenses and apps")).to_be_visible()
    suite = p.get_by_role("group", name=re.compile("^Suite Basic"))
    expect(suite.get_by_role("checkbox", name="Suite Basic")).to_be_checked()
    suite.get_by_label("Whiteboard").uncheck()
    p.get_by_role("button", name="Save changes").click()
    expect(p.get_by_role("status")).to_contain_text("were saved")
    p.reload()
    suite = p.get_by_role("group", name=re.compile("^Suite Basic"))
    expect(suite.get_by_label("Whiteboard")).not_to_be_checked()
    expect(suite.get_by_label("Chat")).to_be_checked()
    tab.shot()
    status, body = api("GET", f"/v1.0/users/{upn}/licenseDetails")
    plans = {s["servicePlanName"]: s["provisioningStatus"] for s in body["value"][0]["servicePlans"]}
    assert plans["WHITEBOARD"] == "Disabled", plans


def test_usage_location_is_changed(tab):
    upn = new_user(name="Moves", usage_location="US")
    sign_in(tab)
    tab.goto(f"/users?q={upn}")
    p = tab.page
    p.get_by_role("link", name=re.compile("^Moves ")).click()
    p.get_by_label("Usage location").fill("NO")
    p.get_by_role("button", name="Save usage location").click()
    expect(p.get_by_role("status")).to_contain_text("is now NO")
    tab.shot()
    status, body = api("GET", f"/v1.0/users/{upn}")
    assert body["usageLocation"] == "NO"


def test_delete_a_user_after_the_confirmation_frees_the_license(tab):
    buy("SUITE_BASIC", 1)
    upn = new_user(name="Leaver")
    assign(upn, "SUITE_BASIC")
    before = license_row("SUITE_BASIC")["assigned"]
    sign_in(tab)
    tab.goto(f"/users?q={upn}")
    p = tab.page
    p.get_by_role("link", name=re.compile("^Leaver ")).click()
    name = p.get_by_role("heading", level=1).inner_text()
    p.get_by_role("button", name="Delete user").click()
    # The server asks first, in words, and nothing is deleted yet.
    expect(p.get_by_role("heading", name=f"Delete {name}?")).to_be_visible()
    # Before confirming: what deleting will do, not what has happened.
    expect(p.get_by_text(f"Deleting {name} ({upn}) frees their 1 license: Suite Basic.")).to_be_visible()
    expect(p.get_by_text("is deleted")).to_have_count(0)
    expect(p.get_by_text("This cannot be undone.")).to_be_visible()
    tab.shot("asked")
    assert api("GET", f"/v1.0/users/{upn}")[0] == 200
    p.get_by_role("button", name="Delete user").click()
    expect(p.get_by_role("status")).to_contain_text("was deleted; 1 license was freed.")
    tab.shot()
    status, _ = api("GET", f"/v1.0/users/{upn}")
    assert status == 404
    assert license_row("SUITE_BASIC")["assigned"] == before - 1


def test_a_declined_confirmation_deletes_nothing(tab):
    upn = new_user(name="Stayer")
    sign_in(tab)
    tab.goto(f"/users?q={upn}")
    p = tab.page
    p.get_by_role("link", name=re.compile("^Stayer ")).click()
    p.get_by_role("button", name="Delete user").click()
    expect(p.get_by_role("heading", name=re.compile("^Delete Stayer "))).to_be_visible()
    p.get_by_role("link", name="Cancel").click()
    expect(p.get_by_role("heading", name=re.compile("^Stayer "))).to_be_visible()
    status, _ = api("GET", f"/v1.0/users/{upn}")
    assert status == 200


def test_delete_and_unassign_all_ask_first_without_javascript(browser):
    from conftest import SCREENSHOTS, URL, sign_in_page
    buy("MAIL_PLAN1", 1)
    tag = uuid.uuid4().hex[:6]
    upn = new_user(name=f"Nojsdel{tag}")
    assign(upn, "MAIL_PLAN1")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        p = context.new_page()
        sign_in_page(p)
        # Unassign all: a page says what is removed; only its button removes it.
        p.goto(URL + f"/users?q=Nojsdel{tag}")
        p.get_by_label(f"Select Nojsdel{tag}").check()
        p.get_by_role("button", name="Manage product licenses").click()
        p.get_by_label("Unassign all").check()
        p.get_by_role("button", name="Save changes").click()
        expect(p.get_by_role("heading", name=f"Remove all 1 license from Nojsdel{tag} ")).to_be_visible()
        expect(p.get_by_text("Mail (Plan 1)")).to_be_visible()
        p.screenshot(path=f"{SCREENSHOTS}/test_delete_and_unassign_all_ask_first_without_javascript-unassign.png", full_page=True)
        assert held(upn) == ["MAIL_PLAN1"]
        p.get_by_role("button", name="Unassign all").click()
        expect(p.get_by_role("status")).to_contain_text("Every license was removed from 1 user.")
        assert held(upn) == []
        # Delete user: asked first, then deleted.
        p.goto(URL + f"/users?q=Nojsdel{tag}")
        p.get_by_role("link", name=re.compile("^Nojsdel")).click()
        p.get_by_role("button", name="Delete user").click()
        expect(p.get_by_role("heading", name=re.compile("^Delete Nojsdel"))).to_be_visible()
        expect(p.get_by_text(re.compile(r"^Nojsdel.* holds no licenses\.$"))).to_be_visible()
        p.screenshot(path=f"{SCREENSHOTS}/test_delete_and_unassign_all_ask_first_without_javascript-delete.png", full_page=True)
        assert api("GET", f"/v1.0/users/{upn}")[0] == 200
        p.get_by_role("button", name="Delete user").click()
        expect(p.get_by_role("status")).to_contain_text("was deleted.")
    finally:
        context.close()
    assert api("GET", f"/v1.0/users/{upn}")[0] == 404


def test_manage_product_licenses_shows_the_limit_of_20_where_users_are_picked(tab):
    tag = uuid.uuid4().hex[:6]
    for i in range(21):
        new_user(name=f"Lim{tag}x{i:02d}")
    sign_in(tab)
    p = tab.page
    tab.goto(f"/users?q=Lim{tag}")
    expect(p.get_by_text("Select up to 20 users in the table first.")).to_be_visible()
    p.get_by_label("Select all users on this page").check()
    # Only 20 are ticked; the 21st cannot be, and the page says why.
    expect(p.get_by_text("20 of 20 selected")).to_be_visible()
    boxes = p.locator('input[type="checkbox"][name="user"]')
    expect(boxes).to_have_count(21)
    assert sum(1 for i in range(21) if boxes.nth(i).is_checked()) == 20
    expect(p.locator('input[type="checkbox"][name="user"]:disabled')).to_have_count(1)
    tab.shot("limit")
    p.locator('input[type="checkbox"][name="user"]:checked').first.uncheck()
    expect(p.get_by_text("19 of 20 selected.")).to_be_visible()
    expect(p.locator('input[type="checkbox"][name="user"]:disabled')).to_have_count(0)


def test_more_than_20_selected_without_javascript_is_said_before_filling_in(browser):
    from conftest import SCREENSHOTS, URL, sign_in_page
    tag = uuid.uuid4().hex[:6]
    for i in range(21):
        new_user(name=f"Nlim{tag}x{i:02d}")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        p = context.new_page()
        sign_in_page(p)
        p.goto(URL + f"/users?q=Nlim{tag}")
        expect(p.get_by_text("Select up to 20 users in the table first.")).to_be_visible()
        boxes = p.locator('input[type="checkbox"][name="user"]')
        for i in range(21):
            boxes.nth(i).check()
        p.get_by_role("button", name="Manage product licenses").click()
        expect(p.get_by_role("alert")).to_contain_text(
            "You selected 21 users; Manage product licenses takes at most 20 at a time.")
        p.screenshot(path=f"{SCREENSHOTS}/test_more_than_20_selected_without_javascript.png", full_page=True)
    finally:
        context.close()


def test_a_global_reader_sees_no_buttons_that_change_anything(tab):
    reader = new_user(roles=["GlobalReader"], name="Reader")
    other = new_user(name="Seen")
    sign_in(tab, reader)
    tab.goto(f"/users?q={other}")
    p = tab.page
    expect(row_of(p, other)).to_be_visible()
    expect(p.get_by_role("link", name="Add a user")).to_have_count(0)
    expect(p.get_by_role("link", name="Upload users (CSV)")).to_have_count(0)
    expect(p.get_by_role("button", name="Manage product licenses")).to_have_count(0)
    expect(p.get_by_role("checkbox")).to_have_count(0)
    tab.shot("list")
    p.get_by_role("link", name=re.compile("^Seen ")).click()
    expect(p.get_by_role("heading", name="Licenses and apps")).to_be_visible()
    # Only the Search form and Sign out remain: nothing on this page changes anything.
    buttons = [b.strip() for b in p.get_by_role("button").all_inner_texts()]
    assert buttons == ["Sign out"], buttons
    expect(p.get_by_role("textbox")).to_have_count(0)
    tab.shot()
    # The address of a form page is refused too.
    r = tab.goto("/users/new")
    assert r.status == 403
    r = tab.goto("/users/import")
    assert r.status == 403
    refused_as_asked(tab, 403)


def test_a_license_admin_changes_licenses_but_not_users(tab):
    admin = new_user(roles=["LicenseAdmin"], name="Licadmin")
    other = new_user(name="Target")
    sign_in(tab, admin)
    tab.goto(f"/users?q={other}")
    p = tab.page
    expect(p.get_by_role("link", name="Add a user")).to_have_count(0)
    expect(p.get_by_role("button", name="Manage product licenses")).to_be_visible()
    p.get_by_role("link", name=re.compile("^Target ")).click()
    expect(p.get_by_role("button", name="Save changes")).to_be_visible()
    expect(p.get_by_role("button", name="Save usage location")).to_be_visible()
    expect(p.get_by_role("button", name="Delete user")).to_have_count(0)
    tab.shot()


def test_licensing_a_guest_needs_a_global_admin(tab):
    buy("CHAT_ESSENTIALS", 1)
    tag = uuid.uuid4().hex[:8]
    guest = f"guest-{tag}@fabrikam.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": f"Guest {tag}", "mailNickname": f"g{tag}",
        "userPrincipalName": guest, "userType": "Guest", "usageLocation": "US"})
    assert status == 201, body
    admin = new_user(roles=["UserAdmin"], name="Useradmin")
    sign_in(tab, admin)
    tab.goto(f"/users?q=Guest {tag}&filter=guests")
    p = tab.page
    expect(row_of(p, guest)).to_contain_text("Guest")
    p.get_by_role("link", name=f"Guest {tag}").click()
    chat = p.get_by_role("group", name=re.compile("^Chat Essentials"))
    chat.get_by_role("checkbox", name="Chat Essentials").check()
    p.get_by_role("button", name="Save changes").click()
    expect(p.get_by_role("alert")).to_contain_text("Global admin")
    tab.shot()
    assert held(guest) == []
    refused_as_asked(tab, 400)


def test_a_display_name_with_markup_shows_as_text(tab):
    tag = uuid.uuid4().hex[:8]
    upn = f"xss-{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": f"<script>alert({tag})</script>", "mailNickname": f"x{tag}",
        "userPrincipalName": upn, "usageLocation": "US"})
    assert status == 201, body
    sign_in(tab)
    tab.goto(f"/users?q={upn}")
    p = tab.page
    expect(p.get_by_role("link", name=f"<script>alert({tag})</script>")).to_be_visible()
    tab.shot()


def test_active_users_readable_on_a_phone(tab):
    tab.page.set_viewport_size({"width": 390, "height": 844})
    sign_in(tab)
    tab.goto("/users")
    p = tab.page
    expect(p.get_by_role("heading", name="Active users")).to_be_visible()
    assert p.evaluate("document.documentElement.scrollWidth") <= 390
    tab.shot()


def test_manage_product_licenses_assign_more_with_a_plan_off_then_unassign_all(tab):
    buy("CHAT_ESSENTIALS", 1)
    buy("MAIL_PLAN1", 1)
    tag = uuid.uuid4().hex[:6]
    upn = new_user(name=f"More{tag}")
    assign(upn, "MAIL_PLAN1")
    sign_in(tab)
    tab.goto(f"/users?q=More{tag}")
    p = tab.page
    p.get_by_label(f"Select More{tag}").check()
    p.get_by_role("button", name="Manage product licenses").click()
    expect(p.get_by_label("Assign more")).to_be_checked()
    chat = p.get_by_role("group", name=re.compile("^Chat Essentials"))
    chat.get_by_role("checkbox", name="Chat Essentials").check()
    chat.get_by_label("Whiteboard").uncheck()
    p.get_by_role("button", name="Save changes").click()
    expect(p.get_by_role("status")).to_contain_text("1 user was assigned Chat Essentials.")
    expect(row_of(p, upn)).to_contain_text("Mail (Plan 1), Chat Essentials")
    assert held(upn) == ["CHAT_ESSENTIALS", "MAIL_PLAN1"]
    status, body = api("GET", f"/v1.0/users/{upn}/licenseDetails")
    chat_plans = next(d for d in body["value"] if d["skuPartNumber"] == "CHAT_ESSENTIALS")["servicePlans"]
    assert {s["servicePlanName"]: s["provisioningStatus"] for s in chat_plans}["WHITEBOARD"] == "Disabled"
    tab.shot("assigned")
    p.get_by_label(f"Select More{tag}").check()
    p.get_by_role("button", name="Manage product licenses").click()
    p.get_by_label("Unassign all").check()
    p.get_by_role("button", name="Save changes").click()
    expect(p.get_by_role("heading", name=f"Remove all 2 licenses from More{tag} ")).to_be_visible()
    tab.shot("asked")
    assert held(upn) == ["CHAT_ESSENTIALS", "MAIL_PLAN1"]
    p.get_by_role("button", name="Unassign all").click()
    expect(p.get_by_role("status")).to_contain_text("Every license was removed from 1 user.")
    expect(row_of(p, upn)).to_contain_text("Unlicensed")
    tab.shot()
    assert held(upn) == []


def test_search_finds_a_user_by_the_start_of_their_user_name(tab):
    tag = uuid.uuid4().hex[:8]
    upn = f"qx{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": f"Quinn Example {tag}",
        "mailNickname": f"qx{tag}", "userPrincipalName": upn, "usageLocation": "US",
    })
    assert status == 201, body
    sign_in(tab)
    tab.goto(f"/users?q=qx{tag}")
    expect(tab.page.get_by_role("link", name=f"Quinn Example {tag}")).to_be_visible()
    tab.shot()


def test_the_users_table_at_390_px_keeps_a_long_name_and_the_licenses_in_view(tab):
    tag = uuid.uuid4().hex[:8]
    name = f"Narrow{tag} " + "Maximiliana Theodora Wolfeschlegelsteinhausenbergerdorff " * 3
    name = name[:120]
    assert len(name) == 120
    upn = f"narrow-{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": name, "mailNickname": f"n{tag}",
        "userPrincipalName": upn, "usageLocation": "US"})
    assert status == 201, body
    buy("SUITE_BASIC", 1)
    assign(upn, "SUITE_BASIC")
    sign_in(tab)
    p = tab.page
    p.set_viewport_size({"width": 390, "height": 844})
    tab.goto(f"/users?q=Narrow{tag}")
    row = row_of(p, upn)
    expect(row).to_have_count(1)
    cell = row.get_by_role("cell").filter(has_text=license_row("SUITE_BASIC")["productName"])
    expect(cell).to_be_visible()
    expect(cell).to_be_in_viewport()
    box = cell.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390, box
    # No sideways scrolling: the table fits its box.
    assert p.locator(".users-table").evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")
    # The name links to the user's page, where it is shown whole.
    link = row.get_by_role("link", name=name)
    expect(link).to_be_visible()
    tab.shot("narrow")
    link.click()
    expect(p.get_by_role("heading", name=name)).to_be_visible()


def test_saving_a_user_another_tab_deleted_says_so_in_our_words(tab):
    upn = new_user(name="Adele", usage_location="US")
    status, body = api("GET", f"/v1.0/users/{upn}")
    name = body["displayName"]
    sign_in(tab)
    p = tab.page
    tab.goto(f"/users?q={upn}")
    p.get_by_role("link", name=name).click()
    status, body = api("DELETE", f"/v1.0/users/{upn}")
    assert status == 204, body
    p.get_by_label("Usage location").fill("NO")
    p.get_by_role("button", name="Save usage location").click()
    expect(p.get_by_text(f"{name} was deleted; nothing was saved.")).to_be_visible()
    expect(p.get_by_text("does not exist or one of its")).to_have_count(0)
    tab.shot()
    refused_as_asked(tab, 404)
    p.get_by_role("link", name="Back to Active users").click()
    expect(p.get_by_role("heading", name="Active users")).to_be_visible()
