"""Groups: create a group, add a member by searching as one types, remove them; what a Global
reader sees."""

import re
import uuid

from conftest import api, new_user, sign_in
from playwright.sync_api import expect


def test_create_a_group_add_and_remove_a_member(tab):
    tag = uuid.uuid4().hex[:6]
    upn = new_user(name=f"Member{tag}")
    sign_in(tab)
    p = tab.page
    tab.goto("/groups")
    name = f"Project team {tag}"
    p.get_by_label("Name", exact=True).fill(name)
    p.get_by_label("Description (optional)").fill("People on the project")
    p.get_by_role("button", name="Create group").click()
    expect(p.get_by_role("status")).to_contain_text(f"Group '{name}' was created.")
    expect(p.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(p.get_by_text("This group has no members yet.")).to_be_visible()

    # Typing searches users at once (htmx); the first letters are enough.
    p.get_by_label("Search users").press_sequentially(f"Member{tag}"[:9])
    add = p.get_by_role("button", name=f"Add Member{tag}")
    expect(add).to_be_visible()
    tab.shot("search")
    add.click()
    expect(p.get_by_role("status")).to_contain_text(f"({upn}) was added to {name}.")
    members = p.get_by_role("table")
    expect(members).to_contain_text(upn)
    # Searching again says they are a member already.
    p.get_by_label("Search users").press_sequentially(f"Member{tag}")
    expect(p.locator("#candidates")).to_contain_text("Already a member")
    tab.shot("added")

    p.get_by_role("button", name=re.compile(f"^Remove Member{tag} ")).click()
    expect(p.get_by_role("status")).to_contain_text(f"({upn}) was removed from {name}.")
    expect(p.get_by_text("This group has no members yet.")).to_be_visible()
    tab.shot("removed")

    # The list finds it by name.
    tab.goto("/groups")
    p.get_by_label("Search groups").fill(name)
    p.get_by_role("button", name="Search", exact=True).click()
    expect(p.get_by_role("link", name=name)).to_be_visible()


def test_adding_a_member_works_without_javascript(browser):
    """The search is a plain form too: with scripts off, search, then Add."""
    from conftest import Page

    context = browser.new_context(java_script_enabled=False)
    tab = Page(context, "test_adding_a_member_works_without_javascript")
    try:
        tag = uuid.uuid4().hex[:6]
        upn = new_user(name=f"Plain{tag}")
        status, g = api("POST", "/v1.0/groups", {"displayName": f"No script {tag}", "mailEnabled": False,
                                                 "mailNickname": f"ns{tag}", "securityEnabled": True})
        assert status == 201, g
        sign_in(tab)
        p = tab.page
        tab.goto(f"/groups/{g['id']}")
        p.get_by_label("Search users").fill(f"Plain{tag}")
        p.get_by_role("button", name="Search", exact=True).click()
        p.get_by_role("button", name=f"Add Plain{tag}").click()
        expect(p.get_by_role("status")).to_contain_text(f"({upn}) was added to No script {tag}.")
        tab.shot()
    finally:
        context.close()


def test_a_global_reader_sees_no_buttons_that_change_anything(tab):
    tag = uuid.uuid4().hex[:6]
    status, g = api("POST", "/v1.0/groups", {"displayName": f"Readers see {tag}", "mailEnabled": False,
                                             "mailNickname": f"rs{tag}", "securityEnabled": True})
    assert status == 201, g
    member = new_user()
    status, u = api("GET", f"/v1.0/users/{member}")
    assert status == 200, u
    status, body = api("POST", f"/v1.0/groups/{g['id']}/members/$ref",
                       {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{u['id']}"})
    assert status == 204, body
    sign_in(tab, new_user(roles=["GlobalReader"]))
    p = tab.page
    tab.goto("/groups")
    expect(p.get_by_role("heading", name="Groups")).to_be_visible()
    expect(p.get_by_role("button", name="Create group")).to_have_count(0)
    expect(p.locator('main form[method="post"]')).to_have_count(0)
    tab.shot("list")
    tab.goto(f"/groups/{g['id']}")
    expect(p.get_by_role("table")).to_contain_text(member)
    expect(p.get_by_role("button", name="Remove")).to_have_count(0)
    expect(p.get_by_label("Search users")).to_have_count(0)
    expect(p.locator('main form[method="post"]')).to_have_count(0)
    tab.shot("group")


def test_a_name_with_markup_shows_as_text(tab):
    sign_in(tab)
    p = tab.page
    tab.goto("/groups")
    name = f"<script>alert({uuid.uuid4().hex[:4]!r})</script>"
    p.get_by_label("Name", exact=True).fill(name)
    p.get_by_role("button", name="Create group").click()
    expect(p.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(p.get_by_role("status")).to_contain_text(f"Group '{name}' was created.")
    tab.shot()
