"""Possible duplicates (contacts/duplicates.py): pairs by email and by phone channel, in bounded pages."""

import pytest

from contacts.duplicates import duplicates_of, possible_duplicates_page
from contacts.models import ContactChannel
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_duplicates_of_finds_the_same_email_and_channels_both_ways():
    ana = ContactFactory(phone_number="+16285550501", email="ana@example.com")
    same_email = ContactFactory(email="ANA@example.com")
    her_channel = ContactFactory(phone_number="+16285550502", email="")
    holds_her = ContactFactory(email="")
    ContactChannel.objects.create(contact=ana, kind="phone", value="+16285550502")
    ContactChannel.objects.create(contact=holds_her, kind="phone", value="+16285550501")
    ContactFactory(email="someone@example.com")

    pairs = duplicates_of(ana)

    assert [(pair.duplicate, pair.reason) for pair in pairs] == [
        (same_email, "email"),
        (her_channel, "channel"),
        (holds_her, "channel"),
    ]


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
