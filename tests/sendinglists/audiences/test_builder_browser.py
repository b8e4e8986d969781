"""The rule builder in a real browser: rules are added, changed and typed without a page reload, the
live count follows, the text query and the builder stay in step, and the audience saves."""

import pytest
from playwright.sync_api import expect

from sendinglists.models import Audience
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, next_path: str) -> None:
    UserFactory(username="builder", is_staff=True, is_superuser=True)
    page.goto(next_path)
    page.fill("#id_username", "builder")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


def test_rules_are_built_without_a_reload_and_saved(page, audience_list, screenshot):
    log_in(page, f"/lists/{audience_list.pk}/audiences/new/")
    count = page.locator("#live-count")
    query = page.locator("#id_query")
    expect(count).to_have_text("6")
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_role("button", name="+ Rule").click()
    expect(query).to_have_value("status = active")
    expect(count).to_have_text("2")  # eve is active but blocked: blocked means blocked

    page.get_by_role("button", name="+ Rule").click()
    second = page.locator(".rule-row").nth(1)
    second.get_by_label("Field").select_option("tag")
    second.get_by_label("Value").fill("vip")
    expect(query).to_have_value('status = active AND tag = "vip"')
    expect(count).to_have_text("1")
    expect(page.locator("#preview-rows tr")).to_have_count(1)
    expect(page.locator("#preview-rows")).to_contain_text("ana")
    screenshot(page, "audience-builder")

    # A rule the list cannot take is flagged on its row, and saving waits until it is fixed.
    second.get_by_label("Field").select_option("score")
    second.get_by_label("Operator").select_option(">")
    second.get_by_label("Value").fill("")
    expect(second.locator(".rule-error")).to_have_text("score > needs a value.")
    expect(page.locator("#save-button")).to_be_disabled()

    # Typing a query rebuilds the builder: an OR group of two rules.
    query.fill('state = "CA" OR blocked = true')
    expect(page.locator(".rule-row")).to_have_count(2)
    expect(page.locator(".group-head select").first).to_have_value("or")
    expect(count).to_have_text("2")
    expect(page.locator("#save-button")).to_be_enabled()

    query.fill("state = CA OR")
    expect(page.locator("#query-errors")).to_contain_text(
        "Expected a condition (like status = active), found the end of the query"
    )
    expect(page.locator("#query-errors pre")).to_have_text("state = CA OR\n             ^")
    assert page.evaluate("window.stillTheSamePage") is True

    query.fill('state = "CA" OR blocked = true')
    expect(count).to_have_text("2")
    page.fill("input[name=name]", "CA or blocked")
    page.get_by_role("button", name="Save audience").click()

    expect(page.locator(".member-count")).to_have_text("2")
    screenshot(page, "audience-members")
    audience = Audience.objects.get()
    assert (audience.name, audience.query) == ("CA or blocked", 'state = "CA" OR blocked = true')


def test_hygiene_page_previews_and_runs_a_clean_up_with_progress(page, audience_list, screenshot):
    from sendinglists.models import ListContact

    ListContact.objects.filter(pk=audience_list.members["ben"].pk).update(send_count=20)
    log_in(page, f"/lists/{audience_list.pk}/audiences/hygiene/")
    expect(page.locator(".optout-chart svg rect.bar")).to_have_count(30)

    idle = page.locator("form", has=page.get_by_role("heading", name="Remove long-term non-engagers"))
    idle.get_by_label("No click in (days)").fill("30")
    idle.get_by_label("At least (sends)").fill("10")
    idle.get_by_role("button", name="Preview").click()
    idle = page.locator("form", has=page.get_by_role("heading", name="Remove long-term non-engagers"))
    expect(idle.locator(".confirm")).to_contain_text("2 active members would be removed.")
    screenshot(page, "audience-hygiene-preview")
    idle.get_by_role("button", name="Remove 2").click()

    expect(page.locator("tr[data-job-url] .job-status").first).to_have_text("Completed")
    expect(page.locator(".job-removed").first).to_have_text("2")
    screenshot(page, "audience-hygiene-done")
    # The blocked member (eve) reads Blocked, is never messaged, and is not one of the active ones.
    assert list(ListContact.objects.filter(sending_list=audience_list, active=True)) == [
        audience_list.members["eve"]
    ]
