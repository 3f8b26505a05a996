"""License requests: a Member whom the purchase policy stops from buying requests a license for
themselves and a colleague and sees it in My requests; an admin approves one and denies the
other through a security group (the approved user ends up licensed); the organization's own
request process shows its message to the Member; a Global reader sees a request without the
controls; an admin shares a request by e-mail."""

import email
import glob
import os
import re
import time
import uuid

from conftest import api, new_user, sign_in
from playwright.sync_api import expect

PRODUCT = "Projects (Plan 3)"
PROJECTS = "09015f9f-377f-4538-bbb5-f75ceb09358a"


def policy(value):
    """Sets the purchase policy of Projects (Plan 3); returns the value it had."""
    status, catalog = api("GET", "/api/v1/catalog")
    assert status == 200, catalog
    pid = next(p["productId"] for p in catalog["products"] if p["skuId"] == PROJECTS)
    status, body = api("GET", f"/api/v1/policies/AllowSelfServicePurchase/products/{pid}")
    assert status == 200, body
    before = body["policyValue"]
    status, body = api("PUT", f"/api/v1/policies/AllowSelfServicePurchase/products/{pid}",
                       {"policyValue": value})
    assert status == 200, body
    return before


def restore(before):
    status, catalog = api("GET", "/api/v1/catalog")
    pid = next(p["productId"] for p in catalog["products"] if p["skuId"] == PROJECTS)
    api("PUT", f"/api/v1/policies/AllowSelfServicePurchase/products/{pid}", {"policyValue": before})


def member_token(upn):
    status, body = api("POST", "/api/v1/tokens", {"userId": upn, "name": "requests test"})
    assert status == 201, body
    return body["token"]


def submit_by_api(upn, others=()):
    status, body = api("POST", "/api/v1/me/license-requests",
                       {"skuId": PROJECTS, "otherUserIds": list(others)}, token=member_token(upn))
    assert status == 201, body
    return body


def display_name(upn):
    status, body = api("GET", f"/v1.0/users/{upn}")
    assert status == 200, body
    return body["displayName"]


def holds(upn, sku):
    status, body = api("GET", f"/v1.0/users/{upn}?$select=assignedLicenses")
    assert status == 200, body
    return any(a["skuId"] == sku for a in body["assignedLicenses"])


def test_a_member_blocked_by_policy_requests_for_themselves_and_a_colleague_and_an_admin_decides_through_a_group(tab):
    before = policy("Disabled")
    try:
        asker = new_user(name="Asker")
        colleague = new_user(name="Colleague")
        sign_in(tab, asker)
        p = tab.page
        p.get_by_role("navigation", name="Main").get_by_role("link", name="Buy a product").click()
        offer = p.get_by_role("region", name=PRODUCT)
        expect(offer).to_contain_text("does not allow buying")
        offer.get_by_role("link", name=f"Request a license for {PRODUCT}").click()
        expect(p.get_by_role("heading", name="Request a license", level=1)).to_be_visible()
        # Type to search Members; the one found is picked.
        p.get_by_label("Search colleagues to include").fill(display_name(colleague))
        p.locator("#colleague-results").get_by_label(display_name(colleague)).check()
        expect(p.locator("#picked-colleagues")).to_contain_text(colleague)
        p.get_by_label("Note for your admin (optional)").fill("For the <roadmap> project")
        tab.shot("form")
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("status")).to_contain_text(f"You requested {PRODUCT} for 2 people.")
        expect(p.get_by_role("heading", name="My requests", level=1)).to_be_visible()
        row = p.get_by_role("row").filter(has_text=PRODUCT).first
        expect(row).to_contain_text("Pending")
        expect(row).to_contain_text("2")
        tab.shot("my requests")

        # A second request for the same product: the API's words and a link to the open one.
        tab.goto(f"/buy/{PROJECTS}/request")
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("alert")).to_contain_text("You already have an open request for")
        tab.console_errors = [e for e in tab.console_errors if "status of 409" not in e]
        p.get_by_role("link", name="See your open request").click()
        expect(p.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
        expect(p.get_by_role("button", name="Submit")).to_have_count(0)
        tab.shot("open request")

        # The admin: a group carrying the product, and licenses to give.
        status, body = api("POST", "/api/v1/subscriptions",
                           {"skuId": PROJECTS, "quantity": 2, "billingFrequency": "monthly"})
        assert status == 201, body
        tag = uuid.uuid4().hex[:6]
        status, g = api("POST", "/v1.0/groups", {"displayName": f"Projects {tag}", "mailEnabled": False,
                                                 "mailNickname": f"p{tag}", "securityEnabled": True})
        assert status == 201, g
        status, body = api("POST", f"/v1.0/groups/{g['id']}/assignLicense",
                           {"addLicenses": [{"skuId": PROJECTS, "disabledPlans": []}], "removeLicenses": []})
        assert status == 202, body

        p.context.clear_cookies()
        sign_in(tab)
        tab.goto("/licenses")
        p.get_by_role("navigation", name="Filter licenses").get_by_role("link", name="Requests").click()
        expect(p.get_by_role("link", name="Pending")).to_have_attribute("aria-current", "page")
        row = p.get_by_role("row").filter(has_text=asker).first
        expect(row).to_contain_text(PRODUCT)
        tab.shot("requests")
        row.get_by_role("link", name=PRODUCT).click()
        expect(p.get_by_text("For the <roadmap> project")).to_be_visible()
        p.get_by_label(f"Decision for {display_name(asker)}").select_option(label="Approve")
        p.get_by_label(f"Decision for {display_name(colleague)}").select_option(label="Deny")
        expect(p.get_by_label("Select a product")).to_contain_text("free license")
        p.get_by_label("Assign licenses by adding approved people to this security group").select_option(
            label=f"Projects {tag} (carries PROJECTS_PLAN3)")
        p.get_by_label("Message to the users (optional)").fill("One seat for now.")
        tab.shot("decision form")
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("status")).to_contain_text("was decided: partly approved")
        decision = p.get_by_role("region", name="Decision: Partly approved")
        expect(decision).to_contain_text(f"Projects {tag}")
        expect(decision).to_contain_text("One seat for now.")
        expect(p.get_by_role("button", name="Submit")).to_have_count(0)
        tab.shot("decided")

        # Group processing licenses the approved user.
        for _ in range(60):
            if holds(asker, PROJECTS):
                break
            time.sleep(0.5)
        assert holds(asker, PROJECTS)
        assert not holds(colleague, PROJECTS)
    finally:
        restore(before)


def test_the_organizations_own_process_shows_its_message_to_the_member(tab):
    before = policy("Disabled")
    status, old = api("GET", "/api/v1/settings/license-requests")
    assert status == 200, old
    try:
        sign_in(tab)
        p = tab.page
        tab.goto("/licenses/requests")
        p.get_by_role("link", name="Connect to your request process").click()
        p.get_by_label("Use my organization's request process").check()
        p.get_by_label("Message", exact=True).fill("Open a ticket with the <IT> desk.")
        p.get_by_label("Link to documentation (optional)").fill("https://intranet.example.com/licenses")
        tab.shot("settings")
        p.get_by_role("button", name="Save").click()
        expect(p.get_by_role("status")).to_contain_text("Saved: users now see your organization's request process")
        expect(p.locator("#own-process")).to_contain_text("You're using your own license request process")
        tab.shot("banner")

        member = new_user(name="Member")
        p.context.clear_cookies()
        sign_in(tab, member)
        tab.goto("/buy")
        p.get_by_role("region", name=PRODUCT).get_by_role("link", name=f"Request a license for {PRODUCT}").click()
        expect(p.locator("#process-message")).to_have_text("Open a ticket with the <IT> desk.")
        expect(p.get_by_role("link", name=f"Read how to request {PRODUCT}")).to_have_attribute(
            "href", "https://intranet.example.com/licenses")
        expect(p.get_by_role("button", name="Submit")).to_have_count(0)
        tab.shot("own process")
    finally:
        api("PUT", "/api/v1/settings/license-requests", {"useOrganizationProcess": False})
        restore(before)


def mail_to(recipient):
    """The subject and text of the newest e-mail to `recipient` (from the .eml files)."""
    files = sorted(glob.glob(os.path.join(os.environ["SEATKEEPER_DATA"], "mail", "*.eml")),
                   key=os.path.getmtime, reverse=True)
    for f in files:
        with open(f, "rb") as fh:
            msg = email.message_from_bytes(fh.read())
        if recipient.lower() in (msg["To"] or "").lower():
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    return msg["Subject"], part.get_payload(decode=True).decode()
    return None


def test_a_global_reader_sees_a_request_without_controls_and_an_admin_shares_it(tab):
    before = policy("Disabled")
    try:
        asker = new_user(name="Asker")
        req = submit_by_api(asker)
        reader = new_user(roles=["GlobalReader"], name="Reader")
        sign_in(tab, reader)
        p = tab.page
        tab.goto("/licenses/requests")
        p.get_by_role("row").filter(has_text=asker).first.get_by_role("link", name=PRODUCT).click()
        expect(p.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
        expect(p.get_by_text(asker).first).to_be_visible()
        expect(p.get_by_role("button", name="Submit")).to_have_count(0)
        expect(p.get_by_role("link", name="Share request")).to_have_count(0)
        tab.shot("reader")
        # The reader's forged share is refused by the server too.
        tab.goto(f"/licenses/requests/{req['id']}/share")
        expect(p.get_by_role("heading", name="Share request")).to_have_count(0)
        tab.console_errors = [e for e in tab.console_errors if "status of 403" not in e]

        recipient = new_user(name="Budget")
        p.context.clear_cookies()
        sign_in(tab)
        tab.goto(f"/licenses/requests/{req['id']}")
        p.get_by_role("link", name="Share request").click()
        # A bad recipient is named and nothing is sent.
        p.get_by_label("Recipients (user names or e-mail addresses, one per line or comma separated)").fill(
            f"{recipient}, nobody-{uuid.uuid4().hex[:6]}@nowhere.example")
        p.get_by_role("button", name="Send").click()
        expect(p.get_by_role("alert")).to_contain_text("nowhere.example")
        tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]
        tab.shot("bad recipient")
        p.get_by_label("Recipients (user names or e-mail addresses, one per line or comma separated)").fill(recipient)
        p.get_by_label("Subject (optional)").fill(f"Budget check {req['id'][:8]}")
        p.get_by_label("Message (optional)").fill("Is this in the budget?")
        p.get_by_role("button", name="Send").click()
        expect(p.get_by_role("status")).to_contain_text(f"The request was shared with {recipient}.")
        expect(p.get_by_role("region", name="Recommendations")).to_contain_text("No answer yet")
        tab.shot("shared")
        status, body = api("POST", "/api/v1/dev/jobs/run")
        assert status == 200, body
        subject, text = mail_to(recipient)
        assert subject == f"Budget check {req['id'][:8]}", subject
        assert "Is this in the budget?" in text
    finally:
        restore(before)


def test_the_request_pages_are_readable_at_390_pixels(tab):
    before = policy("Disabled")
    try:
        asker = new_user(name="Narrow")
        req = submit_by_api(asker)
        p = tab.page
        p.set_viewport_size({"width": 390, "height": 800})
        sign_in(tab)
        for path, label in [("/licenses/requests", "list"), (f"/licenses/requests/{req['id']}", "pane"),
                            (f"/licenses/requests/{req['id']}/share", "share"),
                            ("/licenses/requests/settings", "settings")]:
            tab.goto(path)
            width = p.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
            tab.shot(label)
    finally:
        restore(before)


def test_a_request_with_colleagues_typed_works_without_javascript_and_a_refusal_names_who(browser):
    """Plain forms: colleagues typed as e-mail addresses; one that is no Member is named and
    nothing is requested; then the request goes through."""
    from conftest import Page

    before = policy("Disabled")
    context = browser.new_context(java_script_enabled=False)
    tab = Page(context, "test_a_request_with_colleagues_typed_works_without_javascript")
    try:
        asker = new_user(name="Plain")
        colleague = new_user(name="Typed")
        nobody = f"nobody-{uuid.uuid4().hex[:6]}@contoso.test"
        sign_in(tab, asker)
        p = tab.page
        tab.goto("/buy")
        p.get_by_role("region", name=PRODUCT).get_by_role("link", name=f"Request a license for {PRODUCT}").click()
        field = p.get_by_label("Colleagues to include (user names or e-mail addresses, one per line or comma separated)")
        field.fill(f"{colleague}\n{nobody}")
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("alert")).to_contain_text(f"{nobody} (not a user of this organization)")
        expect(field).to_have_value(f"{colleague}\n{nobody}")
        tab.shot("refused")
        status, body = api("GET", "/api/v1/me/license-requests", token=member_token(asker))
        assert status == 200 and body["value"] == [], body
        field.fill(colleague)
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("status")).to_contain_text(f"You requested {PRODUCT} for 2 people.")
        tab.shot("submitted")
        assert all("status of 400" in e for e in tab.console_errors), tab.console_errors
        assert tab.foreign_requests == [], tab.foreign_requests
    finally:
        context.close()
        restore(before)


def test_a_requester_opens_their_own_request_from_my_requests_and_not_anothers(tab):
    before = policy("Disabled")
    try:
        asker = new_user(name="Opener")
        other = new_user(name="Other")
        mine = submit_by_api(asker)
        theirs = submit_by_api(other)
        sign_in(tab, asker)
        p = tab.page
        tab.goto("/my/requests")
        row = p.get_by_role("row").filter(has_text=PRODUCT).first
        row.get_by_role("link", name=PRODUCT).click()
        expect(p).to_have_url(re.compile(f"/my/requests/{mine['id']}$"))
        expect(p.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
        expect(p.get_by_role("button", name="Submit")).to_have_count(0)
        tab.shot("own request")
        # The admin address of their own request leads to the same page, not to a refusal.
        tab.goto(f"/licenses/requests/{mine['id']}")
        expect(p).to_have_url(re.compile(f"/my/requests/{mine['id']}$"))
        expect(p.get_by_role("heading", name=PRODUCT, level=1)).to_be_visible()
        # Another's request: not found, whichever address.
        for path in (f"/licenses/requests/{theirs['id']}", f"/my/requests/{theirs['id']}"):
            response = tab.goto(path)
            assert response.status == 404, path
            expect(p.get_by_text(other)).to_have_count(0)
        tab.console_errors = [e for e in tab.console_errors if "status of 404" not in e]
        tab.shot("another's request")
    finally:
        restore(before)


def test_approving_someone_who_holds_the_product_already_says_nothing_was_assigned(tab):
    before = policy("Disabled")
    try:
        holder = new_user(name="Holder")
        status, body = api("POST", "/api/v1/subscriptions",
                           {"skuId": PROJECTS, "quantity": 1, "billingFrequency": "monthly"})
        assert status == 201, body
        # Requested first (a product held already cannot be requested), then given another way.
        req = submit_by_api(holder)
        status, body = api("POST", f"/v1.0/users/{holder}/assignLicense",
                           {"addLicenses": [{"skuId": PROJECTS, "disabledPlans": []}], "removeLicenses": []})
        assert status == 200, body
        sign_in(tab)
        p = tab.page
        tab.goto(f"/licenses/requests/{req['id']}")
        p.get_by_label(f"Decision for {display_name(holder)}").select_option(label="Approve")
        p.get_by_role("button", name="Submit").click()
        expect(p.get_by_role("status")).to_contain_text(
            f"{display_name(holder)} already has {PRODUCT}; nothing was assigned to them.")
        tab.shot("already held")
    finally:
        restore(before)


def enter_searches_then_the_request_names_the_colleague(tab, label):
    """Types a colleague's name and presses Enter in the search box: results, no request; then
    picks them and submits."""
    asker = new_user(name="Enter")
    colleague = new_user(name="Searched")
    sign_in(tab, asker)
    p = tab.page
    tab.goto(f"/buy/{PROJECTS}/request")
    p.get_by_label("Note for your admin (optional)").fill("Kept across the search")
    search = p.get_by_label("Search colleagues to include")
    search.fill(display_name(colleague))
    search.press("Enter")
    result = p.locator("#colleague-results").get_by_label(display_name(colleague))
    expect(result).to_be_visible()
    expect(p.get_by_label("Note for your admin (optional)")).to_have_value("Kept across the search")
    expect(p.get_by_role("heading", name="Request a license", level=1)).to_be_visible()
    tab.shot(f"{label} searched")
    token = member_token(asker)
    status, body = api("GET", "/api/v1/me/license-requests", token=token)
    assert status == 200 and body["value"] == [], body
    result.check()
    p.get_by_role("button", name="Submit").click()
    expect(p.get_by_role("status")).to_contain_text(f"You requested {PRODUCT} for 2 people.")
    tab.shot(f"{label} submitted")
    status, body = api("GET", "/api/v1/me/license-requests", token=token)
    assert status == 200 and len(body["value"]) == 1, body
    assert body["value"][0]["note"] == "Kept across the search", body
    status, body = api("GET", f"/api/v1/license-requests/{body['value'][0]['id']}")
    assert colleague in [u["userPrincipalName"] for u in body["users"]], body


def test_enter_in_the_colleague_search_searches_and_submits_nothing(tab):
    before = policy("Disabled")
    try:
        enter_searches_then_the_request_names_the_colleague(tab, "js")
    finally:
        restore(before)


def test_enter_in_the_colleague_search_searches_without_javascript(browser):
    from conftest import Page

    before = policy("Disabled")
    context = browser.new_context(java_script_enabled=False)
    tab = Page(context, "test_enter_in_the_colleague_search_searches_without_javascript")
    try:
        enter_searches_then_the_request_names_the_colleague(tab, "nojs")
        assert tab.foreign_requests == [], tab.foreign_requests
        assert tab.console_errors == [], tab.console_errors
    finally:
        context.close()
        restore(before)


def test_enter_in_the_share_search_searches_and_sends_nothing(tab):
    before = policy("Disabled")
    try:
        asker = new_user(name="Shared")
        reader = new_user(name="Reader")
        r = submit_by_api(asker)
        sign_in(tab)
        p = tab.page
        tab.goto(f"/licenses/requests/{r['id']}/share")
        p.get_by_label("Subject (optional)").fill("Kept subject")
        search = p.get_by_label("Search people")
        search.fill(display_name(reader))
        search.press("Enter")
        result = p.locator("#recipient-results").get_by_label(display_name(reader))
        expect(result).to_be_visible()
        expect(p.get_by_label("Subject (optional)")).to_have_value("Kept subject")
        tab.shot("share searched")
        status, body = api("GET", f"/api/v1/license-requests/{r['id']}")
        assert status == 200 and body["shares"] == [], body
    finally:
        restore(before)
