"""Upload users (CSV) from Active users: a bad row is listed and nothing is imported; a good file
shows its progress (processed / total) and ends with the users listed."""

import re
import uuid

from conftest import SCREENSHOTS, api, sign_in
from playwright.sync_api import expect


def upload(p, text, name="users.csv"):
    p.get_by_label("CSV file of users").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )
    p.get_by_role("button", name="Upload").click()


def test_a_bad_row_is_listed_and_nothing_is_imported(tab):
    tag = uuid.uuid4().hex[:8]
    csv = (
        "userPrincipalName,displayName,usageLocation,accountEnabled\n"
        f"good1-{tag}@contoso.test,Good One {tag},US,\n"
        f"not-an-address-{tag},Bad Row {tag},US,\n"
        f"good2-{tag}@contoso.test,Good Two {tag},XX1,\n"
        f"worst-{tag},,ZZ9,maybe\n"
    )
    sign_in(tab)
    tab.goto("/users")
    p = tab.page
    p.get_by_role("link", name="Upload users (CSV)").click()
    upload(p, csv)
    expect(p.get_by_role("alert")).to_contain_text(
        "3 rows have 6 problems; nothing was imported.")
    problems = p.get_by_role("table", name="Rows to fix")
    expect(problems.get_by_role("row").filter(has_text=f"not-an-address-{tag}")).to_contain_text("3")
    expect(problems.get_by_role("row").filter(has_text="usageLocation 'XX1'")).to_contain_text("4")
    # Every problem of a row is listed, each with its line and column.
    worst = problems.get_by_role("row").filter(has=p.get_by_role("cell", name="5", exact=True))
    expect(worst).to_have_count(4)
    for column, words in [("userPrincipalName", f"'worst-{tag}'"), ("displayName", "is empty"),
                          ("usageLocation", "'ZZ9'"), ("accountEnabled", "'maybe'")]:
        expect(worst.filter(has=p.get_by_role("cell", name=column, exact=True))).to_contain_text(words)
    tab.shot()
    status, _ = api("GET", f"/v1.0/users/good1-{tag}@contoso.test")
    assert status == 404
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]


def test_an_existing_user_is_a_problem_unless_updating(tab):
    tag = uuid.uuid4().hex[:8]
    upn = f"again-{tag}@contoso.test"
    status, body = api("POST", "/v1.0/users", {
        "accountEnabled": True, "displayName": f"Again {tag}", "mailNickname": f"a{tag}",
        "userPrincipalName": upn, "usageLocation": "US"})
    assert status == 201, body
    csv = f"userPrincipalName,displayName,department\n{upn},Again {tag},Sales\n"
    sign_in(tab)
    tab.goto("/users/import")
    p = tab.page
    upload(p, csv)
    expect(p.get_by_role("table", name="Rows to fix")).to_contain_text(f"user {upn} already exists")
    p.get_by_label("Update users who already exist").check()
    upload(p, csv)
    expect(p.get_by_role("status")).to_contain_text("0 created, 1 updated, 0 unchanged", timeout=20000)
    tab.shot()
    status, body = api("GET", f"/v1.0/users/{upn}")
    assert body["department"] == "Sales"
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]


def test_a_good_file_shows_progress_and_ends_with_the_users_listed(tab):
    tag = uuid.uuid4().hex[:8]
    n = 1500
    rows = [f"imp{i:04d}-{tag}@contoso.test,Imp{tag} {i:04d},GB" for i in range(n)]
    csv = "userPrincipalName,displayName,usageLocation\n" + "\n".join(rows) + "\n"
    sign_in(tab)
    tab.goto("/users/import")
    p = tab.page
    upload(p, csv)
    expect(p).to_have_url(re.compile(r"/users/import/imp_"))
    status = p.get_by_role("status")
    expect(status).to_contain_text(f"of {n} users processed")
    expect(p.get_by_role("progressbar", name="Import progress")).to_have_attribute("max", str(n))
    tab.shot("running")
    # With JavaScript it says it updates itself (and does: the finish below comes unasked).
    if "finished" not in status.inner_text():
        expect(p.get_by_text("This page updates itself.")).to_be_visible()
        expect(p.get_by_text("choose Refresh")).to_be_hidden()
    expect(status).to_contain_text(f"The import is finished: {n} created, 0 updated, 0 unchanged", timeout=60000)
    expect(status).to_contain_text(f"{n} of {n} users processed")
    tab.shot("finished")
    p.get_by_role("link", name="See the users").click()
    p.get_by_label("Search users").fill(f"Imp{tag}")
    p.get_by_role("button", name="Search").click()
    expect(p.get_by_role("row").filter(has_text=f"imp0000-{tag}@contoso.test")).to_contain_text("GB")
    expect(p.get_by_text("50 users found on this page; more on the next page.")).to_be_visible()
    p.get_by_role("link", name="Next page").click()
    expect(p.get_by_role("row").filter(has_text=f"imp0050-{tag}@contoso.test")).to_be_visible()
    tab.shot()


def test_a_file_that_is_not_a_users_file_is_refused_in_words(tab):
    sign_in(tab)
    tab.goto("/users/import")
    p = tab.page
    upload(p, "name,email\nA,a@b.test\n", name="other.csv")
    expect(p.get_by_role("alert")).to_contain_text("line 1: unknown column 'name'")
    tab.shot()
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]


def test_without_javascript_the_progress_page_says_to_refresh_and_refresh_works(browser):
    from conftest import URL, sign_in_page
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        sign_in_page(p)
        tag = uuid.uuid4().hex[:8]
        n = 3000
        rows = [f"nojs{i:04d}-{tag}@contoso.test,NoJs{tag} {i:04d},GB" for i in range(n)]
        csv = "userPrincipalName,displayName,usageLocation\n" + "\n".join(rows) + "\n"
        p.goto(URL + "/users/import")
        upload(p, csv)
        expect(p).to_have_url(re.compile(r"/users/import/imp_"))
        status = p.get_by_role("status")
        if "finished" not in status.inner_text():
            # No false promise: it says to refresh, and the page offers a Refresh button.
            expect(p.get_by_text("This page updates itself.")).to_be_hidden()
            expect(p.get_by_text("choose Refresh")).to_be_visible()
        refreshes = 0
        while "finished" not in p.get_by_role("status").inner_text() and refreshes < 120:
            p.get_by_role("link", name="Refresh").click()
            p.wait_for_timeout(500)
            refreshes += 1
        expect(p.get_by_role("status")).to_contain_text(
            f"The import is finished: {n} created, 0 updated, 0 unchanged")
        p.screenshot(path=f"{SCREENSHOTS}/test_import_without_javascript.png")
    finally:
        context.close()
