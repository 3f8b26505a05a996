"""The recommendation page of a shared license request (REQ5): a recipient follows the link
from the e-mail without signing in, sees the request, recommends approving it with a comment;
the link then works no more."""

import email
import glob
import os
import re
import urllib.error
import urllib.request

from conftest import URL, api, new_user
from playwright.sync_api import expect

PRODUCT = "DIAGRAMS_PLAN2"


def product_id():
    status, body = api("GET", "/api/v1/policies/AllowSelfServicePurchase/products")
    assert status == 200, body
    status, catalog = api("GET", "/api/v1/catalog")
    assert status == 200, catalog
    pid = next(p["productId"] for p in catalog["products"] if p["skuPartNumber"] == PRODUCT)
    row = next(r for r in body["items"] if r["productId"] == pid)
    return pid, row["policyValue"]


def member_token(upn):
    status, body = api("POST", "/api/v1/tokens", {"userId": upn, "name": "recommend test"})
    assert status == 201, body
    return body["token"]


def links_for(recipient):
    """The approve and deny links of the newest share mail to `recipient` (from the .eml files)."""
    files = sorted(glob.glob(os.path.join(os.environ["SEATKEEPER_DATA"], "mail", "*.eml")),
                   key=os.path.getmtime, reverse=True)
    for f in files:
        with open(f, "rb") as fh:
            msg = email.message_from_bytes(fh.read())
        if recipient.lower() not in (msg["To"] or "").lower():
            continue
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode()
                approve = re.search(r"Recommend approving: (\S+)", text).group(1)
                deny = re.search(r"Recommend denying: (\S+)", text).group(1)
                return approve, deny
    raise AssertionError(f"no share mail to {recipient}")


def test_a_recipient_recommends_approving_a_shared_request_once(tab):
    pid, before = product_id()
    status, body = api("PUT", f"/api/v1/policies/AllowSelfServicePurchase/products/{pid}",
                       {"policyValue": "Disabled"})
    assert status == 200, body
    try:
        asker = new_user(name="Asker")
        recipient = new_user(name="Budget")
        status, req = api("POST", "/api/v1/me/license-requests",
                          {"skuId": PRODUCT, "note": "For the <network> diagrams"},
                          token=member_token(asker))
        assert status == 201, req
        status, body = api("POST", f"/api/v1/license-requests/{req['id']}/share",
                           {"recipients": [recipient], "message": "Your budget."})
        assert status == 200, body
        status, body = api("POST", "/api/v1/dev/jobs/run")
        assert status == 200, body
        approve, _deny = links_for(recipient)
        assert approve.startswith(URL), approve

        p = tab.page
        tab.goto(approve[len(URL):])
        expect(p.get_by_role("heading", name="Recommend on a license request")).to_be_visible()
        expect(p.locator("#recommend-product")).to_have_text(re.compile("Diagram", re.I))
        expect(p.get_by_text("For the <network> diagrams")).to_be_visible()
        expect(p.get_by_label("Approve")).to_be_checked()
        p.get_by_label("Comment (optional)").fill("Worth it.")
        tab.shot("form")
        p.get_by_role("button", name="Send recommendation").click()
        expect(p.get_by_role("status")).to_contain_text("you recommended approving")
        tab.shot("done")

        # The recommendation shows on the request; the link works no more.
        status, body = api("GET", f"/api/v1/license-requests/{req['id']}")
        assert body["recommendations"][0]["comment"] == "Worth it.", body
        try:
            urllib.request.urlopen(approve, timeout=10)
            raise AssertionError("a used link still works")
        except urllib.error.HTTPError as e:
            assert e.code == 410
            assert "was used already" in e.read().decode()
    finally:
        api("PUT", f"/api/v1/policies/AllowSelfServicePurchase/products/{pid}",
            {"policyValue": before})
