import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import timezone

from contacts.models import Contact, ContactChannel, Tag
from sendinglists.actors import Actor
from sendinglists.contacts.api.filters import ContactFilter
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    ListContactFactory,
    SendingListFactory,
    TagFactory,
)

ACTOR = Actor.system("test")


@pytest.mark.parametrize(
    "raw", ["+14155551234", "14155551234", "(415) 555-1234", "415.555.1234", " 415 555 1234 "]
)
def test_create_accepts_every_phone_format_and_returns_e164(client, raw):
    response = client.post("/api/v1/contacts/", {"phone_number": raw, "first_name": "Ana"}, format="json")
    assert response.status_code == 201
    assert response.json()["phone_number"] == "+14155551234"
    assert Contact.objects.get().phone_number == "+14155551234"


def test_create_returns_the_full_contact(client):
    response = client.post(
        "/api/v1/contacts/",
        {
            "phone_number": "14155551234",
            "email": "ana@example.com",
            "first_name": "Ana",
            "last_name": "Lopez",
            "timezone": "America/New_York",
            "tags": ["VIP", "shop"],
        },
        format="json",
    )
    assert response.status_code == 201
    contact = Contact.objects.get()
    body = response.json()
    assert body == {
        "id": contact.pk,
        "uuid": str(contact.uuid),
        "phone_number": "+14155551234",
        "email": "ana@example.com",
        "first_name": "Ana",
        "last_name": "Lopez",
        "timezone": "America/New_York",
        "carrier": "",
        "line_type": "unknown",
        "is_valid": True,
        "blocked": False,
        "tags": ["shop", "VIP"],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "status": "active",
        "subscriptions": [],
        "withheld_fields": [],
    }


def test_create_with_a_known_phone_merges_without_blanking(client):
    contact = ContactFactory(phone_number="+14155551234", email="old@example.com", first_name="Ana")
    response = client.post(
        "/api/v1/contacts/", {"phone_number": "4155551234", "email": "", "last_name": "Lopez"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["id"] == contact.pk
    contact.refresh_from_db()
    assert (contact.email, contact.first_name, contact.last_name) == ("old@example.com", "Ana", "Lopez")
    assert Contact.objects.count() == 1


def test_invalid_phone_is_a_400_naming_the_field_and_reason(client):
    response = client.post("/api/v1/contacts/", {"phone_number": "555-CALL-NOW"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "phone_number: 555-CALL-NOW is not a valid phone number: contains letters.",
        "field_errors": {"phone_number": ["555-CALL-NOW is not a valid phone number: contains letters."]},
    }
    assert Contact.objects.count() == 0


def test_several_invalid_fields_are_reported_together(client):
    response = client.post(
        "/api/v1/contacts/", {"phone_number": "12", "email": "nope", "timezone": "Mars/Base"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "3 fields are invalid: email, phone_number, timezone."
    assert body["field_errors"] == {
        "phone_number": ["12 is not a valid phone number: wrong number of digits."],
        "email": ["Enter a valid email address."],
        "timezone": ["'Mars/Base' is not an IANA time zone name (e.g. America/New_York)."],
    }


def test_malformed_json_is_a_400_in_the_error_shape(client):
    response = client.generic("POST", "/api/v1/contacts/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert set(response.json()) == {"code", "message", "field_errors"}


@pytest.mark.parametrize("content_type", ["", "text/plain"])
def test_a_body_of_an_unsupported_type_is_a_documented_415_in_the_error_shape(client, content_type):
    response = client.generic(
        "POST", "/api/v1/contacts/", "phone_number=+14155550100", content_type=content_type
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert set(response.json()) == {"code", "message", "field_errors"}
    assert not Contact.objects.exists()
    operations = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert "415" in operations["/api/v1/contacts/"]["post"]["responses"]
    assert "415" not in operations["/api/v1/contacts/"]["get"]["responses"]


def test_retrieve_update_and_delete_by_integer_id(client):
    contact = ContactFactory(first_name="Ana", email="ana@example.com")
    assert client.get(f"/api/v1/contacts/{contact.pk}").json()["first_name"] == "Ana"
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}/", {"email": "", "phone_number": "415 555 9999"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["email"] == ""
    assert response.json()["phone_number"] == "+14155559999"
    contact.refresh_from_db()
    assert (contact.email, contact.phone_number) == ("", "+14155559999")
    assert client.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404


def test_update_to_another_contacts_phone_is_a_400(client):
    other = ContactFactory(phone_number="+14155550001")
    contact = ContactFactory(phone_number="+14155550002")
    response = client.patch(f"/api/v1/contacts/{contact.pk}/", {"phone_number": "4155550001"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "phone_number": [f"+14155550001 is already the phone number of contact #{other.pk}."]
    }
    contact.refresh_from_db()
    assert contact.phone_number == "+14155550002"


def test_put_is_not_offered(client):
    contact = ContactFactory()
    response = client.put(f"/api/v1/contacts/{contact.pk}/", {"phone_number": "+14155551234"}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_delete_keeps_the_opt_out_when_the_number_comes_back(client):
    sending_list = SendingListFactory()
    contact = ContactFactory(phone_number="+14155551234")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=ACTOR
    ).membership
    list_contact_opt_out(membership=membership, reason="message", actor=ACTOR)
    assert client.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    response = client.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/", {"phone_number": "14155551234"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "skipped_opted_out"
    assert response.json()["membership"]["status"] == "message"
    assert ListContact.objects.get().active is False


def test_contact_shows_its_subscriptions_and_status(client):
    subscribed, opted_out = SendingListFactory(), SendingListFactory()
    contact = ContactFactory()
    ListContactFactory(contact=contact, sending_list=subscribed)
    ListContactFactory(
        contact=contact,
        sending_list=opted_out,
        active=False,
        unsub_reason="complaint",
        opted_out_at=timezone.now(),
    )
    body = client.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert body["status"] == "subscribed"
    assert [(s["sending_list"], s["status"]) for s in body["subscriptions"]] == [
        (subscribed.pk, "active"),
        (opted_out.pk, "complaint"),
    ]


def test_a_blocked_contacts_subscriptions_read_blocked_on_v1_and_v2(client):
    subscribed, opted_out = SendingListFactory(), SendingListFactory()
    contact = ContactFactory(blocked=True)
    ListContactFactory(contact=contact, sending_list=subscribed)
    ListContactFactory(
        contact=contact,
        sending_list=opted_out,
        active=False,
        unsub_reason="complaint",
        opted_out_at=timezone.now(),
    )
    for path in (f"/api/v1/contacts/{contact.pk}/", f"/api/v2/contacts/{contact.uuid}", "/api/v1/contacts/"):
        body = client.get(path).json()
        body = body["results"][0] if "results" in body else body
        assert body["status"] == "blocked"
        # `active` and `unsub_reason` still tell what the subscription itself holds.
        assert [
            (s["sending_list"], s["status"], s["active"], s["unsub_reason"]) for s in body["subscriptions"]
        ] == [
            (subscribed.pk, "blocked", True, ""),
            (opted_out.pk, "blocked", False, "complaint"),
        ], path


# --- tags -----------------------------------------------------------------------------------------


def test_tags_add_replace_and_read(client):
    contact = ContactFactory()
    url = f"/api/v1/contacts/{contact.pk}/tags/"
    assert client.post(url, {"tags": ["vip", "shop"]}, format="json").json() == {"tags": ["shop", "vip"]}
    assert client.post(url, {"tags": ["VIP", "new"]}, format="json").json() == {
        "tags": ["new", "shop", "vip"]
    }
    assert client.put(url, {"tags": ["only"]}, format="json").json() == {"tags": ["only"]}
    assert client.get(url).json() == {"tags": ["only"]}


def test_a_non_ascii_tag_set_on_a_second_contact_is_the_same_tag(client):
    """Found by schemathesis: the second PUT of a tag whose case only the database folds was a 500."""
    first, second = ContactFactory(), ContactFactory()
    for contact in (first, second):
        response = client.put(f"/api/v1/contacts/{contact.pk}/tags/", {"tags": ["Ósmosis"]}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {"tags": ["Ósmosis"]}
    assert Tag.objects.filter(name="Ósmosis").count() == 1


def test_sixth_tag_is_a_400_that_says_so_and_changes_nothing(client):
    contact = ContactFactory()
    contact.tags.set([TagFactory(name=f"t{i}") for i in range(5)])
    response = client.post(f"/api/v1/contacts/{contact.pk}/tags/", {"tags": ["sixth"]}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "tags: A contact can have at most 5 tags; this would give it 6.",
        "field_errors": {"tags": ["A contact can have at most 5 tags; this would give it 6."]},
    }
    assert sorted(tag.name for tag in contact.tags.all()) == ["t0", "t1", "t2", "t3", "t4"]


def test_six_tags_on_create_is_a_400_and_creates_no_contact(client):
    response = client.post(
        "/api/v1/contacts/", {"phone_number": "+14155551234", "tags": list("abcdef")}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "tags": ["A contact can have at most 5 tags; this would give it 6."]
    }
    assert Contact.objects.count() == 0


# --- filters, search, ordering, pagination --------------------------------------------------------


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_filter_by_phone_in_any_format_and_by_email(client):
    ana = ContactFactory(phone_number="+14155551234", email="Ana@Example.com")
    ContactFactory()
    assert ids(client.get("/api/v1/contacts/", {"phone": "14155551234"})) == [ana.pk]
    assert ids(client.get("/api/v1/contacts/", {"phone": "(415) 555-1234"})) == [ana.pk]
    assert ids(client.get("/api/v1/contacts/", {"email": "ana@example.COM"})) == [ana.pk]
    response = client.get("/api/v1/contacts/", {"phone": "12"})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "phone": ["12 is not a valid phone number: wrong number of digits."]
    }


def test_the_phone_filter_and_the_search_find_a_contact_by_its_phone_channel(client):
    ana = ContactFactory(phone_number="+14155551234")
    ContactChannel.objects.create(contact=ana, kind="phone", value="+14155559876")
    ContactFactory(phone_number="+14155550000")

    assert ids(client.get("/api/v1/contacts/", {"phone": "(415) 555-9876"})) == [ana.pk]
    assert ids(client.get("/api/v1/contacts/", {"search": "14155559876"})) == [ana.pk]
    assert ids(client.get("/api/v1/contacts/", {"phone": "+14155559877"})) == []


def test_filter_by_list_status_reason_and_signup_method(client):
    sending_list, other = SendingListFactory(), SendingListFactory()
    active = ListContactFactory(sending_list=sending_list, signup_method="import").contact
    opted = ListContactFactory(
        sending_list=sending_list, active=False, unsub_reason="message", opted_out_at=timezone.now()
    ).contact
    elsewhere = ListContactFactory(sending_list=other).contact
    blocked = ContactFactory(blocked=True)
    loner = ContactFactory()
    url = "/api/v1/contacts/"
    assert ids(client.get(url, {"list": sending_list.pk})) == [opted.pk, active.pk]
    assert ids(client.get(url, {"list": sending_list.pk, "status": "subscribed"})) == [active.pk]
    assert ids(client.get(url, {"status": "subscribed"})) == [elsewhere.pk, active.pk]
    assert ids(client.get(url, {"status": "unsubscribed"})) == [opted.pk]
    assert ids(client.get(url, {"status": "blocked"})) == [blocked.pk]
    assert ids(client.get(url, {"status": "active"})) == [loner.pk]
    assert ids(client.get(url, {"unsub_reason": "message"})) == [opted.pk]
    assert ids(client.get(url, {"unsub_reason": "complaint"})) == []
    assert ids(client.get(url, {"signup_method": "import", "list": sending_list.pk})) == [active.pk]
    response = client.get(url, {"list": 999999})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"list": ["No sending list 999999."]}


def test_filter_by_tag_and_dates(client):
    tagged = ContactFactory()
    tagged.tags.add(TagFactory(name="VIP"))
    old = ContactFactory()
    Contact.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10), updated_at=timezone.now() - dt.timedelta(days=10)
    )
    url = "/api/v1/contacts/"
    assert ids(client.get(url, {"tag": "vip"})) == [tagged.pk]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(client.get(url, {"created_since": since})) == [tagged.pk]
    assert ids(client.get(url, {"updated_since": since})) == [tagged.pk]
    response = client.get(url, {"created_since": "yesterday"})
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["created_since"]


def test_filter_by_custom_field_needs_the_list_and_compares_typed_values(client):
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="score", field_type="number")
    high = ListContactFactory(sending_list=sending_list, custom_fields={"score": 42}).contact
    ListContactFactory(sending_list=sending_list, custom_fields={"score": 7})
    url = "/api/v1/contacts/"
    assert ids(client.get(url, {"list": sending_list.pk, "custom_fields": '{"score": "42"}'})) == [high.pk]
    response = client.get(url, {"custom_fields": '{"score": 42}'})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "custom_fields": ["Filtering by custom fields needs `list` (fields are per list)."]
    }


def test_search_by_phone_email_or_name_prefix(client):
    ana = ContactFactory(
        phone_number="+14155551234", email="ana@example.com", first_name="Ana", last_name="Zed"
    )
    bob = ContactFactory(first_name="Bob", last_name="Anders", email="bob@example.com")
    url = "/api/v1/contacts/"
    assert ids(client.get(url, {"search": "415-555-1234"})) == [ana.pk]
    assert ids(client.get(url, {"search": "ANA@example.com"})) == [ana.pk]
    assert ids(client.get(url, {"search": "an"})) == [bob.pk, ana.pk]
    assert ids(client.get(url, {"search": "ze"})) == [ana.pk]


def test_cursor_pagination_walks_forward_and_back_without_gaps(client):
    contacts = [ContactFactory() for _ in range(7)]
    expected = [c.pk for c in reversed(contacts)]
    first = client.get("/api/v1/contacts/", {"page_size": 3}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"] + third["results"]] == expected
    assert first["previous"] is None
    assert third["next"] is None
    back = client.get(third["previous"]).json()
    assert [r["id"] for r in back["results"]] == expected[3:6]
    assert [r["id"] for r in client.get(back["previous"]).json()["results"]] == expected[:3]


def test_ordering_by_created_at_pages_through_ties(client):
    now = timezone.now()
    contacts = [ContactFactory() for _ in range(5)]
    Contact.objects.update(created_at=now)  # all tie: the id breaks the tie
    page = client.get("/api/v1/contacts/", {"ordering": "created_at", "page_size": 2}).json()
    seen = [r["id"] for r in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert seen == [c.pk for c in contacts]


def test_bad_pagination_parameters_are_400s(client):
    response = client.get("/api/v1/contacts/", {"page_size": 1000})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"page_size": ["Must be a whole number from 1 to 200."]}
    response = client.get("/api/v1/contacts/", {"ordering": "email"})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "ordering": ["Must be one of: -id, id, -created_at, created_at, -updated_at, updated_at."]
    }
    response = client.get("/api/v1/contacts/", {"cursor": "garbage"})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "cursor": ["Invalid cursor: use the next/previous links as given."]
    }


def test_list_page_runs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    sending_list = SendingListFactory()
    for _ in range(30):
        membership = ListContactFactory(sending_list=sending_list)
        membership.contact.tags.add(TagFactory(name="vip"))
    with django_assert_max_num_queries(6):
        assert len(ids(client.get("/api/v1/contacts/"))) == 30


def test_subscription_events_name_the_token(client):
    sending_list = SendingListFactory()
    client.post(f"/api/v1/lists/{sending_list.pk}/contacts/", {"phone_number": "+14155551234"}, format="json")
    event = SubscriptionEvent.objects.get()
    assert (event.kind, event.actor_kind, event.actor_id, event.actor_label) == (
        "subscribed",
        "api_token",
        str(client.token.pk),
        "API token test consumer",
    )


def test_since_filters_take_any_utc_offset_iso_8601_allows(client):
    # PostgreSQL refuses offsets beyond ±15:59; the filter converts to UTC first (this was a 500).
    response = client.get("/api/v1/contacts/", {"updated_since": "2026-06-09T08:07:03-18:47"})
    assert response.status_code == 200
    response = client.get("/api/v1/contacts/", {"created_since": "0001-01-01T00:00:00+21:56"})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"created_since": ["Out of range once converted to UTC."]}


def test_each_filterset_gets_filters_of_its_own_that_call_back_into_it():
    first, second = ContactFilter(data={}), ContactFilter(data={})

    for name, filter_ in first.filters.items():
        assert filter_ is not second.filters[name]
        assert (filter_.parent, second.filters[name].parent) == (first, second)
    assert first.filters["phone"].filter.method.__self__ is first
    assert second.filters["phone"].filter.method.__self__ is second
    assert ContactFilter.base_filters["phone"].filter.f is ContactFilter.base_filters["phone"]


def test_a_filtersets_form_validates_the_filters_its_query_names(db):
    named = ContactFilter(data=QueryDict("status=nonsense&email=a@example.com"))
    assert set(named.form.fields) == {"status", "email"}
    assert not named.form.is_valid() and set(named.form.errors) == {"status"}
    assert set(ContactFilter(data=QueryDict("tag=vip")).form.fields) == {"tag"}
    assert ContactFilter(data=QueryDict("")).form.is_valid()
