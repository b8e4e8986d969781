"""The contact search page (contacts/views.py)."""

import pytest

from contacts.models import ContactChannel, Tag
from sendinglists.actors import Actor
from tests.factories import (
    ContactFactory,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def test_search_anonymous_user_is_redirected_to_login(client):
    response = client.get("/contacts/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/contacts/"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("(628) 555-0102", ["+16285550102"]),
        ("628-555-0102", ["+16285550102"]),
        ("+1 628 555 0102", ["+16285550102"]),
        ("16285550102", ["+16285550102"]),
        ("BEN@example.com", ["+16285550102"]),
        ("smi", ["+16285550103", "+16285550101"]),
        ("ana", ["+16285550101"]),
        ("Cleo Smith", ["+16285550103"]),
        ("smithers cleo", ["+16285550103"]),
        ("(628) 555-0199", []),
        ("nobody", []),
    ],
)
def test_search_finds_contacts_by_phone_in_any_format_email_or_name_prefix(client, viewer, query, expected):
    ContactFactory(phone_number="+16285550101", first_name="Ana", last_name="Smith", email="ana@example.com")
    ContactFactory(phone_number="+16285550102", first_name="Ben", last_name="Jones", email="ben@example.com")
    ContactFactory(
        phone_number="+16285550103", first_name="Cleo", last_name="Smithers", email="c@example.com"
    )

    response = client.get("/contacts/", {"q": query})

    assert response.status_code == 200
    assert [c.phone_number for c in response.context["page"].rows] == expected


def test_search_finds_a_contact_by_its_phone_channel(client, viewer):
    ana = ContactFactory(phone_number="+16285550101")
    ContactChannel.objects.create(contact=ana, kind="phone", value="+16285550199")
    ContactFactory(phone_number="+16285550102")

    response = client.get("/contacts/", {"q": "(628) 555-0199"})

    assert [c.pk for c in response.context["page"].rows] == [ana.pk]


def test_search_without_matches_shows_empty_state(client, viewer):
    html = client.get("/contacts/", {"q": "(628) 555-0199"}).content.decode()

    assert "No contact matches" in html
    assert "No contact has phone number +16285550199." in html


def test_search_lists_all_contacts_newest_first_with_tags(client, viewer):
    older = ContactFactory(phone_number="+16285550101")
    newer = ContactFactory(phone_number="+16285550102")
    newer.tags.add(Tag.objects.create(name="vip"))

    response = client.get("/contacts/")

    assert [c.pk for c in response.context["page"].rows] == [newer.pk, older.pk]
    assert '<span class="tag">vip</span>' in response.content.decode()


def test_search_query_count_does_not_grow_with_rows(client, viewer, django_assert_max_num_queries):
    tag = Tag.objects.create(name="vip")
    for contact in ContactFactory.create_batch(60):
        contact.tags.add(tag)

    with django_assert_max_num_queries(6):
        response = client.get("/contacts/")

    assert len(response.context["page"].rows) == 50


def test_search_too_long_shows_the_error_and_no_contacts(client, viewer):
    ContactFactory()

    response = client.get("/contacts/", {"q": "a" * 101})

    assert response.context["page"].rows == []
    html = response.content.decode()
    assert "Ensure this value has at most 100 characters (it has 101)." in html
    assert "Check the search" in html
