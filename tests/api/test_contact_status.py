"""Seed 001's contact status (active, blocked, subscribed, unsubscribed) on every answer that shows a
contact, read over the token's lists."""

import pytest
from django.utils import timezone

from contacts.models import Contact
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory


@pytest.fixture
def world(db):
    mine, theirs = SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")
    # Opted out of mine, subscribed to theirs.
    contact = ContactFactory(phone_number="+14155553434")
    ListContactFactory(
        sending_list=mine, contact=contact, active=False, unsub_reason="manual", opted_out_at=timezone.now()
    )
    ListContactFactory(sending_list=theirs, contact=contact)
    return {"mine": mine, "theirs": theirs, "contact": contact}


def contact_answers(api, world) -> dict[str, dict]:
    """Every answer that shows the contact, by where it came from."""
    contact, mine = world["contact"], world["mine"]
    audience = api.post(
        f"/api/v1/lists/{mine.pk}/audiences/", {"name": "All", "query": "sends >= 0"}, format="json"
    ).json()
    answers = {}
    for prefix in ("/api/v1/contact", "/api/v1/contacts"):
        answers[f"{prefix} retrieve"] = api.get(f"{prefix}/{contact.pk}").json()
        answers[f"{prefix} list"] = api.get(prefix).json()["results"][0]
        answers[f"{prefix} search"] = api.get(f"{prefix}/search", {"q": "14155553434"}).json()["results"][0]
    for prefix in ("/api/v2/contact", "/api/v2/contacts"):
        answers[f"{prefix} retrieve"] = api.get(f"{prefix}/{contact.uuid}").json()
        answers[f"{prefix} list"] = api.get(prefix).json()["results"][0]
    members = f"/api/v1/lists/{mine.pk}/contacts/"
    answers["membership list"] = api.get(members).json()["results"][0]["contact"]
    answers["membership retrieve"] = api.get(f"{members}{contact.pk}/").json()["contact"]
    # Refused (opted out or blocked): the answer still shows the membership and its contact.
    answers["membership subscribe"] = api.post(members, {"contact_id": contact.pk}, format="json").json()[
        "membership"
    ]["contact"]
    answers["membership update"] = api.patch(
        f"{members}{contact.pk}/", {"custom_fields": {}}, format="json"
    ).json()["contact"]
    answers["membership unsubscribe"] = api.post(
        f"{members}{contact.pk}/unsubscribe/", {}, format="json"
    ).json()["membership"]["contact"]
    answers["audience members"] = api.get(
        f"/api/v1/lists/{mine.pk}/audiences/{audience['id']}/contacts/"
    ).json()["results"][0]["contact"]
    answers["engagement event"] = api.put(
        f"/api/v1/lists/{mine.pk}/contacts/{contact.pk}/workflow", {"in_workflow": False}, format="json"
    ).json()["membership"]["contact"]
    answers["bulk"] = api.post(
        "/api/v1/contact/bulk",
        {"sending_list": mine.pk, "contacts": [{"phone_number": "14155553434"}]},
        format="json",
    ).json()["results"][0]["contact"]
    return answers


def statuses(answers: dict) -> dict[str, str]:
    return {where: answer["status"] for where, answer in answers.items()}


def test_a_token_with_every_list_sees_the_contact_subscribed_everywhere(client, world):
    answers = statuses(contact_answers(client, world))
    assert len(answers) == 18
    assert set(answers.values()) == {"subscribed"}, answers


def test_a_list_scoped_token_sees_the_status_over_its_lists_only(make_client, world):
    scoped = make_client(sending_lists=[world["mine"]])
    answers = statuses(contact_answers(scoped, world))
    assert set(answers.values()) == {"unsubscribed"}, answers


def test_blocked_wins_and_a_contact_on_no_list_is_active(client, world):
    Contact.objects.filter(pk=world["contact"].pk).update(blocked=True)
    answers = statuses(contact_answers(client, world))
    assert set(answers.values()) == {"blocked"}, answers

    loner = ContactFactory()
    assert client.get(f"/api/v1/contact/{loner.pk}").json()["status"] == "active"
    assert client.get(f"/api/v2/contact/{loner.uuid}").json()["status"] == "active"
