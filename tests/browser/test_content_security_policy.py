"""The pages, the admin and the API docs work under the Content-Security-Policy in chromium: nothing
is refused (the console names every violation) and the scripts they rely on run."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_operator_pages import log_in
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def violations(page):
    """Console errors and uncaught exceptions of the page, as they happen."""
    seen = []
    page.on("console", lambda message: message.type == "error" and seen.append(message.text))
    page.on("pageerror", lambda error: seen.append(f"uncaught: {error}"))
    return seen


def csp_violations(messages):
    return [m for m in messages if "Content Security Policy" in m or "Content-Security-Policy" in m]


def test_pages_admin_and_api_docs_run_under_the_policy_without_violations(page, violations):
    UserFactory(username="operator", is_superuser=True)
    sending_list = SendingListFactory(name="Spring Deals")
    contact = ContactFactory(phone_number="+14155558042", first_name="Grace", last_name="Hopper")
    ListContactFactory(sending_list=sending_list, contact=contact)

    page.goto("/admin/login/")
    expect(page.locator("#id_username")).to_be_visible()
    log_in(page)
    expect(page.get_by_role("heading", name="Sending Lists")).to_be_visible()

    page.goto(f"/lists/{sending_list.pk}/")
    expect(page.get_by_role("heading", name="Spring Deals")).to_be_visible()

    page.goto(f"/contacts/{contact.pk}/")
    expect(page.locator("h1")).to_contain_text("(415) 555-8042")
    # The confirmation that used to be an inline onsubmit handler still asks before blocking.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Block contact").click()
    assert dialogs == ["Block this contact? It will not be messaged on any list."]
    contact.refresh_from_db()
    assert contact.blocked is False

    # The rule builder: an inline script (with the nonce) draws it.
    page.goto(f"/lists/{sending_list.pk}/audiences/new/")
    expect(page.locator("#rule-builder select").first).to_be_visible()

    page.goto("/admin/sendinglists/sendinglist/")
    expect(page.locator("#result_list")).to_contain_text("Spring Deals")

    # Swagger UI, served from drf-spectacular-sidecar's static files, renders the schema.
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("SMS contacts API")
    expect(page.locator(".opblock").first).to_be_visible()

    assert csp_violations(violations) == []
    assert [m for m in violations if m.startswith("uncaught")] == []
