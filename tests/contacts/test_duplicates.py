"""Possible duplicates (contacts/duplicates.py): pairs by email and by email channel, in bounded pages."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from contacts.duplicates import duplicates_of, possible_duplicates_page
from contacts.models import ContactChannel
from contacts.services import contact_channel_add
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_duplicates_of_finds_the_same_email_and_email_channels_both_ways():
    ana = ContactFactory(phone_number="+16285550501", email="ana@example.com")
    same_email = ContactFactory(email="ANA@example.com")
    her_channel = ContactFactory(phone_number="+16285550502", email="Ana.Work@Example.com")
    holds_her = ContactFactory(email="")
    contact_channel_add(contact=ana, kind="email", value="ana.work@example.com")
    contact_channel_add(contact=holds_her, kind="email", value="Ana@Example.com")
    contact_channel_add(contact=ContactFactory(email=""), kind="email", value="someone@example.com")
    ContactFactory(email="someone.else@example.com")

    pairs = duplicates_of(ana)

    assert [(pair.duplicate, pair.reason, pair.value) for pair in pairs] == [
        (same_email, "email", "ana@example.com"),
        (her_channel, "channel", "ana.work@example.com"),
        (holds_her, "channel", "ana@example.com"),
    ]
    # And from the other side: each finds ana (and whoever else has the email it holds).
    assert [(p.duplicate, p.reason) for p in duplicates_of(her_channel)] == [(ana, "channel")]
    assert [(p.duplicate, p.reason) for p in duplicates_of(holds_her)] == [
        (ana, "channel"),
        (same_email, "channel"),
    ]


def test_a_channel_repeating_its_own_contacts_email_is_no_sign():
    ana = ContactFactory(email="ana@example.com")
    contact_channel_add(contact=ana, kind="email", value="ana@example.com")

    assert duplicates_of(ana) == []
    assert possible_duplicates_page().pairs == []


def test_phone_numbers_cannot_overlap_so_they_are_no_sign():
    """The sign this module had before ContactNumber: the database refuses it now."""
    ana = ContactFactory(phone_number="+16285550501")
    other = ContactFactory(phone_number="+16285550502")
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactChannel.objects.create(contact=ana, kind="phone", value=other.phone_number)
    assert duplicates_of(ana) == duplicates_of(other) == []


def test_the_page_walk_finds_email_channel_pairs_with_the_holder_first():
    ana = ContactFactory(email="ana@example.com")
    bo = ContactFactory(email="")
    contact_channel_add(contact=bo, kind="email", value="ANA@example.com")
    contact_channel_add(contact=bo, kind="email", value="nobody@example.com")

    page = possible_duplicates_page()

    assert [(p.contact, p.duplicate, p.reason, p.value) for p in page.pairs] == [
        (bo, ana, "channel", "ana@example.com")
    ]
    assert page.next_cursor is None


def test_a_group_of_three_with_one_email_gives_two_pairs_to_the_oldest():
    first, second, third = (ContactFactory(email="x@example.com") for _ in range(3))
    ContactFactory(email="")

    page = possible_duplicates_page()

    assert [(p.contact, p.duplicate) for p in page.pairs] == [(first, second), (first, third)]
    assert page.next_cursor is None


def test_a_page_stops_at_its_scan_bound_and_goes_on(monkeypatch):
    monkeypatch.setattr("contacts.duplicates.SCAN_ROWS", 2)
    for name in ("a", "b", "c"):
        ContactFactory(email=f"{name}@example.com")  # no duplicates among these
    one, two = ContactFactory(email="z@example.com"), ContactFactory(email="Z@example.com")

    first = possible_duplicates_page()
    assert first.pairs == [] and first.next_cursor is not None
    pairs, cursor = [], first.next_cursor
    while cursor:
        page = possible_duplicates_page(after=cursor)
        pairs += page.pairs
        cursor = page.next_cursor
    assert [(p.contact, p.duplicate) for p in pairs] == [(one, two)]


def test_the_email_channel_walk_is_bounded_per_page_and_goes_on(monkeypatch):
    monkeypatch.setattr("contacts.duplicates.SCAN_ROWS", 2)
    holder = ContactFactory(email="")
    for name in ("a", "b", "c", "d"):
        contact_channel_add(contact=holder, kind="email", value=f"{name}@example.org")
    first_email, last_email = ContactFactory(email="A@example.org"), ContactFactory(email="d@example.org")

    pairs, cursor, pages, queries = [], None, 0, []
    while True:
        with CaptureQueriesContext(connection) as captured:
            page = possible_duplicates_page(after=cursor)
        pairs += page.pairs
        pages += 1
        queries.append([query["sql"] for query in captured.captured_queries])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [(p.contact, p.duplicate, p.value) for p in pairs] == [
        (holder, first_email, "a@example.org"),
        (holder, last_email, "d@example.org"),
    ]
    # Two batches of two channels: a page for each, reading one batch of channels and probing the
    # contacts' emails once (then loading the pairs' contacts), however many channels there are.
    assert pages == 2
    assert max(len(page_queries) for page_queries in queries) <= 4
    for page_queries in queries:
        (channel_query,) = [sql for sql in page_queries if "contacts_contactchannel" in sql]
        assert "LIMIT 3" in channel_query


@pytest.mark.parametrize(
    "position", [["channel", "a\x00"], ["email", "a\x00"], ["phone", ""], ["channel", 1.5], ["channel", 17]]
)
def test_a_cursor_the_walk_did_not_give_is_refused(position):
    """A page link is the walk's own, encrypted: one made by hand (the plain base64 JSON of a
    position, as the walk once gave out) is "not valid any more", whatever it holds."""
    import base64
    import json

    from contacts.duplicates import InvalidDuplicatesCursor

    cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
    with pytest.raises(InvalidDuplicatesCursor):
        possible_duplicates_page(after=cursor)


def test_an_edited_cursor_is_refused_and_a_cursor_does_not_show_the_email_it_holds():
    import base64

    from contacts.duplicates import InvalidDuplicatesCursor

    for phone in ("+16285550801", "+16285550802"):
        ContactFactory(phone_number=phone, email="Hidden.Name@example.com")
    for phone in ("+16285550803", "+16285550804"):
        ContactFactory(phone_number=phone, email="zz@example.com")
    cursor = possible_duplicates_page(limit=1).next_cursor
    assert cursor is not None
    raw = base64.urlsafe_b64decode(cursor.encode() + b"==")
    assert b"hidden" not in raw.lower() and b"hidden" not in cursor.encode().lower()
    assert [p.value for p in possible_duplicates_page(after=cursor).pairs] == ["zz@example.com"]

    edited = cursor[:-6] + ("A" if cursor[-6] != "A" else "B") + cursor[-5:]
    with pytest.raises(InvalidDuplicatesCursor):
        possible_duplicates_page(after=edited)
