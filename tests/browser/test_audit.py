"""Audit log: the change just made is there, filters narrow to it, Export downloads its rows."""

import csv
import io
import uuid

from conftest import new_user, sign_in
from playwright.sync_api import expect


def create_group_on_page(tab, name):
    p = tab.page
    tab.goto("/groups")
    p.get_by_label("Name", exact=True).fill(name)
    p.get_by_role("button", name="Create group").click()
    expect(p.get_by_role("status")).to_contain_text(f"Group '{name}' was created.")


def test_the_change_just_made_is_listed_and_filters_narrow_to_it(tab):
    sign_in(tab)
    p = tab.page
    name = f"Audited {uuid.uuid4().hex[:6]}"
    create_group_on_page(tab, name)
    tab.goto("/audit")
    first = p.locator("tbody tr").first
    expect(first).to_contain_text("group.create")
    expect(first).to_contain_text(f"Group '{name}' created")
    when = first.locator("td").first.inner_text()[:10]

    # Filter by actor, action and date range: it is still there.
    actor = first.locator("td").nth(1).inner_text().strip()
    p.get_by_label("Actor").fill(actor)
    p.get_by_label("Action").fill("group.create")
    p.get_by_label("From", exact=True).fill(when)
    p.get_by_label("To", exact=True).fill(when)
    p.get_by_role("button", name="Filter").click()
    rows = p.locator("tbody tr")
    expect(rows.first).to_contain_text(f"Group '{name}' created")
    for text in rows.all_inner_texts():
        assert "group.create" in text and actor in text
    tab.shot("filtered")

    # A click on the target shows only the entries about this group.
    rows.first.get_by_role("link").nth(2).click()
    expect(p.locator("tbody tr")).to_have_count(1)
    expect(p.get_by_label("Target")).not_to_have_value("")
    tab.shot("target")

    # A date range after it finds nothing.
    p.get_by_label("From", exact=True).fill("2999-01-01")
    p.get_by_label("To", exact=True).fill("2999-01-31")
    p.get_by_role("button", name="Filter").click()
    expect(p.get_by_text("No entries match these filters.")).to_be_visible()


def test_a_date_range_that_ends_before_it_starts_or_an_unknown_action_is_refused_in_words(tab):
    sign_in(tab)
    p = tab.page
    tab.goto("/audit?from=2026-05-02&to=2026-05-01")
    expect(p.get_by_role("alert")).to_contain_text("The date range ends before it starts")
    tab.shot()
    tab.goto("/audit?action=nosuch.")
    expect(p.get_by_role("alert")).to_contain_text("action 'nosuch.' matches no audit action")
    tab.shot("unknown-action")
    tab.console_errors = [e for e in tab.console_errors if "status of 400" not in e]


def test_export_downloads_the_filtered_rows_as_csv(tab):
    sign_in(tab)
    p = tab.page
    name = f"Exported {uuid.uuid4().hex[:6]}"
    create_group_on_page(tab, name)
    tab.goto("/audit?action=group.")
    with p.expect_download() as d:
        p.get_by_role("link", name="Export").click()
    download = d.value
    assert download.suggested_filename == "audit-log.csv"
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows[0][:5] == ["id", "dateTime", "actor", "actorId", "action"]
    assert len(rows) > 1
    assert all(r[4].startswith("group.") for r in rows[1:])
    assert any(f"Group '{name}' created" in r[7] for r in rows[1:])
    tab.shot()


def test_a_global_reader_reads_and_exports_but_changes_nothing(tab):
    sign_in(tab, new_user(roles=["GlobalReader"]))
    p = tab.page
    tab.goto("/audit")
    expect(p.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(p.locator("tbody tr").first).to_be_visible()
    expect(p.locator('main form[method="post"]')).to_have_count(0)
    expect(p.get_by_role("link", name="Export")).to_be_visible()
    tab.shot()
