"""Home: for admins, licenses at a glance and what needs attention; for an end user, their own
page (licenses, apps and services, API tokens) and no admin pages."""

from datetime import datetime, timedelta

from conftest import api, new_user, sign_in
from playwright.sync_api import expect

BI_PRO = "f8a1db68-be16-40ed-86d5-cb42ce701560"
SUITE_BASIC = "3b555118-da6a-4418-894f-7df1e2096870"
PROJECTS = "09015f9f-377f-4538-bbb5-f75ceb09358a"


def test_the_admin_home_shows_licenses_and_what_needs_attention(tab):
    # A product with every license assigned, and a subscription ending without recurring billing.
    status, body = api("GET", "/api/v1/licenses")
    row = [r for r in body["value"] if r["skuId"] == BI_PRO]
    free = row[0]["available"] if row else 0
    users = [new_user(name="Analyst") for _ in range(free + 1)]
    status, body = api("POST", "/api/v1/subscriptions",
                       {"skuId": BI_PRO, "quantity": 1, "billingFrequency": "monthly"})
    assert status == 201, body
    for i in range(0, len(users), 20):
        status, body = api("POST", f"/api/v1/licenses/{BI_PRO}/assign", {"users": users[i:i + 20]})
        assert status == 200, body
    status, sub = api("POST", "/api/v1/subscriptions",
                      {"skuId": PROJECTS, "quantity": 2, "billingFrequency": "monthly"})
    assert status == 201, sub
    status, body = api("PATCH", f"/api/v1/subscriptions/{sub['id']}", {"recurringBilling": False})
    assert status == 200, body

    sign_in(tab)
    p = tab.page
    tab.goto("/")
    expect(p.get_by_role("heading", name="Home")).to_be_visible()
    glance = p.get_by_role("region", name="Licenses at a glance")
    expect(glance.get_by_role("columnheader", name="Available")).to_be_visible()
    expect(glance.get_by_role("row").filter(has_text="Business intelligence Pro")).to_contain_text("0")
    attention = p.get_by_role("region", name="Needs attention")
    full = attention.get_by_role("listitem").filter(has_text="Business intelligence Pro")
    expect(full).to_contain_text("No licenses left")
    # "Ending soon" is the next 30 days; a monthly term can be 31 days long (bought on the 1st
    # of December, it ends on the 1st of January), and then it is not listed yet.
    status, sub = api("GET", f"/api/v1/subscriptions/{sub['id']}")
    assert status == 200, sub
    status, clock = api("GET", "/api/v1/dev/clock")
    assert status == 200, clock
    left = datetime.fromisoformat(sub["termEndDateTime"].replace("Z", "+00:00")) - \
        datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))
    ending = attention.get_by_role("listitem").filter(has_text=sub["commerceSubscriptionId"])
    if left <= timedelta(days=30):
        expect(ending).to_contain_text("recurring billing is off")
    else:
        expect(ending).to_have_count(0)
    tab.shot()
    full.get_by_role("link", name="See its users").click()
    expect(p.get_by_role("heading", name="Business intelligence Pro")).to_be_visible()
    expect(p.get_by_text("0 available")).to_be_visible()


def test_an_end_user_sees_their_own_page_and_not_the_admin_pages(tab):
    upn = new_user(name="Enduser")
    status, body = api("POST", "/api/v1/subscriptions",
                       {"skuId": SUITE_BASIC, "quantity": 1, "billingFrequency": "monthly"})
    assert status == 201, body
    status, body = api("POST", f"/api/v1/licenses/{SUITE_BASIC}/assign",
                       {"users": [upn], "disabledPlans": ["WHITEBOARD"]})
    assert status == 200, body
    sign_in(tab, upn)
    p = tab.page
    tab.goto("/")
    expect(p.get_by_role("heading", name="My account")).to_be_visible()
    expect(p.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(["My account", "Buy a product", "My products", "My requests", "Payment methods"])
    card = p.get_by_role("region", name="Suite Basic")
    expect(card.get_by_text("Chat and meetings: On")).to_be_visible()
    expect(card.get_by_text("Whiteboard: Off")).to_be_visible()

    # A new token is shown once; then it can be revoked.
    p.get_by_label("Token name").fill("my script")
    p.get_by_role("button", name="Create token").click()
    secret = p.get_by_label("New token").input_value()
    assert secret.startswith("sk_")
    status, mine = api("GET", f"/api/v1/users/{upn}/licenses", token=secret)
    assert status == 200, mine
    tab.shot("created")
    tab.goto("/")
    expect(p.get_by_label("New token")).to_have_count(0)
    p.get_by_role("button", name="Revoke my script").click()
    expect(p.get_by_role("heading", name="Revoke token 'my script'?")).to_be_visible()
    p.get_by_role("button", name="Revoke token").click()
    expect(p.get_by_role("status")).to_contain_text("Token 'my script' was revoked")
    expect(p.get_by_role("row").filter(has_text="my script")).to_contain_text("Revoked")
    status, _ = api("GET", f"/api/v1/users/{upn}/licenses", token=secret)
    assert status == 401

    r = tab.goto("/licenses")
    assert r.status == 403
    expect(p.get_by_text("This page is for admins")).to_be_visible()
    tab.shot()
    tab.console_errors = [e for e in tab.console_errors if "403" not in e]
