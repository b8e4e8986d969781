import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.models import IdempotencyKey, ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactFactory, CustomFieldFactory, SendingListFactory

ACTOR = Actor.system("test")
BULK = "/api/v1/contacts/bulk/"


def test_bulk_upsert_gives_a_result_per_item(client):
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="plan", field_type="choice", choices=["free", "pro"])
    existing = ContactFactory(phone_number="+14155550002", first_name="Old")
    response = client.post(
        BULK,
        {
            "sending_list": sending_list.pk,
            "contacts": [
                {"phone_number": "14155550001", "first_name": "Ana", "custom_fields": {"plan": "pro"}},
                {"phone_number": "(415) 555-0002", "last_name": "Known"},
                {"phone_number": "not a phone"},
                {"phone_number": "+14155550003", "custom_fields": {"plan": "gold"}},
                "just a string",
            ],
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    created = Contact.objects.get(phone_number="+14155550001")
    assert body["results"] == [
        {
            "index": 0,
            "status": "ok",
            "contact": {
                "id": created.pk,
                "uuid": str(created.uuid),
                "phone_number": "+14155550001",
                "created": True,
                "status": "subscribed",
                "withheld_fields": [],
            },
            "subscription": {"sending_list": sending_list.pk, "outcome": "created", "reason": ""},
            "errors": {},
        },
        {
            "index": 1,
            "status": "ok",
            "contact": {
                "id": existing.pk,
                "uuid": str(existing.uuid),
                "phone_number": "+14155550002",
                "created": False,
                "status": "subscribed",
                "withheld_fields": [],
            },
            "subscription": {"sending_list": sending_list.pk, "outcome": "created", "reason": ""},
            "errors": {},
        },
        {
            "index": 2,
            "status": "error",
            "contact": None,
            "subscription": None,
            "errors": {"phone_number": ["not a phone is not a valid phone number: contains letters."]},
        },
        {
            "index": 3,
            "status": "error",
            "contact": None,
            "subscription": None,
            "errors": {"custom_fields.plan": ["Plan: 'gold' is not one of: free, pro."]},
        },
        {
            "index": 4,
            "status": "error",
            "contact": None,
            "subscription": None,
            "errors": {"non_field_errors": ["Expected a contact object."]},
        },
    ]
    assert body["counts"] == {
        "ok": 2,
        "error": 3,
        "contacts_created": 1,
        "subscribed": 2,
        "updated": 0,
        "skipped_opted_out": 0,
        "skipped_blocked": 0,
    }
    existing.refresh_from_db()
    assert (existing.first_name, existing.last_name) == ("Old", "Known")
    assert not Contact.objects.filter(phone_number="+14155550003").exists()  # the failed item left nothing
    assert ListContact.objects.count() == 2


def test_bulk_upsert_never_reactivates_an_opted_out_membership(client):
    sending_list = SendingListFactory()
    contact = ContactFactory(phone_number="+14155550001")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="import", actor=ACTOR
    ).membership
    list_contact_opt_out(membership=membership, reason="complaint", actor=ACTOR)
    response = client.post(
        BULK, {"sending_list": sending_list.pk, "contacts": [{"phone_number": "14155550001"}]}, format="json"
    )
    result = response.json()["results"][0]
    assert result["subscription"] == {
        "sending_list": sending_list.pk,
        "outcome": "skipped_opted_out",
        "reason": "The contact opted out of this list (Complaint); only the contact (START) or an explicit "
        "resubscribe can subscribe it again.",
    }
    assert response.json()["counts"]["skipped_opted_out"] == 1
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "complaint")


def test_bulk_upsert_without_a_list_only_upserts_contacts(client):
    response = client.post(
        BULK, {"contacts": [{"phone_number": "+14155550001", "tags": ["vip"]}]}, format="json"
    )
    result = response.json()["results"][0]
    assert (result["status"], result["subscription"]) == ("ok", None)
    assert [t.name for t in Contact.objects.get().tags.all()] == ["vip"]
    assert ListContact.objects.count() == 0


def test_bulk_upsert_item_can_name_its_own_list(client):
    first, second = SendingListFactory(), SendingListFactory()
    response = client.post(
        BULK,
        {
            "sending_list": first.pk,
            "contacts": [
                {"phone_number": "+14155550001"},
                {"phone_number": "+14155550002", "sending_list": second.pk},
                {"phone_number": "+14155550003", "sending_list": 999999},
            ],
        },
        format="json",
    )
    results = response.json()["results"]
    assert [r["subscription"]["sending_list"] for r in results[:2]] == [first.pk, second.pk]
    assert results[2]["errors"] == {"sending_list": ["No sending list 999999."]}


@pytest.mark.parametrize(
    ("payload", "field_errors"),
    [
        ({"contacts": []}, {"contacts": ["Expected an array of 1 to 1000 contacts."]}),
        ({"contacts": "x"}, {"contacts": ["Expected an array of 1 to 1000 contacts."]}),
        ({}, {"contacts": ["Expected an array of 1 to 1000 contacts."]}),
        (
            {"contacts": [{"phone_number": "+14155550001"}] * 1001},
            {"contacts": ["Expected an array of 1 to 1000 contacts."]},
        ),
        (
            {"sending_list": 999999, "contacts": [{"phone_number": "+14155550001"}]},
            {"sending_list": ["No sending list 999999."]},
        ),
    ],
)
def test_bulk_upsert_rejects_a_bad_request_whole(client, payload, field_errors):
    response = client.post(BULK, payload, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == field_errors
    assert Contact.objects.count() == 0


def test_bulk_upsert_takes_a_thousand_items_and_answers_each(client):
    sending_list = SendingListFactory()
    # Mostly invalid items (cheap) prove the limit is inclusive; bench/api_bench.py times real upserts.
    items = [{"phone_number": "+14155550001"}, *({"phone_number": "12"} for _ in range(999))]
    response = client.post(BULK, {"sending_list": sending_list.pk, "contacts": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 1000
    assert [r["index"] for r in body["results"]] == list(range(1000))
    assert (body["counts"]["subscribed"], body["counts"]["error"]) == (1, 999)
    assert ListContact.objects.filter(sending_list=sending_list).count() == 1


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_retry_with_the_same_idempotency_key_returns_the_first_response(client):
    sending_list = SendingListFactory()
    payload = {"sending_list": sending_list.pk, "contacts": [{"phone_number": "+14155550001"}]}
    first = client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="import-42")
    contact = Contact.objects.get()
    contact.delete()  # a retry that acted again would re-create it
    retry = client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="import-42")
    assert retry.status_code == first.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 0
    assert SubscriptionEvent.objects.filter(kind="subscribed").count() == 1


def test_idempotency_key_works_on_single_creates(client):
    first = client.post(
        "/api/v1/contacts/", {"phone_number": "+14155550001"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    retry = client.post(
        "/api/v1/contacts/", {"phone_number": "+14155550001"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()


def test_idempotency_key_reused_with_another_body_is_a_422(client):
    client.post(
        BULK, {"contacts": [{"phone_number": "+14155550001"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    response = client.post(
        BULK, {"contacts": [{"phone_number": "+14155550002"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 422
    assert response.json() == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used with a different request.",
        "field_errors": {},
    }
    assert not Contact.objects.filter(phone_number="+14155550002").exists()


def test_idempotency_keys_are_per_token(make_client):
    first, second = make_client(name="a"), make_client(name="b")
    payload = {"contacts": [{"phone_number": "+14155550001", "first_name": "Ana"}]}
    first.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    response = second.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert IdempotencyKey.objects.count() == 2


def test_a_failed_request_does_not_consume_its_idempotency_key(client):
    bad = client.post(BULK, {"contacts": []}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert bad.status_code == 400
    assert IdempotencyKey.objects.count() == 0
    good = client.post(
        BULK, {"contacts": [{"phone_number": "+14155550001"}]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert good.status_code == 200
    assert Contact.objects.count() == 1


def test_an_empty_idempotency_key_is_a_400(client):
    response = client.post(
        BULK, {"contacts": [{"phone_number": "+14155550001"}]}, format="json", HTTP_IDEMPOTENCY_KEY=" "
    )
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["Idempotency-Key"]
    assert Contact.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_with_one_idempotency_key_act_once(make_client):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serializes whole transactions)")
    key = make_client().token_key
    sending_list = SendingListFactory()
    payload = {
        "sending_list": sending_list.pk,
        "contacts": [{"phone_number": f"+1415555{n:04d}"} for n in range(50)],
    }
    responses = []
    barrier = threading.Barrier(4)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait()
            responses.append(client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="concurrent"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(responses) == 4
    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert sorted("Idempotent-Replayed" in r for r in responses) == [False, True, True, True]
    assert bodies[0]["counts"]["subscribed"] == 50
    assert SubscriptionEvent.objects.filter(kind="subscribed").count() == 50


def test_an_expired_idempotency_key_acts_again_and_old_keys_are_purged(client):
    payload = {"contacts": [{"phone_number": "+14155550001"}]}
    client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="old")
    client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="older")
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    Contact.objects.all().delete()
    response = client.post(BULK, payload, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert "Idempotent-Replayed" not in response
    assert Contact.objects.count() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["old"]
