"""The contact page (engagement/contacts/views.py): identity, memberships and their history, the actions, the timeline."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.models import Contact, Tag
from engagement.selectors import contact_timeline_page
from sendinglists.actors import Actor
from sendinglists.lists.services import list_status_counts
from sendinglists.models import CustomField, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import (
    ClickFactory,
    ContactChannelFactory,
    ContactFactory,
    ConversionFactory,
    ListContactFactory,
    MessageFactory,
    SendingListFactory,
)
from tests.staff import staff_with

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
T0 = timezone.make_aware(dt.datetime(2025, 6, 1, 9, 0))


@pytest.fixture
def subscribed():
    """A contact subscribed (through the service, so counts and history exist) to one list."""
    sending_list = SendingListFactory(name="Deals")
    CustomField.objects.create(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )
    CustomField.objects.create(sending_list=sending_list, key="score", label="Score", field_type="number")
    contact = ContactFactory(
        phone_number="+16285550101", first_name="Ana", last_name="Smith", email="ana@example.com"
    )
    result = list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="import",
        actor=SYSTEM,
        custom_fields={"plan": "pro", "score": "7"},
    )
    return contact, result.membership


# --- the contact page -----------------------------------------------------------------------------


def test_contact_page_anonymous_user_is_redirected_to_login(client, subscribed):
    contact, _ = subscribed

    response = client.get(f"/contacts/{contact.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next=/contacts/{contact.pk}/"


def test_unknown_contact_is_404(client, viewer):
    assert client.get("/contacts/999999/").status_code == 404


def test_contact_page_shows_identity_memberships_custom_fields_and_history(client, viewer, subscribed):
    contact, membership = subscribed
    ContactChannelFactory(contact=contact, kind="email", value="ana.work@example.com")
    contact.tags.add(Tag.objects.create(name="vip"))
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)

    response = client.get(f"/contacts/{contact.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "(628) 555-0101" in html
    assert "ana.work@example.com" in html
    assert '<span class="tag">vip</span>' in html
    assert f'<span class="badge message" data-testid="status-{membership.pk}">Opted-out</span>' in html
    detail = response.context["memberships"].memberships[0]
    assert detail.custom_fields == [("plan", "Plan", "pro"), ("score", "Score", 7)]
    assert [(e.kind, e.reason) for e in detail.events] == [("opted_out", "message"), ("subscribed", "")]


def test_view_only_staff_sees_no_action_buttons(client, viewer, subscribed):
    contact, _ = subscribed

    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    for label in ("Block contact", "Unsubscribe", "Save tags", "Save details", "Edit custom fields"):
        assert label not in html


def test_operator_sees_action_buttons(client, operator, subscribed):
    contact, _ = subscribed

    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    for label in ("Block contact", "Unsubscribe", "Save tags", "Save details", "Edit custom fields"):
        assert label in html


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("edit/", {"edit-first_name": "Mallory"}),
        ("tags/", {"tags-tags": "x"}),
        ("block/", {}),
        ("unblock/", {}),
        ("lists/{membership}/unsubscribe/", {}),
        ("lists/{membership}/resubscribe/", {"resub{membership}-note": "asked"}),
        ("lists/{membership}/fields/", {"fields{membership}-cf_plan": "free"}),
    ],
)
def test_view_only_staff_gets_403_on_every_action_and_nothing_changes(
    client, viewer, subscribed, action, data
):
    contact, membership = subscribed
    events_before = SubscriptionEvent.objects.count()
    data = {key.format(membership=membership.pk): value for key, value in data.items()}

    response = client.post(f"/contacts/{contact.pk}/{action.format(membership=membership.pk)}", data)

    assert response.status_code == 403
    contact.refresh_from_db()
    membership.refresh_from_db()
    assert (contact.first_name, contact.blocked, list(contact.tags.all())) == ("Ana", False, [])
    assert (membership.active, membership.custom_fields) == (True, {"plan": "pro", "score": 7})
    assert SubscriptionEvent.objects.count() == events_before


def test_anonymous_post_is_redirected_and_changes_nothing(client, subscribed):
    contact, membership = subscribed

    response = client.post(f"/contacts/{contact.pk}/lists/{membership.pk}/unsubscribe/")

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.active is True


def test_unsubscribe_opts_out_manually_with_the_user_as_actor(client, operator, subscribed):
    contact, membership = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/unsubscribe/",
        {f"unsub{membership.pk}-note": "Asked on the phone"},
        follow=True,
    )

    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "manual")
    event = SubscriptionEvent.objects.filter(list_contact=membership).latest("id")
    assert (event.kind, event.reason, event.actor_kind, event.user, event.note) == (
        "opted_out",
        "manual",
        "user",
        operator,
        "Asked on the phone",
    )
    counts = list_status_counts(sending_list_ids=[membership.sending_list_id])[membership.sending_list_id]
    assert (counts["active"], counts["manual"]) == (0, 1)
    html = response.content.decode()
    assert "Unsubscribed from Deals (Manual)." in html
    assert f'<span class="badge manual" data-testid="status-{membership.pk}">Manual</span>' in html


def test_unsubscribe_twice_says_already_unsubscribed_and_records_once(client, operator, subscribed):
    contact, membership = subscribed
    url = f"/contacts/{contact.pk}/lists/{membership.pk}/unsubscribe/"

    client.post(url)
    response = client.post(url, follow=True)

    assert "Deals: Already unsubscribed (Manual)." in response.content.decode()
    assert SubscriptionEvent.objects.filter(list_contact=membership, kind="opted_out").count() == 1


def test_resubscribe_needs_a_reason_shown_in_place(client, operator, subscribed):
    contact, membership = subscribed
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)

    response = client.post(f"/contacts/{contact.pk}/lists/{membership.pk}/resubscribe/", {})

    assert response.status_code == 400
    assert "Say why this contact may be messaged again; it is recorded." in response.content.decode()
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "message")


def test_resubscribe_with_a_reason_is_audited(client, operator, subscribed):
    contact, membership = subscribed
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)

    response = client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/resubscribe/",
        {f"resub{membership.pk}-note": "Texted START to our support line"},
        follow=True,
    )

    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (True, "")
    event = SubscriptionEvent.objects.filter(list_contact=membership).latest("id")
    assert (event.kind, event.user, event.note) == (
        "resubscribed",
        operator,
        "Texted START to our support line",
    )
    assert "Resubscribed to Deals; the reason is recorded in the history." in response.content.decode()


def test_resubscribe_of_blocked_contact_is_refused(client, operator, subscribed):
    contact, membership = subscribed
    list_contact_opt_out(membership=membership, reason="manual", actor=SYSTEM)
    Contact.objects.filter(pk=contact.pk).update(blocked=True)

    response = client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/resubscribe/",
        {f"resub{membership.pk}-note": "x"},
        follow=True,
    )

    membership.refresh_from_db()
    assert membership.active is False
    assert "Deals: The contact is blocked; unblock it first." in response.content.decode()


def test_membership_of_another_contact_is_404_and_unchanged(client, operator, subscribed):
    contact, _ = subscribed
    other = ListContactFactory()

    response = client.post(f"/contacts/{contact.pk}/lists/{other.pk}/unsubscribe/")

    assert response.status_code == 404
    other.refresh_from_db()
    assert other.active is True


def test_block_and_unblock_are_audited(client, operator, subscribed):
    contact, _ = subscribed

    blocked = client.post(f"/contacts/{contact.pk}/block/", follow=True)
    contact.refresh_from_db()
    assert contact.blocked is True
    assert "Contact blocked: it will not be messaged on any list." in blocked.content.decode()

    client.post(f"/contacts/{contact.pk}/unblock/")
    contact.refresh_from_db()
    assert contact.blocked is False
    kinds = list(
        SubscriptionEvent.objects.filter(contact=contact, list_contact=None)
        .order_by("id")
        .values_list("kind", "user")
    )
    assert kinds == [("blocked", operator.pk), ("unblocked", operator.pk)]


def test_contact_page_reads_each_membership_of_a_blocked_contact_as_blocked(client, operator, subscribed):
    contact, membership = subscribed
    other_list = SendingListFactory(name="News")
    opted_out = list_contact_subscribe(
        sending_list=other_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership
    list_contact_opt_out(membership=opted_out, reason="message", actor=SYSTEM)

    blocked = client.post(f"/contacts/{contact.pk}/block/", follow=True).content.decode()

    assert f'<span class="badge blocked" data-testid="status-{membership.pk}">Blocked</span>' in blocked
    assert (
        f'<span class="badge blocked" data-testid="status-{opted_out.pk}">Blocked (Opted-out)</span>'
        in blocked
    )

    unblocked = client.post(f"/contacts/{contact.pk}/unblock/", follow=True).content.decode()

    assert f'<span class="badge active" data-testid="status-{membership.pk}">Active</span>' in unblocked
    assert f'<span class="badge message" data-testid="status-{opted_out.pk}">Opted-out</span>' in unblocked


def test_edit_saves_contact_fields(client, operator, subscribed):
    contact, _ = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/edit/",
        {
            "edit-first_name": "Anna",
            "edit-last_name": "Smith",
            "edit-email": "ANNA@example.com",
            "edit-timezone": "America/Los_Angeles",
            "edit-carrier": "",
        },
        follow=True,
    )

    contact.refresh_from_db()
    assert (contact.first_name, contact.email, contact.timezone) == (
        "Anna",
        "ANNA@example.com",
        "America/Los_Angeles",
    )
    assert "Contact details saved." in response.content.decode()


def test_edit_with_bad_values_shows_errors_in_place_and_saves_nothing(client, operator, subscribed):
    contact, _ = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/edit/",
        {"edit-first_name": "Anna", "edit-email": "not-an-email", "edit-timezone": "Mars/Olympus"},
    )

    assert response.status_code == 400
    assert response.context["edit_form"].errors == {
        "email": ["Enter a valid email address."],
        "timezone": ["Mars/Olympus is not a time zone name; use e.g. America/New_York."],
    }
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Ana", "ana@example.com")


def test_tags_are_set(client, operator, subscribed):
    contact, _ = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/tags/", {"tags-tags": "vip, Spring Sale, vip"}, follow=True
    )

    assert sorted(contact.tags.values_list("name", flat=True)) == ["Spring Sale", "vip"]
    assert "Tags saved: vip, Spring Sale." in response.content.decode()


def test_six_tags_show_the_error_in_place_and_keep_the_old_tags(client, operator, subscribed):
    contact, _ = subscribed
    contact.tags.add(Tag.objects.create(name="old"))

    response = client.post(f"/contacts/{contact.pk}/tags/", {"tags-tags": "a, b, c, d, e, f"})

    assert response.status_code == 400
    assert response.context["tags_form"].errors == {
        "tags": ["A contact can have at most 5 tags; this would give it 6."]
    }
    assert "A contact can have at most 5 tags; this would give it 6." in response.content.decode()
    assert list(contact.tags.values_list("name", flat=True)) == ["old"]


def test_custom_fields_merge_typed_values(client, operator, subscribed):
    contact, membership = subscribed

    client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/fields/",
        {f"fields{membership.pk}-cf_plan": "free", f"fields{membership.pk}-cf_score": ""},
    )

    membership.refresh_from_db()
    assert membership.custom_fields == {"plan": "free", "score": 7}


def test_custom_fields_bad_value_shows_error_in_place(client, operator, subscribed):
    contact, membership = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/fields/", {f"fields{membership.pk}-cf_score": "lots"}
    )

    assert response.status_code == 400
    assert "Score: &#x27;lots&#x27; is not a number." in response.content.decode()
    membership.refresh_from_db()
    assert membership.custom_fields == {"plan": "pro", "score": 7}


# --- the engagement timeline ----------------------------------------------------------------------


@pytest.fixture
def history():
    """A contact with messages both ways, clicks and conversions, two of them at the same instant."""
    membership = ListContactFactory()
    contact, sending_list = membership.contact, membership.sending_list
    common = {"contact": contact, "sending_list": sending_list}
    items = [
        MessageFactory(**common, direction="outbound", body="Sale starts", sent_at=T0),
        MessageFactory(
            **common,
            direction="inbound",
            body="Nice",
            status="received",
            sent_at=T0 + dt.timedelta(minutes=5),
        ),
        ClickFactory(
            list_contact=membership, url="https://example.com/a", clicked_at=T0 + dt.timedelta(minutes=5)
        ),
        ConversionFactory(
            list_contact=membership,
            order_id="A-1",
            revenue=Decimal("19.99"),
            converted_at=T0 + dt.timedelta(minutes=9),
        ),
        MessageFactory(**common, direction="outbound", body="Last call", sent_at=T0 + dt.timedelta(hours=1)),
        ClickFactory(
            list_contact=membership, url="https://example.com/b", clicked_at=T0 + dt.timedelta(hours=2)
        ),
    ]
    MessageFactory(sent_at=T0 + dt.timedelta(hours=3))  # another contact's
    return contact, items


def test_timeline_merges_messages_clicks_and_conversions_newest_first(history):
    contact, items = history

    page = contact_timeline_page(contact=contact)

    assert [entry.item for entry in page.rows] == [items[5], items[4], items[3], items[2], items[1], items[0]]
    assert [entry.kind for entry in page.rows] == [
        "click",
        "message",
        "conversion",
        "click",
        "message",
        "message",
    ]
    assert page.next_cursor is None and page.previous_cursor is None


def test_timeline_pages_forward_and_back_across_ties(history):
    contact, items = history
    newest_first = [items[5], items[4], items[3], items[2], items[1], items[0]]

    first = contact_timeline_page(contact=contact, page_size=2)
    second = contact_timeline_page(contact=contact, page_size=2, after=first.next_cursor)
    third = contact_timeline_page(contact=contact, page_size=2, after=second.next_cursor)
    back = contact_timeline_page(contact=contact, page_size=2, before=third.previous_cursor)
    back_to_first = contact_timeline_page(contact=contact, page_size=2, before=back.previous_cursor)

    assert [[e.item for e in p.rows] for p in (first, second, third)] == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert third.next_cursor is None
    assert [e.item for e in back.rows] == newest_first[2:4]
    assert [e.item for e in back_to_first.rows] == newest_first[:2]
    assert back_to_first.previous_cursor is None


def test_contact_page_shows_the_timeline(client, viewer, history):
    contact, _ = history

    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert "Sale starts" in html and "Last call" in html
    assert "https://example.com/b" in html
    assert "$19.99 · order A-1" in html
    assert '<li class="entry message inbound">' in html


def test_contact_page_invalid_timeline_cursor_shows_newest_with_warning(client, viewer, history):
    contact, _ = history

    response = client.get(f"/contacts/{contact.pk}/", {"after": "bogus"})

    assert len(response.context["timeline"].rows) == 6
    assert (
        "This timeline link is invalid or out of date; showing the newest events."
        in response.content.decode()
    )


def test_contact_page_without_history_shows_empty_states(client, viewer):
    contact = ContactFactory()

    html = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert "This contact is not on any sending list." in html
    assert "No messages, clicks or conversions yet." in html


def test_contact_page_query_count_does_not_grow_with_history(client, operator, django_assert_max_num_queries):
    small, large = ContactFactory(), ContactFactory()
    for contact, lists, events in ((small, 1, 2), (large, 4, 80)):
        for _ in range(lists):
            membership = ListContactFactory(contact=contact)
            CustomField.objects.create(sending_list=membership.sending_list, key="plan", label="Plan")
            for n in range(events):
                MessageFactory(
                    contact=contact,
                    sending_list=membership.sending_list,
                    sent_at=T0 + dt.timedelta(minutes=n),
                )
                ClickFactory(list_contact=membership, clicked_at=T0 + dt.timedelta(minutes=n))
        for _ in range(events // 10 + 1):
            SubscriptionEvent.objects.create(
                contact=contact,
                phone_number=contact.phone_number,
                kind="blocked",
                actor_kind="system",
                occurred_at=T0,
            )
    contact.tags.add(Tag.objects.create(name="vip"))

    # session, user, permissions (2), contact + tags + channels, memberships, fields, events, 3 streams
    for contact in (small, large):
        with django_assert_max_num_queries(13):
            response = client.get(f"/contacts/{contact.pk}/")
        assert response.status_code == 200
    assert len(response.context["timeline"].rows) == 50


def test_unsubscribe_note_too_long_shows_error_in_place_and_keeps_the_membership(
    client, operator, subscribed
):
    contact, membership = subscribed

    response = client.post(
        f"/contacts/{contact.pk}/lists/{membership.pk}/unsubscribe/",
        {f"unsub{membership.pk}-note": "x" * 501},
    )

    assert response.status_code == 400
    assert "Ensure this value has at most 500 characters (it has 501)." in response.content.decode()
    membership.refresh_from_db()
    assert membership.active is True


def test_the_contact_page_shows_lists_and_messages_only_to_those_who_may_read_them(client, db):
    from engagement.models import Message

    contact = ContactFactory(first_name="Ann")
    membership = ListContactFactory(contact=contact, custom_fields={"secret_plan": "gold"})
    Message.objects.create(
        direction="outbound",
        sending_list=membership.sending_list,
        contact=contact,
        list_contact=membership,
        from_number=membership.sending_list.phone_number,
        to_number=contact.phone_number,
        body="Your private code is 4242",
        status="sent",
        sent_at=T0,
    )
    client.force_login(staff_with("contacts.view_contact", username="contacts-only"))

    page = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert "Ann" in page
    assert 'id="lists-hidden"' in page and 'id="timeline-hidden"' in page
    assert "4242" not in page and "gold" not in page and membership.sending_list.name not in page
