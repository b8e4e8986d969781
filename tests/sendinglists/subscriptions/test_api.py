from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from contacts.models import Contact, ContactChannel
from sendinglists.actors import Actor
from sendinglists.lists.services import list_status_counts
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


@pytest.fixture
def sending_list(db):
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="plan", field_type="choice", choices=["free", "pro"])
    CustomFieldFactory(sending_list=sending_list, key="score", field_type="number")
    return sending_list


def url(sending_list, contact=None, suffix="") -> str:
    base = f"/api/v1/lists/{sending_list.pk}/contacts/"
    return base if contact is None else f"{base}{contact.pk}/{suffix}"


def test_subscribe_upserts_the_contact_with_signup_method_api(client, sending_list):
    response = client.post(
        url(sending_list),
        {"phone_number": "14155551234", "first_name": "Ana", "custom_fields": {"plan": "PRO", "score": "42"}},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    membership = ListContact.objects.get()
    assert (body["outcome"], body["reason"]) == ("created", "")
    assert body["membership"]["contact"]["phone_number"] == "+14155551234"
    assert body["membership"]["custom_fields"] == {"plan": "pro", "score": 42}
    assert (membership.signup_method, membership.active, membership.custom_fields) == (
        "api",
        True,
        {"plan": "pro", "score": 42},
    )
    assert membership.contact.first_name == "Ana"
    assert list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]["active"] == 1


def test_subscribe_accepts_custom_fields_keyed_by_field_id(client, sending_list):
    plan = sending_list.custom_fields.get(key="plan")
    response = client.post(
        url(sending_list),
        {"phone_number": "+14155551234", "custom_fields": {str(plan.pk): "free"}},
        format="json",
    )
    assert response.status_code == 201
    assert ListContact.objects.get().custom_fields == {"plan": "free"}


def test_subscribe_with_bad_custom_fields_is_a_400_per_field_and_writes_nothing(client, sending_list):
    response = client.post(
        url(sending_list),
        {"phone_number": "+14155551234", "custom_fields": {"plan": "gold", "score": "many", "nope": 1}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "custom_fields.nope": ["No custom field 'nope' on this list; define it first (keys: plan, score)."],
        "custom_fields.plan": ["Plan: 'gold' is not one of: free, pro."],
        "custom_fields.score": ["Score: 'many' is not a number."],
    }
    assert Contact.objects.count() == 0
    assert ListContact.objects.count() == 0


def test_subscribe_an_existing_contact_by_id(client, sending_list):
    contact = ContactFactory()
    response = client.post(url(sending_list), {"contact_id": contact.pk}, format="json")
    assert response.status_code == 201
    assert ListContact.objects.get().contact == contact
    response = client.post(url(sending_list), {"contact_id": 999999}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"contact_id": ["No contact 999999."]}


def test_subscribe_needs_exactly_one_of_phone_and_contact_id(client, sending_list):
    response = client.post(url(sending_list), {"first_name": "Ana"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "non_field_errors": ["Give either phone_number or contact_id (exactly one)."]
    }


def test_subscribe_again_merges_custom_fields_into_the_active_membership(client, sending_list):
    client.post(
        url(sending_list), {"phone_number": "+14155551234", "custom_fields": {"plan": "pro"}}, format="json"
    )
    response = client.post(
        url(sending_list), {"phone_number": "+14155551234", "custom_fields": {"score": 7}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "updated"
    assert ListContact.objects.get().custom_fields == {"plan": "pro", "score": 7}
    assert SubscriptionEvent.objects.count() == 1


def test_subscribe_never_reactivates_an_opted_out_membership(client, sending_list):
    contact = ContactFactory(phone_number="+14155551234")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="import", actor=ACTOR
    ).membership
    list_contact_opt_out(membership=membership, reason="message", actor=ACTOR)
    response = client.post(
        url(sending_list), {"phone_number": "14155551234", "custom_fields": {"plan": "pro"}}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "skipped_opted_out"
    assert body["reason"] == (
        "The contact opted out of this list (Opted-out); only the contact (START) or an explicit "
        "resubscribe can subscribe it again."
    )
    assert body["membership"]["status"] == "message"
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason, membership.custom_fields) == (False, "message", {})
    assert SubscriptionEvent.objects.filter(kind="subscribed").count() == 1


def test_subscribe_never_subscribes_a_blocked_contact(client, sending_list):
    ContactFactory(phone_number="+14155551234", blocked=True)
    response = client.post(url(sending_list), {"phone_number": "+14155551234"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "outcome": "skipped_blocked",
        "reason": "The contact is blocked and is never subscribed.",
        "membership": None,
    }
    assert ListContact.objects.count() == 0


def test_membership_shows_engagement_counters(client, sending_list):
    membership = ListContactFactory(
        sending_list=sending_list,
        send_count=12,
        click_count=3,
        conversion_count=1,
        revenue_total=Decimal("49.90"),
        last_sent_at=timezone.now(),
        in_workflow=True,
    )
    membership.contact.tags.add(TagFactory(name="vip"))
    body = client.get(url(sending_list, membership.contact)).json()
    assert (body["send_count"], body["click_count"], body["conversion_count"], body["revenue_total"]) == (
        12,
        3,
        1,
        49.9,
    )
    assert body["in_workflow"] is True
    assert body["last_sent_at"] is not None
    assert body["contact"]["tags"] == ["vip"]
    assert body["contact"]["id"] == membership.contact.pk


def test_update_custom_fields_merges_or_replaces(client, sending_list):
    membership = ListContactFactory(sending_list=sending_list, custom_fields={"plan": "free", "score": 1})
    response = client.patch(
        url(sending_list, membership.contact), {"custom_fields": {"score": "2"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["custom_fields"] == {"plan": "free", "score": 2}
    response = client.patch(
        url(sending_list, membership.contact),
        {"custom_fields": {"plan": "pro"}, "replace": True},
        format="json",
    )
    assert response.json()["custom_fields"] == {"plan": "pro"}
    membership.refresh_from_db()
    assert membership.custom_fields == {"plan": "pro"}


def test_unsubscribe_sets_reason_manual_and_is_idempotent(client, sending_list):
    contact = ContactFactory()
    list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=ACTOR)
    response = client.post(
        url(sending_list, contact, "unsubscribe/"), {"note": "asked by phone"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["changed"], body["membership"]["status"], body["membership"]["unsub_reason"]) == (
        True,
        "manual",
        "manual",
    )
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.reason, event.actor_kind, event.note) == ("manual", "api_token", "asked by phone")
    again = client.post(url(sending_list, contact, "unsubscribe/"), format="json").json()
    assert (again["changed"], again["reason"]) == (False, "Already unsubscribed (Manual).")
    assert SubscriptionEvent.objects.filter(kind="opted_out").count() == 1
    counts = list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
    assert (counts["active"], counts["manual"]) == (0, 1)


def test_delete_membership_removes_it_but_keeps_the_contact(client, sending_list):
    contact = ContactFactory()
    list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=ACTOR)
    assert client.delete(url(sending_list, contact)).status_code == 204
    assert ListContact.objects.count() == 0
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert client.get(url(sending_list, contact)).status_code == 404


def test_unknown_list_is_a_404_on_every_method(client):
    contact = ContactFactory()
    assert client.get("/api/v1/lists/999/contacts/").status_code == 404
    for query in ('custom_fields={"plan": "pro"}', "status=active", "search=Ana", "custom_fields=nope"):
        assert client.get(f"/api/v1/lists/999/contacts/?{query}").status_code == 404, query
    assert (
        client.post(
            "/api/v1/lists/999/contacts/", {"phone_number": "+14155551234"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/lists/999/contacts/{contact.pk}/").json() == {
        "code": "not_found",
        "message": "No sending list 999.",
        "field_errors": {},
    }
    assert Contact.objects.count() == 1


def contact_ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["contact"]["id"] for row in response.json()["results"]]


def test_the_membership_phone_filter_and_search_find_a_member_by_its_phone_channel(client, sending_list):
    member = ListContactFactory(
        sending_list=sending_list, contact=ContactFactory(phone_number="+14155551234")
    )
    ContactChannel.objects.create(contact=member.contact, kind="phone", value="+14155559876")
    ListContactFactory(sending_list=sending_list)

    assert contact_ids(client.get(url(sending_list), {"phone": "(415) 555-9876"})) == [member.contact_id]
    assert contact_ids(client.get(url(sending_list), {"search": "+1 415 555 9876"})) == [member.contact_id]


def test_membership_filters(client, sending_list):
    now = timezone.now()
    pro = ListContactFactory(
        sending_list=sending_list, custom_fields={"plan": "pro", "score": 5}, signup_method="import"
    )
    free = ListContactFactory(sending_list=sending_list, custom_fields={"plan": "free"})
    stopped = ListContactFactory(
        sending_list=sending_list,
        active=False,
        unsub_reason="message",
        opted_out_at=now,
        status_changed_at=now,
    )
    pro.contact.tags.add(TagFactory(name="vip"))
    ListContactFactory()  # another list's member never shows up
    base = url(sending_list)
    assert contact_ids(client.get(base)) == [stopped.contact_id, free.contact_id, pro.contact_id]
    assert contact_ids(client.get(base, {"status": "active"})) == [free.contact_id, pro.contact_id]
    assert contact_ids(client.get(base, {"status": "message"})) == [stopped.contact_id]
    assert contact_ids(client.get(base, {"unsub_reason": "message"})) == [stopped.contact_id]
    assert contact_ids(client.get(base, {"signup_method": "import"})) == [pro.contact_id]
    assert contact_ids(client.get(base, {"tag": "VIP"})) == [pro.contact_id]
    free.contact.tags.add(TagFactory(name="Ósmosis"))
    assert contact_ids(client.get(base, {"tag": "Ósmosis"})) == [free.contact_id]
    assert contact_ids(client.get(base, {"custom_fields": '{"plan": "PRO"}'})) == [pro.contact_id]
    assert contact_ids(client.get(base, {"custom_fields": '{"plan": "pro", "score": 5}'})) == [pro.contact_id]
    assert contact_ids(client.get(base, {"phone": pro.contact.phone_number[1:]})) == [pro.contact_id]
    assert contact_ids(client.get(base, {"email": free.contact.email.upper()})) == [free.contact_id]
    assert contact_ids(client.get(base, {"search": free.contact.phone_number})) == [free.contact_id]
    response = client.get(base, {"custom_fields": "not json"})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "custom_fields": ['Expected a JSON object of field key (or id) to value, e.g. {"plan": "pro"}.']
    }
    response = client.get(base, {"status": "gone"})
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["status"]


def test_a_tag_that_no_contact_has_is_an_empty_page_not_a_500(client, sending_list):
    # Found by the schema fuzz (tests/api/test_schema.py): the empty selection dropped the view's
    # annotation, and reading its rows failed.
    ListContactFactory(sending_list=sending_list).contact.tags.add(TagFactory(name="vip"))
    response = client.get(url(sending_list), {"tag": "nobody-has-this", "in_workflow": "true"})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_memberships_of_blocked_contacts_read_blocked_and_filter_as_blocked(client, sending_list):
    now = timezone.now()
    active = ListContactFactory(sending_list=sending_list)
    blocked = ListContactFactory(sending_list=sending_list, contact=ContactFactory(blocked=True))
    blocked_stopped = ListContactFactory(
        sending_list=sending_list,
        contact=ContactFactory(blocked=True),
        active=False,
        unsub_reason="message",
        opted_out_at=now,
    )
    base = url(sending_list)

    rows = {row["contact"]["id"]: row for row in client.get(base).json()["results"]}

    assert {
        contact_id: (row["status"], row["active"], row["unsub_reason"]) for contact_id, row in rows.items()
    } == {
        active.contact_id: ("active", True, ""),
        blocked.contact_id: ("blocked", True, ""),
        blocked_stopped.contact_id: ("blocked", False, "message"),
    }
    assert client.get(url(sending_list, blocked.contact)).json()["status"] == "blocked"
    assert contact_ids(client.get(base, {"status": "blocked"})) == [
        blocked_stopped.contact_id,
        blocked.contact_id,
    ]
    assert contact_ids(client.get(base, {"status": "active"})) == [active.contact_id]
    assert contact_ids(client.get(base, {"status": "message"})) == []
    assert contact_ids(client.get(base, {"unsub_reason": "message"})) == [blocked_stopped.contact_id]


def test_memberships_page_by_engagement_order_through_ties(client, sending_list):
    memberships = [ListContactFactory(sending_list=sending_list, send_count=n % 3) for n in range(8)]
    expected = [m.contact_id for m in sorted(memberships, key=lambda m: (-m.send_count, -m.pk))]
    page = client.get(url(sending_list), {"ordering": "-send_count", "page_size": 3}).json()
    seen = [row["contact"]["id"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["contact"]["id"] for row in page["results"]]
    assert seen == expected


def test_memberships_page_by_revenue(client, sending_list):
    memberships = [
        ListContactFactory(sending_list=sending_list, revenue_total=Decimal(value))
        for value in ["10.50", "2.00", "10.50", "99.99", "0.00"]
    ]
    expected = [m.contact_id for m in sorted(memberships, key=lambda m: (m.revenue_total, m.pk))]
    page = client.get(url(sending_list), {"ordering": "revenue_total", "page_size": 2}).json()
    seen = [row["contact"]["id"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["contact"]["id"] for row in page["results"]]
    assert seen == expected


def test_membership_page_runs_a_fixed_number_of_queries(client, sending_list, django_assert_max_num_queries):
    for _ in range(30):
        ListContactFactory(sending_list=sending_list).contact.tags.add(TagFactory(name="vip"))
    with django_assert_max_num_queries(6):
        assert len(contact_ids(client.get(url(sending_list)))) == 30


def test_memberships_page_by_last_sent_with_never_sent_last(client, sending_list):
    now = timezone.now()
    never = [ListContactFactory(sending_list=sending_list) for _ in range(2)]
    sent = [
        ListContactFactory(sending_list=sending_list, last_sent_at=now - timezone.timedelta(hours=hours))
        for hours in (5, 1, 3)
    ]
    expected = [sent[1].contact_id, sent[2].contact_id, sent[0].contact_id] + [
        m.contact_id for m in reversed(never)
    ]
    page = client.get(url(sending_list), {"ordering": "-last_sent_at", "page_size": 2}).json()
    seen = [row["contact"]["id"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["contact"]["id"] for row in page["results"]]
    assert seen == expected
    back = client.get(page["previous"]).json()
    assert [row["contact"]["id"] for row in back["results"]] == expected[2:4]


def test_a_cursor_does_not_continue_another_ordering(client, sending_list):
    for _ in range(3):
        ListContactFactory(sending_list=sending_list)
    page = client.get(url(sending_list), {"ordering": "-send_count", "page_size": 1}).json()
    cursor = parse_qs(urlparse(page["next"]).query)["cursor"][0]
    response = client.get(url(sending_list), {"ordering": "-id", "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "cursor": ["This cursor belongs to another ordering; drop it to start over."]
    }


def test_a_nul_character_anywhere_in_the_body_is_a_400_naming_the_field(client, sending_list):
    response = client.post(
        url(sending_list),
        {"phone_number": "+14155551234", "custom_fields": {"plan": "pro\x00"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"custom_fields.plan": ["Null characters are not allowed."]}
    response = client.get(url(sending_list), {"custom_fields": '{"plan": "pro\\u0000"}'})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"custom_fields": ["Null characters are not allowed."]}
    assert Contact.objects.count() == 0
