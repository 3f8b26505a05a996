"""Your products: buy licenses, add or remove them (a refusal shown in words), cancel inside the
7-day window, and what a Global reader sees."""

import os
import re
import uuid

from conftest import SCREENSHOTS, api, new_user, sign_in
from playwright.sync_api import expect


def sku_of(part):
    status, body = api("GET", "/v1.0/subscribedSkus")
    assert status == 200, body
    for s in body["value"]:
        if s["skuPartNumber"] == part:
            return s
    raise AssertionError(f"no subscribed product {part}")


def buy_on_page(tab, product, quantity, frequency="Monthly"):
    """Buys licenses with the page's form; returns the new subscription's path."""
    p = tab.page
    tab.goto("/products")
    p.get_by_label("Product").select_option(label=product)
    p.get_by_label("Quantity").fill(str(quantity))
    p.get_by_label("Billing frequency").select_option(label=frequency)
    p.get_by_role("button", name="Buy licenses").click()
    licenses = "1 license" if int(quantity) == 1 else f"{quantity} licenses"
    expect(p.get_by_role("status")).to_contain_text(f"Bought {licenses} of {product}, billed {frequency.lower()}.")
    expect(p).to_have_url(re.compile(r"/products/[0-9a-f-]{36}$"))
    return p.url


def test_buy_then_cancel_inside_the_window_takes_effect_now(tab):
    sign_in(tab)
    p = tab.page
    url = buy_on_page(tab, "Diagrams (Plan 2)", 3)
    expect(p.get_by_role("heading", name="Diagrams (Plan 2)", level=1)).to_be_visible()
    expect(p.locator(".facts")).to_contain_text("Active")
    # Before confirming, the page says what cancelling does now: at once, with a refund.
    effect = p.locator("#cancel-effect")
    expect(effect).to_contain_text("within the cancellation window")
    expect(effect).to_contain_text("takes effect now")
    expect(effect).to_contain_text("prorated refund")
    tab.shot("before-cancel")
    p.get_by_label("Reason for cancelling").select_option(label="No longer needed")
    p.get_by_role("button", name="Cancel subscription").click()
    # The server asks first, saying what happens; nothing is cancelled yet.
    expect(p.get_by_role("heading", name="Cancel Diagrams (Plan 2) (3 licenses)?")).to_be_visible()
    expect(p.get_by_text("takes effect now", exact=False)).to_be_visible()
    expect(p.get_by_text("Reason: No longer needed.")).to_be_visible()
    tab.shot("asked")
    p.get_by_role("button", name="Cancel subscription").click()
    expect(p.get_by_role("status")).to_contain_text("Diagrams (Plan 2) is cancelled: it is disabled now")
    expect(p.locator(".facts")).to_contain_text("Disabled")
    expect(p.locator(".facts")).to_contain_text("cancelled: No longer needed")
    # No second cancellation is offered; reactivating is.
    expect(p.get_by_role("button", name="Cancel subscription")).to_have_count(0)
    expect(p.get_by_role("button", name="Reactivate")).to_be_visible()
    tab.shot("cancelled")
    # The list shows it as disabled, with recurring billing off.
    tab.goto("/products")
    sub_id = url.rsplit("/", 1)[1]
    row = p.locator("tr", has=p.locator(f'a[href="/products/{sub_id}"]'))
    expect(row).to_contain_text("Disabled")
    expect(row).to_contain_text("Off")
    tab.shot("list")

    # Reactivating brings it back, with recurring billing on.
    row.get_by_role("link").click()
    p.get_by_role("button", name="Reactivate").click()
    expect(p.get_by_role("status")).to_contain_text("Diagrams (Plan 2) is active again")
    expect(p.locator(".facts")).to_contain_text("Active")
    tab.shot("reactivated")


def test_add_and_remove_licenses_and_a_refusal_below_what_is_assigned(tab):
    sign_in(tab)
    p = tab.page
    buy_on_page(tab, "Projects (Plan 3)", 3)
    quantity = p.get_by_label("New total number of licenses")
    quantity.fill("5")
    p.get_by_role("button", name="Update total").click()
    expect(p.get_by_role("status")).to_contain_text("Projects (Plan 3) now has 5 licenses.")
    expect(p.locator(".facts")).to_contain_text("5")

    # Assign every license of the product but one, so that removing two would go below.
    sku = sku_of("PROJECTS_PLAN3")
    free = sku["prepaidUnits"]["enabled"] - sku["consumedUnits"]
    for _ in range(free - 1):
        upn = new_user()
        status, body = api("POST", f"/v1.0/users/{upn}/assignLicense", {
            "addLicenses": [{"skuId": sku["skuId"], "disabledPlans": []}], "removeLicenses": []})
        assert status == 200, body
    tab.page.reload()
    quantity.fill("3")
    p.get_by_role("button", name="Update total").click()
    error = p.locator("#quantity-error")
    expect(error).to_contain_text("licenses assigned; this change would leave")
    expect(error).to_contain_text("Enter a total of at least 4")
    expect(quantity).to_have_value("3")
    expect(p.locator(".facts")).to_contain_text("5")
    tab.shot("refused")
    # The browser logs the refusal's 400 itself; that is what this step asked for.
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]

    quantity.fill("4")
    p.get_by_role("button", name="Update total").click()
    expect(p.get_by_role("status")).to_contain_text("Projects (Plan 3) now has 4 licenses.")
    tab.shot("removed")


def test_recurring_billing_off_and_on(tab):
    sign_in(tab)
    p = tab.page
    buy_on_page(tab, "Mail (Plan 2)", 2, "Annual")
    p.get_by_role("button", name="Turn off recurring billing").click()
    expect(p.get_by_role("status")).to_contain_text("Recurring billing is off: Mail (Plan 2) ends on")
    p.get_by_role("button", name="Turn on recurring billing").click()
    expect(p.get_by_role("status")).to_contain_text("Recurring billing is on")
    tab.shot()


def test_a_global_reader_sees_no_buttons_that_change_anything(tab):
    reader = new_user(roles=["GlobalReader"], name="Reader")
    sign_in(tab, reader)
    p = tab.page
    tab.goto("/products")
    expect(p.get_by_role("heading", name="Your products")).to_be_visible()
    expect(p.locator("tbody tr").first).to_be_visible()
    expect(p.get_by_role("button", name="Buy licenses")).to_have_count(0)
    expect(p.locator('main form[method="post"]')).to_have_count(0)
    tab.shot("list")
    p.locator("tbody tr a").first.click()
    expect(p.locator(".facts")).to_be_visible()
    expect(p.locator("main button")).to_have_count(0)
    expect(p.locator('main form[method="post"]')).to_have_count(0)
    tab.shot("subscription")


def test_these_pages_are_readable_on_a_phone(tab):
    tag = uuid.uuid4().hex[:8]
    # Long names without spaces wrap instead of widening the page.
    long_group = "G" * 248 + tag
    status, g = api("POST", "/v1.0/groups", {"displayName": long_group, "mailEnabled": False,
                                             "mailNickname": f"long{tag}", "securityEnabled": True})
    assert status == 201, g
    upn = new_user(name="Phone" + "x" * 60 + tag)
    chat = "7e31c0d9-9551-471d-836f-32ee72be4a01"  # Chat Essentials
    status, body = api("POST", f"/api/v1/licenses/{chat}/assign", {"users": [upn]})
    assert status < 300, body
    sign_in(tab)
    p = tab.page
    p.set_viewport_size({"width": 390, "height": 844})
    tab.goto("/settings")
    p.get_by_label("Token name").fill("T" * 92 + tag)
    p.get_by_role("button", name="Create token").click()
    expect(p.get_by_role("status")).to_contain_text("was created")
    # Tables stack into labelled lines: nothing scrolls sideways, not even inside its own box.
    fits = ("document.documentElement.scrollWidth <= 390 && "
            "[...document.querySelectorAll('main .table-wrap')].every(w => w.scrollWidth <= w.clientWidth)")
    for path in ["/products", "/groups", "/audit", "/settings", f"/groups/{g['id']}",
                 f"/licenses/{chat}?search=Phone"]:
        tab.goto(path)
        expect(p.locator("h1")).to_be_visible()
        assert p.evaluate("document.documentElement.scrollWidth") <= 390, path
        if path != "/groups":
            assert p.evaluate(fits), path
        if path == "/products":
            expect(p.locator("table.products td[data-label='Status']").first).to_be_visible()
        if path == "/audit":
            expect(p.locator("td[data-label='Actor']").first).to_be_visible()
        if path == "/settings":
            revoke = p.get_by_role("button", name="Revoke " + "T" * 92 + tag)
            revoke.scroll_into_view_if_needed()
            box = revoke.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        if path.startswith("/licenses/"):
            expect(p.locator("td[data-label='User name']").filter(has_text=upn)).to_be_visible()
        # What fits on the first screen, as a person holding the phone sees it.
        name = path.strip("/").split("?")[0].replace("/", "-")
        p.screenshot(path=os.path.join(SCREENSHOTS, f"phone-{name}.png"))
    # The CSV import's rows to fix.
    tab.goto("/users/import")
    p.get_by_label("CSV file of users").set_input_files(files=[{
        "name": "users.csv", "mimeType": "text/csv",
        "buffer": (f"userPrincipalName,displayName,usageLocation,accountEnabled\n"
                   f"not-an-address-{tag}{'y' * 60},Bad Row,ZZ9,maybe\n").encode()}])
    p.get_by_role("button", name="Upload").click()
    expect(p.locator("td[data-label='Problem']").first).to_be_visible()
    assert p.evaluate(fits), "import"
    p.screenshot(path=os.path.join(SCREENSHOTS, "phone-import.png"))
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]
