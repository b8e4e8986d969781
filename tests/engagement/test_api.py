"""Event ingestion API: sends, clicks, conversions and in_workflow on one membership."""

import pytest
from rest_framework.test import APIClient

from engagement.models import Click, Conversion, Message
from sendinglists.actors import Actor
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.tokens.services import api_token_create
from tests.factories import ContactFactory, ListContactFactory


def client_for(**token_kwargs) -> APIClient:
    _, key = api_token_create(name="events", **token_kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(db) -> APIClient:
    return client_for()


@pytest.fixture
def member(sending_list):
    return ListContactFactory(sending_list=sending_list, contact=ContactFactory())


def url(member, what: str) -> str:
    return f"/api/v1/lists/{member.sending_list_id}/contacts/{member.contact_id}/{what}"


def test_recording_a_click_returns_it_with_the_updated_counters(api, member):
    response = api.post(
        url(member, "clicks"),
        {"url": "https://acme.example/sale", "clicked_at": "2026-05-01T12:00:00Z"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    click = Click.objects.get()
    assert body["click"] == {
        "id": click.pk,
        "url": "https://acme.example/sale",
        "clicked_at": "2026-05-01T12:00:00Z",
    }
    assert (body["membership"]["click_count"], body["membership"]["last_clicked_at"]) == (
        1,
        "2026-05-01T12:00:00Z",
    )


def test_a_click_retried_with_the_same_idempotency_key_counts_once(api, member):
    for _ in range(2):
        response = api.post(
            url(member, "clicks"),
            {"url": "https://acme.example"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="click-1",
        )
        assert response.status_code == 201

    assert response["Idempotent-Replayed"] == "true"
    member.refresh_from_db()
    assert (Click.objects.count(), member.click_count) == (1, 1)


def test_a_retried_conversion_counts_once(api, member):
    payload = {"order_id": "A-100", "revenue": "49.90"}
    first = api.post(url(member, "conversions"), payload, format="json")
    retry = api.post(url(member, "conversions"), payload, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert (first.json()["created"], retry.json()["created"]) == (True, False)
    assert retry.json()["conversion"]["revenue"] == 49.9
    assert (retry.json()["membership"]["conversion_count"], retry.json()["membership"]["revenue_total"]) == (
        1,
        49.9,
    )
    assert Conversion.objects.count() == 1


def test_a_recorded_send_counts_once_per_provider_id(api, member):
    payload = {"body": "Flash sale", "provider_message_id": "ext-1"}
    first = api.post(url(member, "sends"), payload, format="json")
    retry = api.post(url(member, "sends"), payload, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["message"]["provider_message_id"] == "ext-1"
    assert retry.json()["membership"]["send_count"] == 1
    assert Message.objects.count() == 1


def test_in_workflow_is_set_and_cleared_and_refused_for_an_unsubscribed_member(api, member):
    entered = api.put(url(member, "workflow"), {"in_workflow": True}, format="json")
    assert (entered.status_code, entered.json()["changed"], entered.json()["membership"]["in_workflow"]) == (
        200,
        True,
        True,
    )
    left = api.put(url(member, "workflow"), {"in_workflow": False}, format="json")
    assert left.json()["membership"]["in_workflow"] is False

    list_contact_opt_out(membership=member, reason="manual", actor=Actor.system("test"))
    refused = api.put(url(member, "workflow"), {"in_workflow": True}, format="json")
    assert refused.status_code == 400
    assert refused.json()["field_errors"] == {
        "in_workflow": ["The membership is unsubscribed: it cannot enter a journey."]
    }


@pytest.mark.parametrize(
    ("what", "payload", "field"),
    [
        ("clicks", {"url": "not a url"}, "url"),
        ("clicks", {}, "url"),
        ("conversions", {"order_id": "A-1", "revenue": "-5"}, "revenue"),
        ("conversions", {"order_id": "A-1", "revenue": "1.234"}, "revenue"),
        ("conversions", {"revenue": "5"}, "order_id"),
        ("sends", {"sent_at": "yesterday"}, "sent_at"),
        ("clicks", {"url": "https://acme.example", "provider_message_id": "SMnope"}, "provider_message_id"),
    ],
)
def test_bad_events_are_a_400_naming_the_field_and_count_nothing(api, member, what, payload, field):
    response = api.post(url(member, what), payload, format="json")

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == [field]
    member.refresh_from_db()
    assert (member.send_count, member.click_count, member.conversion_count) == (0, 0, 0)


def test_events_need_a_token_that_may_write_to_the_list(member, other_list):
    assert (
        APIClient().post(url(member, "clicks"), {"url": "https://acme.example"}, format="json").status_code
        == 401
    )
    read_only = client_for(read_only=True).post(
        url(member, "clicks"), {"url": "https://a.example"}, format="json"
    )
    elsewhere = client_for(sending_lists=[other_list]).post(
        url(member, "clicks"), {"url": "https://a.example"}, format="json"
    )

    assert (read_only.status_code, elsewhere.status_code) == (403, 404)
    assert elsewhere.json()["message"] == (
        f"Contact {member.contact_id} is not a member of sending list {member.sending_list_id}."
    )
    assert Click.objects.count() == 0


def test_an_event_for_a_contact_that_is_not_a_member_is_a_404(api, member):
    stranger = ContactFactory()
    response = api.post(
        f"/api/v1/lists/{member.sending_list_id}/contacts/{stranger.pk}/conversions",
        {"order_id": "A-1", "revenue": "5"},
        format="json",
    )

    assert response.status_code == 404
    assert Conversion.objects.count() == 0


def test_the_event_endpoints_are_in_the_api_schema(api):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = [
        path
        for path in schema["paths"]
        if "/contacts/{contact_id}/" in path and path.startswith("/api/v1/lists/")
    ]
    assert {
        "/api/v1/lists/{list_id}/contacts/{contact_id}/" + what + "/"
        for what in ("sends", "clicks", "conversions", "workflow")
    } <= set(paths)


# --- provider ids outside the token's scope are unknown to it ---------------------------------------


@pytest.fixture
def shared_contact_on_two_lists(sending_list, other_list):
    contact = ContactFactory()
    mine = ListContactFactory(sending_list=sending_list, contact=contact)
    theirs = ListContactFactory(sending_list=other_list, contact=contact)
    client_for().post(
        url(theirs, "sends"), {"body": "Theirs", "provider_message_id": "SMtheirs"}, format="json"
    )
    return mine, theirs


def test_scoped_token_recording_a_send_with_another_lists_provider_id_gets_the_unknown_id_answer(
    sending_list, shared_contact_on_two_lists
):
    mine, theirs = shared_contact_on_two_lists
    scoped = client_for(sending_lists=[sending_list])

    unknown = scoped.post(url(mine, "sends"), {"body": "A", "provider_message_id": "SMnew"}, format="json")
    taken = scoped.post(url(mine, "sends"), {"body": "B", "provider_message_id": "SMtheirs"}, format="json")

    assert (unknown.status_code, taken.status_code) == (201, 201)
    assert (unknown.json()["created"], taken.json()["created"]) == (True, True)
    assert taken.json()["message"]["provider_message_id"] == "SMtheirs"
    assert set(taken.json()["message"]) == set(unknown.json()["message"])
    assert taken.json()["membership"]["send_count"] == 2
    their_message = Message.objects.get(provider_message_id="SMtheirs")
    assert (their_message.list_contact_id, their_message.body) == (theirs.pk, "Theirs")
    theirs.refresh_from_db()
    assert theirs.send_count == 1


def test_full_access_token_is_told_a_provider_id_belongs_to_another_membership(
    api, shared_contact_on_two_lists
):
    mine, _ = shared_contact_on_two_lists

    response = api.post(url(mine, "sends"), {"provider_message_id": "SMtheirs"}, format="json")

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "provider_message_id": ["Message SMtheirs is already recorded for another membership."]
    }
    mine.refresh_from_db()
    assert mine.send_count == 0


@pytest.mark.parametrize(
    ("what", "payload"),
    [
        ("clicks", {"url": "https://acme.example"}),
        ("conversions", {"order_id": "A-1", "revenue": "5"}),
    ],
)
def test_a_click_or_conversion_naming_another_lists_message_is_refused_like_an_unknown_one(
    sending_list, shared_contact_on_two_lists, what, payload
):
    mine, _ = shared_contact_on_two_lists
    scoped = client_for(sending_lists=[sending_list])

    unknown = scoped.post(url(mine, what), {**payload, "provider_message_id": "SMnope"}, format="json")
    other = scoped.post(url(mine, what), {**payload, "provider_message_id": "SMtheirs"}, format="json")

    assert (unknown.status_code, other.status_code) == (400, 400)
    assert other.json()["field_errors"] == {
        "provider_message_id": ["No message SMtheirs was sent to this contact."]
    }
    assert unknown.json()["field_errors"] == {
        "provider_message_id": ["No message SMnope was sent to this contact."]
    }
    assert (Click.objects.count(), Conversion.objects.count()) == (0, 0)
    mine.refresh_from_db()
    assert (mine.click_count, mine.conversion_count) == (0, 0)


def test_a_scoped_tokens_event_answer_withholds_a_shared_contacts_personal_fields(db):
    from sendinglists.models import ListContact
    from tests.factories import ContactFactory, ListContactFactory, SendingListFactory

    mine, theirs = SendingListFactory(), SendingListFactory()
    shared = ContactFactory(first_name="Secret", email="secret@example.com")
    ListContactFactory(sending_list=mine, contact=shared)
    ListContactFactory(sending_list=theirs, contact=shared)
    membership = ListContact.objects.get(sending_list=mine, contact=shared)
    client = client_for(sending_lists=[mine])

    response = client.put(url(membership, "workflow"), {"in_workflow": True}, format="json")

    assert response.status_code == 200, response.json()
    contact = response.json()["membership"]["contact"]
    assert (contact["first_name"], contact["email"]) == ("", "")
    assert "first_name" in contact["withheld_fields"]
