"""Self-service purchases: a Member buys or tries a product and gives a colleague a license; a
Guest is told why they cannot buy; an admin takes a purchase over with Move users and its
users show under the organization's product; a Global reader sees no Take over button."""

import re

from conftest import api, new_user, sign_in
from playwright.sync_api import expect

CHAT = "Chat Essentials"


CHAT_SKU = "7e31c0d9-9551-471d-836f-32ee72be4a01"


def sku_id(name):
    return {CHAT: CHAT_SKU}[name]


def display_name(upn):
    status, body = api("GET", f"/v1.0/users/{upn}")
    assert status == 200, body
    return body["displayName"]


def member_trial(upn, product_sku):
    """Starts `upn`'s trial of a product through the API with a token of their own."""
    status, body = api("POST", "/api/v1/tokens", {"userId": upn, "name": "self-service test"})
    assert status == 201, body
    status, body = api("POST", "/api/v1/me/trials", {"skuId": product_sku}, token=body["token"])
    assert status == 201, body
    return body


def start_trial_on_page(tab, product):
    p = tab.page
    p.get_by_role("navigation", name="Main").get_by_role("link", name="Buy a product").click()
    expect(p.get_by_role("heading", name="Buy a product", level=1)).to_be_visible()
    offer = p.get_by_role("region", name=product)
    expect(offer).to_contain_text("Free trial: 30 days, 10 licenses, no card needed.")
    expect(offer).to_contain_text("$4.00 per license/month")
    offer.get_by_role("button", name=f"Start trial of {product}").click()
    expect(p.get_by_role("status")).to_contain_text(f"Your trial of {product} started: 10 licenses until")
    expect(p.get_by_role("heading", name=product, level=1)).to_be_visible()


def test_a_member_buys_a_product_with_a_test_card(tab):
    buyer = new_user(name="Buyer")
    sign_in(tab, buyer)
    p = tab.page
    p.get_by_role("navigation", name="Main").get_by_role("link", name="Payment methods").click()
    form = p.get_by_role("region", name="Add a card")
    form.get_by_label("Card number").fill("4242 4242 4242 4242")
    form.get_by_label("Expiry month").fill("12")
    form.get_by_label("Expiry year").fill("2035")
    form.get_by_label("Security code").fill("123")
    form.get_by_label("Name on card").fill("Pat Buyer")
    form.get_by_label("Address line 1").fill("1 Main Street")
    form.get_by_label("City").fill("Springfield")
    form.get_by_label("Postal code").fill("12345")
    form.get_by_label("Country").fill("US")
    form.get_by_role("button", name="Add card").click()
    expect(p.get_by_role("status")).to_contain_text("Your card Visa ending 4242 was added.")
    tab.goto("/buy")
    offer = p.get_by_role("region", name="Suite Basic")
    offer.get_by_label("Quantity").fill("3")
    offer.get_by_label("Billing frequency").select_option(label="Annual")
    offer.get_by_label("Payment method").select_option(index=0)
    offer.get_by_role("button", name="Buy Suite Basic").click()
    expect(p.get_by_role("status")).to_contain_text("You bought 3 licenses of Suite Basic, billed annual.")
    tab.shot("bought")
    p.get_by_role("navigation", name="Main").get_by_role("link", name="My products").click()
    row = p.get_by_role("row").filter(has_text="Suite Basic")
    expect(row).to_contain_text("Paid")
    tab.shot("my products")


def test_a_member_starts_a_trial_assigns_a_colleague_and_cancels(tab):
    buyer = new_user(name="Buyer")
    colleague = new_user(name="Colleague")
    colleague_name = display_name(colleague)
    sign_in(tab, buyer)
    p = tab.page
    tab.goto("/")
    start_trial_on_page(tab, CHAT)
    tab.shot("trial started")

    p.get_by_role("link", name="Assign licenses").click()
    expect(p.get_by_role("heading", name="Assign licenses")).to_be_visible()
    p.get_by_label("Search people").fill(colleague_name)
    p.get_by_label(colleague_name).check()
    tab.shot("colleague picked")
    p.get_by_role("button", name="Assign", exact=True).click()
    expect(p.get_by_role("status")).to_contain_text("1 person was given a license.")
    people = p.get_by_role("region", name="People with a license")
    expect(people).to_contain_text(colleague_name)
    expect(p.locator(".facts")).to_contain_text("10 (2 assigned)")
    tab.shot("colleague assigned")

    status, body = api("GET", f"/api/v1/users/{colleague}/licenses")
    assert status == 200, body
    assert CHAT in str(body) or sku_id(CHAT) in str(body), body

    # My products lists it; cancelling asks first, then works.
    p.get_by_role("link", name="My products").first.click()
    row = p.get_by_role("row").filter(has_text=CHAT)
    expect(row).to_contain_text("Trial")
    expect(row).to_contain_text("Free trial")
    row.get_by_role("link", name=CHAT).click()
    p.get_by_label("Reason for cancelling").select_option(label="Bought by mistake")
    p.get_by_label("Feedback (optional)").fill("Only wanted to look.")
    p.get_by_role("button", name="Cancel subscription").click()
    expect(p.get_by_role("heading", name=f"Cancel {CHAT}?")).to_be_visible()
    expect(p.get_by_text("Reason: Bought by mistake.")).to_be_visible()
    tab.shot("cancel confirmation")
    p.get_by_role("button", name="Cancel subscription").click()
    expect(p.get_by_role("status")).to_contain_text(f"{CHAT} is cancelled")
    tab.shot("cancelled")


def member_token(upn):
    status, body = api("POST", "/api/v1/tokens", {"userId": upn, "name": "self-service test"})
    assert status == 201, body
    return body["token"]


def add_card(token, number):
    status, body = api("POST", "/api/v1/me/payment-methods", {
        "cardNumber": number, "expiryMonth": 12, "expiryYear": 2099, "securityCode": "123",
        "nameOnCard": "Card Changer",
        "billingAddress": {"line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
    }, token=token)
    assert status == 201, body
    return body["id"]


def test_a_purchaser_changes_the_payment_method_and_the_old_card_can_go(tab):
    buyer = new_user(name="Changer")
    token = member_token(buyer)
    old = add_card(token, "4242424242424242")
    new = add_card(token, "5555555555554444")
    status, sub = api("POST", "/api/v1/me/purchases", {
        "skuId": "MAIL_PLAN1", "quantity": 2, "billingFrequency": "monthly", "paymentMethodId": old,
    }, token=token)
    assert status == 201, sub
    status, body = api("DELETE", f"/api/v1/me/payment-methods/{old}", token=token)
    assert status == 409 and "change its payment method first" in str(body), body

    sign_in(tab, buyer)
    p = tab.page
    tab.goto(f"/my/products/{sub['id']}")
    section = p.get_by_role("region", name="Payment method")
    expect(section).to_contain_text("Charged to: Visa ending 4242")
    section.get_by_label("Card to charge from now on").select_option(value=new)
    tab.shot("change payment method")
    section.get_by_role("button", name="Change payment method").click()
    expect(p.get_by_role("status")).to_contain_text("Mail (Plan 1) is now charged to the card you chose.")
    expect(p.get_by_role("region", name="Payment method")).to_contain_text("ending 4444")
    tab.shot("payment method changed")
    status, body = api("DELETE", f"/api/v1/me/payment-methods/{old}", token=token)
    assert status == 204, body


def test_the_buy_page_says_what_a_product_needs(tab):
    buyer = new_user(name="Needer")
    sign_in(tab, buyer)
    p = tab.page
    tab.goto("/buy")
    offer = p.get_by_role("region", name="Diagrams (Plan 2)")
    expect(offer).to_contain_text("Diagrams (Plan 2) needs Files and sites (Enterprise), which you don't have")
    expect(offer.get_by_role("button", name="Buy Diagrams (Plan 2)")).to_have_count(0)
    tab.shot("buy page needs")


def test_a_guest_is_refused_with_the_words(tab):
    guest = new_user(name="Guest")
    status, body = api("PATCH", f"/v1.0/users/{guest}", {"userType": "Guest"})
    assert status == 204, body
    sign_in(tab, guest)
    p = tab.page
    tab.goto("/buy")
    offer = p.get_by_role("region", name=CHAT)
    expect(offer).to_contain_text("Guest users cannot buy products or start trials in this organization.")
    expect(offer.get_by_role("button", name=f"Start trial of {CHAT}")).to_have_count(0)
    tab.shot("guest sees why")


def test_an_admin_takes_over_with_move_users(tab):
    buyer = new_user(name="Purchaser")
    colleague = new_user(name="Teammate")
    chat = sku_id(CHAT)
    sub = member_trial(buyer, chat)
    # The purchaser gives a colleague a license (their own API; the pages do the same).
    status, body = api("POST", "/api/v1/tokens", {"userId": buyer, "name": "assign"})
    assert status == 201, body
    status, body = api("POST", f"/api/v1/subscriptions/{sub['id']}/assign",
                       {"userIds": [colleague]}, token=body["token"])
    assert status == 200, body
    status, body = api("POST", "/api/v1/subscriptions",
                       {"skuId": chat, "quantity": 2, "billingFrequency": "monthly"})
    assert status == 201, body

    sign_in(tab)
    p = tab.page
    tab.goto("/products")
    p.get_by_role("navigation", name="Filter subscriptions").get_by_role("link", name="Self-service").click()
    buyer_name = display_name(buyer)
    row = p.get_by_role("row").filter(has_text=buyer_name)
    expect(row).to_contain_text(CHAT)
    expect(row).to_contain_text(display_name(colleague))
    tab.shot("self-service purchases")
    row.get_by_role("link", name=re.compile("^Take over")).click()
    expect(p.get_by_role("heading", name=f"Take over {CHAT}")).to_be_visible()
    target = p.get_by_label("Move users to")
    # Only sensible targets: the same product and products with all of its services, no add-ons.
    expect(target.locator("option", has_text="Phone system")).to_have_count(0)
    expect(target.locator("option", has_text="Suite Basic")).to_contain_text("free,")
    target.select_option(value=chat)
    expect(target.locator("option:checked")).to_contain_text("2 needed")
    tab.shot("take over")
    p.get_by_role("button", name="Move users").click()
    expect(p.get_by_text("2 users move to the organization's Chat Essentials licenses")).to_be_visible()
    p.get_by_role("button", name="Move users").click()
    expect(p.get_by_role("status")).to_contain_text("was taken over: its users now have the organization's Chat Essentials licenses.")
    expect(p.get_by_role("heading", name=CHAT, level=1)).to_be_visible()

    for upn in (buyer, colleague):
        tab.goto(f"/licenses/{chat}?search={display_name(upn)}")
        expect(p.get_by_role("row").filter(has_text=upn)).to_have_count(1)
    tab.shot("moved to central")

    status, body = api("GET", f"/api/v1/subscriptions/{sub['id']}")
    assert status == 200 and body["status"] == "Deleted", body

    # The self-service filter of Licenses no longer lists those users.
    tab.goto("/licenses?origin=self-service")
    expect(p.get_by_text(buyer_name)).to_have_count(0)


def test_a_global_reader_sees_purchases_and_no_take_over_button(tab):
    buyer = new_user(name="Shopper")
    member_trial(buyer, sku_id(CHAT))
    reader = new_user(roles=["GlobalReader"], name="Reader")
    sign_in(tab, reader)
    p = tab.page
    tab.goto("/products?origin=self-service")
    row = p.get_by_role("row").filter(has_text=display_name(buyer))
    expect(row).to_contain_text(CHAT)
    expect(p.get_by_role("link", name=re.compile("Take over"))).to_have_count(0)
    expect(p.get_by_role("button")).to_have_count(1)  # Sign out only
    tab.goto("/licenses?origin=self-service")
    expect(p.get_by_role("heading", name=f"{CHAT}: users")).to_be_visible()
    expect(p.get_by_role("link", name="Export users").first).to_be_visible()
    tab.shot("reader view")


def test_the_self_service_pages_are_readable_at_390_pixels(tab):
    buyer = new_user(name="Narrow")
    sub = member_trial(buyer, CHAT_SKU)
    sign_in(tab, buyer)
    p = tab.page
    p.set_viewport_size({"width": 390, "height": 844})
    for path in ("/buy", "/my/products", f"/my/products/{sub['id']}", f"/my/products/{sub['id']}/assign"):
        tab.goto(path)
        assert p.evaluate("document.documentElement.scrollWidth") <= 390, path
    tab.shot("my subscription at 390")
    tab.goto("/buy")
    tab.shot("buy at 390")


def test_take_over_offers_no_ask_to_cancel_when_the_purchaser_left(tab):
    buyer = new_user(name="Leaver")
    sub = member_trial(buyer, sku_id(CHAT))
    status, body = api("PATCH", f"/v1.0/users/{buyer}", {"accountEnabled": False})
    assert status in (200, 204), body
    sign_in(tab)
    p = tab.page
    tab.goto(f"/products/{sub['id']}/take-over")
    expect(p.get_by_role("heading", name=f"Take over {CHAT}")).to_be_visible()
    expect(p.get_by_text("Purchaser has left", exact=True)).to_be_visible()
    expect(p.get_by_text("The purchaser has left the organization; move the users or cancel instead.")).to_be_visible()
    expect(p.get_by_role("button", name="Ask to cancel")).to_have_count(0)
    expect(p.get_by_role("button", name="Move users")).to_be_visible()
    tab.shot("take over, purchaser left")
