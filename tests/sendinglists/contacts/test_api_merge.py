"""POST /api/v1/contacts/{id}/merge (and v2 with UUIDs) and GET contacts/duplicates, with real tokens."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from contacts.models import Contact, ContactChannel
from contacts.services import contact_set_tags
from sendinglists.actors import Actor
from sendinglists.choices import EventKind
from sendinglists.models import ContactMerge, ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


def subscribe(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


@pytest.fixture
def lists():
    return SendingListFactory(name="Deals"), SendingListFactory(name="Other")


@pytest.fixture
def pair(lists):
    deals, _ = lists
    survivor = ContactFactory(phone_number="+16285550201", email="ana@example.com")
    duplicate = ContactFactory(phone_number="+16285550202", email="ANA@example.com")
    subscribe(deals, survivor)
    list_contact_opt_out(membership=subscribe(deals, duplicate), reason="message", actor=SYSTEM)
    return survivor, duplicate


def test_merge_answers_the_survivor_and_the_dropped_tags(client, pair, lists):
    survivor, duplicate = pair
    contact_set_tags(contact=survivor, names=["a", "b", "c", "d", "e"])
    contact_set_tags(contact=duplicate, names=["f"])
    duplicate_id, duplicate_uuid = duplicate.pk, str(duplicate.uuid)

    response = client.post(
        f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["dropped_tags"] == ["f"]
    assert body["duplicate"] == {"id": duplicate_id, "uuid": duplicate_uuid, "phone_number": "+16285550202"}
    assert body["contact"]["id"] == survivor.pk
    assert body["contact"]["subscriptions"][0]["status"] == "message"
    assert not Contact.objects.filter(pk=duplicate_id).exists()
    event = SubscriptionEvent.objects.get(kind=EventKind.MERGED)
    assert event.actor_label == f"API token {client.token.name}"


def test_merge_retried_answers_the_same(client, pair):
    survivor, duplicate = pair
    url = f"/api/v1/contacts/{survivor.pk}/merge"
    first = client.post(url, {"duplicate": duplicate.pk}, format="json")
    events = SubscriptionEvent.objects.count()

    again = client.post(url, {"duplicate": duplicate.pk}, format="json")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert SubscriptionEvent.objects.count() == events


def test_merge_with_an_idempotency_key_replays(client, pair):
    survivor, duplicate = pair
    url = f"/api/v1/contacts/{survivor.pk}/merge"
    first = client.post(url, {"duplicate": duplicate.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    again = client.post(url, {"duplicate": duplicate.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ContactMerge.objects.count() == 1


def test_merge_v2_takes_and_answers_uuids(client, pair):
    survivor, duplicate = pair
    duplicate_uuid = str(duplicate.uuid)

    response = client.post(
        f"/api/v2/contacts/{survivor.uuid}/merge", {"duplicate": duplicate_uuid}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["contact"]["id"] == str(survivor.uuid)
    assert {"kind": "phone", "value": "+16285550202"}.items() <= body["contact"]["channels"][0].items()
    assert body["duplicate"]["uuid"] == duplicate_uuid
    again = client.post(
        f"/api/v2/contacts/{survivor.uuid}/merge", {"duplicate": duplicate_uuid}, format="json"
    )
    assert again.json() == body


def test_merge_v2_refuses_an_integer_duplicate(client, pair):
    survivor, duplicate = pair
    response = client.post(
        f"/api/v2/contacts/{survivor.uuid}/merge", {"duplicate": duplicate.pk}, format="json"
    )
    assert response.status_code == 400
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_merge_of_an_unknown_duplicate_or_itself_or_an_unknown_key_is_a_400(client, pair):
    survivor, duplicate = pair
    url = f"/api/v1/contacts/{survivor.pk}/merge"
    assert client.post(url, {"duplicate": 999999}, format="json").status_code == 400
    assert client.post(url, {"duplicate": survivor.pk}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 400
    unknown_key = client.post(url, {"duplicate": duplicate.pk, "keep": "both"}, format="json")
    assert unknown_key.status_code == 400
    assert "keep" in unknown_key.json()["field_errors"]
    assert not ContactMerge.objects.exists()


def test_merge_needs_a_writing_token(make_client, anonymous, pair):
    survivor, duplicate = pair
    url = f"/api/v1/contacts/{survivor.pk}/merge"
    assert anonymous.post(url, {"duplicate": duplicate.pk}, format="json").status_code == 401
    reader = make_client(read_only=True)
    assert reader.post(url, {"duplicate": duplicate.pk}, format="json").status_code == 403
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_list_scoped_token_merges_no_contacts_even_wholly_inside_its_lists(make_client, pair, lists):
    """The duplicate's number would become a phone channel of the survivor, which identifies it on
    every list: only a token with access to every list adds one (tests/attack/test_session_attack.py)."""
    deals, _ = lists
    survivor, duplicate = pair
    scoped = make_client(sending_lists=[deals])

    response = scoped.post(
        f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
    )

    assert response.status_code == 403, response.json()
    assert "cannot merge contacts" in response.json()["message"]
    assert Contact.objects.filter(pk=duplicate.pk).exists()


@pytest.mark.parametrize("outside", ["survivor", "duplicate"])
def test_list_scoped_token_may_not_merge_a_contact_also_on_other_lists(make_client, pair, lists, outside):
    deals, other = lists
    survivor, duplicate = pair
    subscribe(other, survivor if outside == "survivor" else duplicate)
    scoped = make_client(sending_lists=[deals])

    response = scoped.post(
        f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
    )

    assert response.status_code == 403
    assert "+1628" not in response.content.decode()
    assert Contact.objects.filter(pk=duplicate.pk).exists()
    assert not SubscriptionEvent.objects.filter(kind=EventKind.MERGED).exists()


def test_list_scoped_token_cannot_tell_an_invisible_duplicate_from_a_missing_one(make_client, pair, lists):
    deals, other = lists
    survivor, _ = pair
    hidden = ContactFactory()
    subscribe(other, hidden)
    scoped = make_client(sending_lists=[deals])
    url = f"/api/v1/contacts/{survivor.pk}/merge"

    invisible = scoped.post(url, {"duplicate": hidden.pk}, format="json")
    missing = scoped.post(url, {"duplicate": 999999}, format="json")

    assert invisible.status_code == missing.status_code == 403
    assert invisible.json() == missing.json()
    assert Contact.objects.filter(pk=hidden.pk).exists()


def test_list_scoped_token_cannot_merge_into_a_survivor_it_cannot_see(make_client, pair, lists):
    _, other = lists
    survivor, duplicate = pair
    scoped = make_client(sending_lists=[other])
    response = scoped.post(
        f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
    )
    assert response.status_code == 404
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_duplicates_lists_pairs_by_email_and_by_channel(client, pair):
    survivor, duplicate = pair
    holder = ContactFactory(phone_number="+16285550301", email="")
    emailed = ContactFactory(phone_number="+16285550302", email="Bo@Example.org")
    ContactChannel.objects.create(contact=holder, kind="email", value="bo@example.org")

    response = client.get("/api/v1/contacts/duplicates")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "contact": survivor.pk,
                "duplicate": duplicate.pk,
                "reason": "email",
                "value": "ana@example.com",
            },
            {"contact": holder.pk, "duplicate": emailed.pk, "reason": "channel", "value": "bo@example.org"},
        ],
        "next": None,
    }
    v2 = client.get("/api/v2/contacts/duplicates").json()["results"][0]
    assert (v2["contact"], v2["duplicate"]) == (str(survivor.uuid), str(duplicate.uuid))


def test_duplicates_pages_with_a_cursor(client, monkeypatch):
    monkeypatch.setattr("contacts.duplicates.SCAN_ROWS", 3)
    for letter in "abcd":
        ContactFactory(email=f"{letter}@example.com")
        ContactFactory(email=f"{letter.upper()}@example.com")

    seen, cursor, pages = [], None, 0
    while True:
        body = client.get(
            "/api/v1/contacts/duplicates", {"limit": 1, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [pair["value"] for pair in body["results"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
    assert pages >= 4
    assert client.get("/api/v1/contacts/duplicates", {"cursor": "not-a-cursor"}).status_code == 400
    assert client.get("/api/v1/contacts/duplicates", {"limit": 0}).status_code == 400


def test_duplicates_shows_a_list_scoped_token_only_pairs_it_may_merge(make_client, pair, lists):
    deals, other = lists
    survivor, duplicate = pair
    third = ContactFactory(email="bo@example.com")
    fourth = ContactFactory(email="Bo@example.com")
    subscribe(deals, third)
    subscribe(other, fourth)
    scoped = make_client(sending_lists=[deals])

    results = scoped.get("/api/v1/contacts/duplicates").json()["results"]

    assert [(r["contact"], r["duplicate"]) for r in results] == [(survivor.pk, duplicate.pk)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("crossed", [True, False], ids=["a-into-b-and-b-into-a", "the-same-merge-twice"])
def test_concurrent_merges_of_one_pair_neither_deadlock_nor_merge_twice(make_client, crossed):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serializes whole transactions)")
    key = make_client().token_key
    deals = SendingListFactory()
    first, second = ContactFactory(), ContactFactory()
    subscribe(deals, first)
    subscribe(deals, second)
    requests = [(first, second), (second, first) if crossed else (first, second)]
    responses = []
    barrier = threading.Barrier(2)

    def post(survivor, duplicate):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait()
            responses.append(
                client.post(
                    f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=pair) for pair in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == ([200, 404] if crossed else [200, 200])
    assert Contact.objects.count() == 1
    assert ContactMerge.objects.count() == 1
    assert SubscriptionEvent.objects.filter(kind=EventKind.MERGED).count() == 1
    assert ListContact.objects.get().active is True
