"""Merging two contacts in a real browser: the possible duplicates, the side-by-side preview (at a
laptop's 1366 px and a phone's 390 px) and its confirm."""

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from contacts.services import contact_set_tags
from sendinglists.actors import Actor
from sendinglists.models import ListContact
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.browser.test_operator_pages import log_in
from tests.factories import ContactFactory, SendingListFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SYSTEM = Actor.system("test")


@pytest.fixture
def duplicates():
    UserFactory(username="operator", is_staff=True, is_superuser=True)
    deals = SendingListFactory(name="Spring Deals", phone_number="+18005550142")
    news = SendingListFactory(name="Weekly News", phone_number="+18005550143")
    grace = ContactFactory(
        phone_number="+14155557101", first_name="Grace", last_name="", email="grace@example.com"
    )
    copy = ContactFactory(
        phone_number="+14155557102", first_name="G.", last_name="Hopper", email="Grace@Example.com"
    )
    contact_set_tags(contact=grace, names=["vip", "navy", "cobol", "math", "yale"])
    contact_set_tags(contact=copy, names=["speaker"])
    list_contact_subscribe(sending_list=deals, contact=grace, signup_method="api", actor=SYSTEM)
    opted_out = list_contact_subscribe(sending_list=deals, contact=copy, signup_method="api", actor=SYSTEM)
    list_contact_opt_out(membership=opted_out.membership, reason="message", actor=SYSTEM)
    list_contact_subscribe(sending_list=news, contact=copy, signup_method="import", actor=SYSTEM)
    return deals, news, grace, copy


def test_operator_merges_a_duplicate_from_the_duplicates_page(
    browser, page, live_server, duplicates, screenshot
):
    deals, news, grace, copy = duplicates
    copy_id = copy.pk
    log_in(page)

    page.goto("/contacts/")
    page.get_by_role("link", name="Possible duplicates").click()
    expect(page.get_by_role("heading", name="Possible duplicates")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Same email grace@example.com")
    page.get_by_role("link", name="Preview merge").click()

    expect(page.get_by_role("heading", name="Merge (415) 555-7102 into (415) 555-7101")).to_be_visible()
    expect(page.get_by_test_id(f"merge-result-{deals.pk}")).to_have_text("Opted-out")
    expect(page.get_by_test_id(f"merge-result-{news.pk}")).to_have_text("Active")
    expect(page.get_by_test_id("dropped-tags")).to_contain_text("speaker")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "20-merge-preview")

    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    try:
        small = phone.new_page()
        log_in(small)
        small.goto(page.url)
        expect(small.get_by_test_id(f"merge-result-{deals.pk}")).to_be_visible()
        assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(small, "21-phone-merge-preview")
    finally:
        phone.close()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Merge into #{grace.pk}").click()

    expect(page.get_by_role("heading", name="(415) 555-7101")).to_be_visible()
    expect(page.get_by_text(f"Merged contact #{copy_id} (+14155557102) into this one")).to_be_visible()
    expect(page.get_by_text("Tags over the limit of five, not kept: speaker")).to_be_visible()
    screenshot(page, "22-merged-contact")
    assert not Contact.objects.filter(pk=copy_id).exists()
    assert ListContact.objects.get(sending_list=deals, contact=grace).active is False
    assert ListContact.objects.get(sending_list=news, contact=grace).active is True
