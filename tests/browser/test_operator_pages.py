"""An operator's day in a real browser: log in, Sending Lists -> a list -> Contacts -> a contact,
filter, search by a phone typed as people type it, page forward and back, unsubscribe a contact,
start an import from the list and see it finish."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.models import Contact, Tag
from sendinglists.actors import Actor
from sendinglists.models import CustomField, ListContact, ListStatusCount, SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import ClickFactory, ConversionFactory, MessageFactory, SendingListFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MEMBERS = 120  # more than two pages of 50


def phone(n: int) -> str:
    return f"+1415555{8000 + n:04d}"


@pytest.fixture
def operator():
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def spring_deals():
    """A list of 120 members: every 10th opted out, the 42nd subscribed through the service with history."""
    sending_list = SendingListFactory(name="Spring Deals", phone_number="+18005550142")
    CustomField.objects.create(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )
    SendingListFactory(name="Weekly News", phone_number="+18005550143")
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        Contact(phone_number=phone(n), first_name=f"Person{n}", last_name="Example")
        for n in range(MEMBERS)
        if n != 42
    )
    ListContact.objects.bulk_create(
        ListContact(
            sending_list=sending_list,
            contact=contact,
            signup_method="import",
            subscribed_at=now,
            status_changed_at=now,
            active=not contact.phone_number.endswith("0"),
            unsub_reason="" if not contact.phone_number.endswith("0") else "message",
            opted_out_at=None if not contact.phone_number.endswith("0") else now,
            send_count=int(contact.phone_number[-3:]) % 17,
            click_count=int(contact.phone_number[-3:]) % 3,
            last_sent_at=now - dt.timedelta(hours=int(contact.phone_number[-3:]) % 17 * 7)
            if int(contact.phone_number[-3:]) % 17
            else None,
            last_clicked_at=now - dt.timedelta(hours=int(contact.phone_number[-3:]) % 5 * 11)
            if int(contact.phone_number[-3:]) % 3
            else None,
            custom_fields={"plan": "pro" if int(contact.phone_number[-1]) % 2 else "free"},
        )
        for contact in contacts
    )
    opted_out = sum(1 for c in contacts if c.phone_number.endswith("0"))
    ListStatusCount.objects.create(
        sending_list=sending_list, status="active", count=len(contacts) - opted_out
    )
    ListStatusCount.objects.create(sending_list=sending_list, status="message", count=opted_out)
    target = Contact.objects.create(
        phone_number=phone(42), first_name="Grace", last_name="Hopper", email="grace@example.com"
    )
    target.tags.add(Tag.objects.create(name="vip"))
    membership = list_contact_subscribe(
        sending_list=sending_list,
        contact=target,
        signup_method="api",
        actor=Actor.system("signup form"),
        custom_fields={"plan": "pro"},
    ).membership
    ListContact.objects.filter(pk=membership.pk).update(
        send_count=3,
        click_count=1,
        conversion_count=1,
        revenue_total=Decimal("49.00"),
        last_sent_at=now - dt.timedelta(days=1),
        last_clicked_at=now - dt.timedelta(days=1) + dt.timedelta(minutes=3),
        last_revenue_at=now - dt.timedelta(days=1) + dt.timedelta(minutes=30),
    )
    at = now - dt.timedelta(days=1)
    message = MessageFactory(
        contact=target, sending_list=sending_list, body="Spring sale: 20% off today", sent_at=at
    )
    MessageFactory(
        contact=target,
        sending_list=sending_list,
        direction="inbound",
        status="received",
        body="Is the blue one in stock?",
        sent_at=at + dt.timedelta(minutes=12),
    )
    ClickFactory(
        list_contact=membership,
        message=message,
        url="https://shop.example.com/blue",
        clicked_at=at + dt.timedelta(minutes=3),
    )
    ConversionFactory(
        list_contact=membership,
        message=message,
        order_id="SO-1042",
        revenue=Decimal("49.00"),
        converted_at=at + dt.timedelta(minutes=30),
    )
    return sending_list, target, membership


def log_in(page, username="operator", password="password"):
    page.goto("/lists/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def contact_rows(page):
    return page.locator("table.contacts tbody tr")


def test_operator_walks_lists_to_a_contact_filters_searches_pages_and_unsubscribes(
    page, operator, spring_deals, screenshot
):
    sending_list, target, membership = spring_deals

    # Anonymous: the login page, then back where we wanted to go.
    page.goto("/lists/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "operator")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    expect(page.get_by_role("heading", name="Sending Lists")).to_be_visible()
    expect(page.locator("table.lists")).to_contain_text("(800) 555-0142")
    screenshot(page, "01-sending-lists")

    # A list: the Contacts tab with counts, newest first.
    page.get_by_role("link", name="Spring Deals").click()
    expect(page.get_by_role("heading", name="Spring Deals")).to_be_visible()
    expect(contact_rows(page)).to_have_count(50)
    expect(contact_rows(page).first).to_contain_text("(415) 555-8042")
    expect(page.locator(".stats")).to_contain_text("120")
    screenshot(page, "02-list-contacts", full_page=False)

    # Filter: opted-out members only.
    page.select_option("select[name=status]", "message")
    page.get_by_role("button", name="Apply").click()
    expect(contact_rows(page)).to_have_count(12)
    for text in contact_rows(page).locator("td:nth-child(3)").all_inner_texts():
        assert text.strip() == "Opted-out"
    page.select_option("select[name=field]", "plan")
    page.fill("input[name=value]", "gold")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".filters")).to_contain_text("Plan: 'gold' is not one of: free, pro.")
    screenshot(page, "03-list-filter-error")
    page.get_by_role("link", name="Clear").click()

    # Page forward twice and back once: the Previous page is exactly the page we left.
    first_page = contact_rows(page).locator("td:first-child").all_inner_texts()
    page.get_by_role("link", name="Next ›").click()
    expect(contact_rows(page)).to_have_count(50)
    second_page = contact_rows(page).locator("td:first-child").all_inner_texts()
    assert not set(first_page) & set(second_page)
    page.get_by_role("link", name="Next ›").click()
    expect(contact_rows(page)).to_have_count(20)
    expect(page.get_by_role("link", name="Next ›")).to_have_count(0)
    page.get_by_role("link", name="‹ Previous").click()
    expect(contact_rows(page)).to_have_count(50)
    assert contact_rows(page).locator("td:first-child").all_inner_texts() == second_page
    page.get_by_role("link", name="‹ Previous").click()
    assert contact_rows(page).locator("td:first-child").all_inner_texts() == first_page
    expect(page.get_by_role("link", name="‹ Previous")).to_have_count(0)

    # Search by the phone as a person types it.
    page.fill("input[name=q]", "(415) 555-8042")
    page.get_by_role("button", name="Apply").click()
    expect(contact_rows(page)).to_have_count(1)
    expect(page.locator(".search-note")).to_have_text("Searching by phone number +14155558042.")
    screenshot(page, "04-list-search-by-phone")

    # The contact: identity, membership, history and the engagement timeline.
    page.get_by_role("link", name="(415) 555-8042").click()
    expect(page.get_by_role("heading", name="(415) 555-8042")).to_be_visible()
    status = page.get_by_test_id(f"status-{membership.pk}")
    expect(status).to_have_text("Active")
    history = page.get_by_test_id(f"history-{membership.pk}")
    expect(history.locator("li")).to_have_count(1)
    expect(history).to_contain_text("Subscribed")
    timeline = page.locator("ol.timeline li")
    expect(timeline).to_have_count(4)
    expect(timeline.first).to_contain_text("Converted")
    expect(timeline.last).to_contain_text("Spring sale: 20% off today")
    screenshot(page, "05-contact")

    # Unsubscribe (manual): the status and the history change on the page.
    page.once("dialog", lambda dialog: dialog.accept())
    page.fill(f"#id_unsub{membership.pk}-note", "Asked us by phone to stop")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator(".messages")).to_contain_text("Unsubscribed from Spring Deals (Manual).")
    expect(status).to_have_text("Manual")
    expect(history.locator("li")).to_have_count(2)
    expect(history.locator("li").first).to_contain_text("Unsubscribed · Manual")
    expect(history.locator("li").first).to_contain_text("by operator")
    expect(history.locator("li").first).to_contain_text("Asked us by phone to stop")
    screenshot(page, "06-contact-unsubscribed")
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "manual")
    event = SubscriptionEvent.objects.filter(list_contact=membership).latest("id")
    assert (event.kind, event.user_id, event.note) == ("opted_out", operator.pk, "Asked us by phone to stop")

    # Six tags: the error shows in place and the tags stay as they were.
    page.fill("#id_tags-tags", "a, b, c, d, e, f")
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator("form[action$='/tags/']")).to_contain_text(
        "A contact can have at most 5 tags; this would give it 6."
    )
    assert list(target.tags.values_list("name", flat=True)) == ["vip"]


def test_contact_search_finds_a_phone_typed_with_punctuation(page, operator, spring_deals, screenshot):
    log_in(page)
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.fill("input[name=q]", "415.555.8007")
    page.get_by_role("button", name="Search").click()

    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("(415) 555-8007")
    screenshot(page, "07-contact-search")


def test_view_only_staff_sees_no_action_buttons(page, spring_deals):
    from django.contrib.auth.models import Permission

    _, target, _ = spring_deals
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_contact", "view_sendinglist", "view_listcontact", "view_message"]
        )
    )
    log_in(page, "viewer")
    page.goto(f"/contacts/{target.pk}/")

    expect(page.get_by_role("heading", name="(415) 555-8042")).to_be_visible()
    expect(page.get_by_role("button", name="Unsubscribe")).to_have_count(0)
    expect(page.get_by_role("button", name="Block contact")).to_have_count(0)
    expect(page.get_by_role("button", name="Save tags")).to_have_count(0)


def test_pages_read_on_a_phone_screen(browser, live_server, operator, spring_deals, screenshot):
    sending_list, target, _ = spring_deals
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    try:
        log_in(page)
        page.goto(f"/lists/{sending_list.pk}/")
        expect(page.get_by_role("heading", name="Spring Deals")).to_be_visible()
        # The table scrolls inside its wrapper; the page itself does not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(page, "08-phone-list", full_page=False)
        page.goto(f"/contacts/{target.pk}/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(page, "09-phone-contact", full_page=False)
    finally:
        context.close()


IMPORT_CSV = (
    "Phone Number,First Name,Last Name,E-mail,Plan\n"
    "(415) 555-7001,Ada,Lovelace,ada@example.com,pro\n"
    "415.555.7002,Alan,Turing,alan@example.com,free\n"
    "not a phone,Bad,Row,,pro\n"
    "+14155558010,Person10,Example,,free\n"
)


def test_operator_starts_an_import_from_a_list_and_sees_it_finish(
    page, operator, spring_deals, screenshot, tmp_path
):
    sending_list, _, _ = spring_deals
    upload = tmp_path / "spring-signups.csv"
    upload.write_text(IMPORT_CSV)
    log_in(page)
    page.goto(f"/lists/{sending_list.pk}/")

    page.get_by_role("link", name="Import contacts").click()
    expect(page.get_by_role("heading", name="Import contacts into Spring Deals")).to_be_visible()
    page.set_input_files("input[type=file]", str(upload))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("table", name="First rows")).to_contain_text("Lovelace")
    screenshot(page, "10-import-preview")
    page.get_by_role("button", name="Start the import").click()
    # Nothing starts until the operator attests the contacts' consent.
    expect(page.locator("#consent .form-errors").first).to_contain_text("Confirm the contacts' consent")
    page.get_by_label("I confirm that these contacts gave consent").check()
    page.get_by_label("How they gave consent").fill("Signed up at the spring fair")
    page.get_by_role("button", name="Start the import").click()

    expect(page.locator("#import-status")).to_have_text("Completed")
    counts = page.get_by_role("table", name="Counts")
    expect(counts.locator("[data-count=rows_read]")).to_have_text("4")
    expect(counts.locator("[data-count=memberships_created]")).to_have_text("2")
    expect(counts.locator("[data-count=skipped_opted_out]")).to_have_text("1")
    expect(counts.locator("[data-count=errors]")).to_have_text("1")
    screenshot(page, "11-import-finished")

    # The new members are on the list, and the opted-out number stayed opted out.
    page.get_by_role("link", name="Spring Deals").click()
    expect(page.locator(".stats")).to_contain_text("122")
    page.fill("input[name=q]", "(415) 555-7001")
    page.get_by_role("button", name="Apply").click()
    expect(contact_rows(page)).to_have_count(1)
    expect(contact_rows(page).first).to_contain_text("Ada Lovelace")
    expect(contact_rows(page).first).to_contain_text("Import")
    page.fill("input[name=q]", "(415) 555-8010")
    page.get_by_role("button", name="Apply").click()
    expect(contact_rows(page).first.locator(".badge")).to_have_text("Opted-out")


def test_a_blocked_contact_reads_blocked_on_its_page_and_its_list(page, operator, spring_deals, screenshot):
    """Blocked means blocked: never Active on the contact page or the list's Contacts tab."""
    sending_list, target, membership = spring_deals
    log_in(page)
    page.goto(f"/contacts/{target.pk}/")
    status = page.get_by_test_id(f"status-{membership.pk}")
    expect(status).to_have_text("Active")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Block contact").click()

    expect(page.locator(".messages")).to_contain_text("Contact blocked")
    expect(status).to_have_text("Blocked")
    screenshot(page, "12-contact-blocked")

    page.get_by_role("link", name="Spring Deals").first.click()
    row = contact_rows(page).filter(has_text="(415) 555-8042")
    expect(row.locator("td:nth-child(3)")).to_have_text("Blocked")
    expect(page.locator(".stats")).to_contain_text("Blocked")
    page.select_option("select[name=status]", "blocked")
    page.get_by_role("button", name="Apply").click()
    expect(contact_rows(page)).to_have_count(1)
    expect(contact_rows(page).first.locator("td:nth-child(3)")).to_have_text("Blocked")
    screenshot(page, "13-list-blocked-filter", full_page=False)
