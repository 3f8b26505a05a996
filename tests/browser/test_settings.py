"""Settings: the organization (Global admin changes, others read), the admin's own API tokens
(shown once, they work, revoking stops them), and the sent mail (Global admins)."""

import uuid

from conftest import api, new_user, sign_in
from playwright.sync_api import expect


def test_a_new_api_token_is_shown_once_works_and_stops_when_revoked(tab):
    upn = new_user(roles=["GlobalAdmin"], name="Tokens")
    sign_in(tab, upn)
    p = tab.page
    tab.goto("/settings")
    name = f"provisioning {uuid.uuid4().hex[:6]}"
    p.get_by_label("Token name").fill(name)
    p.get_by_role("button", name="Create token").click()
    expect(p.get_by_role("status")).to_contain_text("Copy it now: it is shown only this once.")
    secret = p.get_by_label("New token").input_value()
    assert secret.startswith("sk_")
    tab.shot("created")

    # It works against the API, as the signed-in admin.
    status, me = api("GET", "/v1.0/me", token=secret)
    assert status == 200, me
    assert me["userPrincipalName"].lower() == upn.lower()

    # Shown once: the page does not show it again.
    tab.goto("/settings")
    expect(p.get_by_label("New token")).to_have_count(0)
    assert secret not in p.content()
    row = p.locator("tr", has_text=name)
    expect(row).to_contain_text("Active")

    row.get_by_role("button", name=f"Revoke {name}").click()
    expect(p.get_by_role("heading", name=f"Revoke token '{name}'?")).to_be_visible()
    tab.shot("asked")
    p.get_by_role("button", name="Revoke token").click()
    expect(p.get_by_role("status")).to_contain_text(f"Token '{name}' was revoked")
    expect(p.locator("tr", has_text=name)).to_contain_text("Revoked on")
    status, body = api("GET", "/v1.0/me", token=secret)
    assert status == 401, body
    tab.shot("revoked")


def test_the_global_admin_changes_the_organization_and_a_wrong_code_is_refused_in_words(tab):
    sign_in(tab)
    p = tab.page
    tab.goto("/settings")
    location = p.get_by_label("Default usage location")
    before = location.input_value()
    location.fill("ZZ")
    p.get_by_role("button", name="Save organization").click()
    expect(p.get_by_role("alert")).to_contain_text("'ZZ' is not a country code")
    expect(location).to_have_value("ZZ")
    tab.shot("refused")
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]

    location.fill("DE")
    p.get_by_role("button", name="Save organization").click()
    expect(p.get_by_role("status")).to_contain_text("The organization's settings were saved")
    expect(location).to_have_value("DE")
    status, org = api("GET", "/api/v1/tenant")
    assert status == 200, org
    assert org["defaultUsageLocation"] == "DE"
    location.fill(before)
    p.get_by_role("button", name="Save organization").click()
    expect(p.get_by_role("status")).to_contain_text("The organization's settings were saved")
    # Global admins see the mail the outbox sent or is retrying.
    expect(p.get_by_role("heading", name="Sent mail")).to_be_visible()
    tab.shot("saved")


def test_a_global_reader_reads_the_organization_and_sees_no_mail(tab):
    sign_in(tab, new_user(roles=["GlobalReader"]))
    p = tab.page
    tab.goto("/settings")
    expect(p.get_by_role("heading", name="Organization")).to_be_visible()
    expect(p.get_by_text("Only a Global admin can change these.")).to_be_visible()
    expect(p.get_by_role("button", name="Save organization")).to_have_count(0)
    expect(p.get_by_label("Organization name")).to_have_count(0)
    expect(p.get_by_role("heading", name="Sent mail")).to_have_count(0)
    # Their own API tokens are theirs to manage, as the API allows.
    expect(p.get_by_role("button", name="Create token")).to_be_visible()
    tab.shot()


def test_reloading_after_creating_a_token_creates_no_second_one(tab):
    """Post, redirect, get: the secret is shown once; a reload shows no secret and creates
    nothing, on Settings (admins) and on My account (everyone)."""
    for roles, path in ((["GlobalAdmin"], "/settings"), ([], "/")):
        upn = new_user(roles=roles, name="Reload")
        sign_in(tab, upn)
        p = tab.page
        tab.goto(path)
        name = f"reload {uuid.uuid4().hex[:6]}"
        p.get_by_label("Token name").fill(name)
        p.get_by_role("button", name="Create token").click()
        expect(p.get_by_role("status")).to_contain_text("Copy it now: it is shown only this once.")
        secret = p.get_by_label("New token").input_value()
        assert secret.startswith("sk_")
        tab.shot(f"created{len(roles)}")
        p.reload()
        expect(p.get_by_label("Token name")).to_be_visible()
        expect(p.get_by_label("New token")).to_have_count(0)
        assert secret not in p.content()
        expect(p.locator("tr", has_text=name)).to_have_count(1)
        tab.shot(f"reloaded{len(roles)}")
        p.get_by_role("button", name="Sign out").click()
