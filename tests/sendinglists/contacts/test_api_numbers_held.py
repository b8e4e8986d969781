"""A number another contact holds, refused through the API: the answer names that contact only to a
token that may know of it (sendinglists/api/errors.py), and a phone channel added through the API
to a blocked contact is audited as the token's doing."""

import pytest

from contacts.models import ContactChannel
from sendinglists.actors import Actor
from sendinglists.api.permissions import PHONE_CHANNEL_MESSAGE
from sendinglists.choices import EventKind
from sendinglists.contacts.services import contact_block
from sendinglists.models import SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
HELD, CHANNEL = "+14155550161", "+14155550162"


def subscribe(sending_list, contact):
    list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM)


@pytest.fixture
def setup(make_client):
    """A scoped token on Offers, its contact, and two holders of numbers: one on Offers only (the
    token may know of it) and one elsewhere (it may not)."""
    offers, other = SendingListFactory(name="Offers"), SendingListFactory(name="Other")
    contact = ContactFactory(phone_number="+14155550160")
    subscribe(offers, contact)
    outside = ContactFactory(phone_number=HELD)
    subscribe(other, outside)
    ContactChannel.objects.create(contact=outside, kind="phone", value=CHANNEL)
    inside = ContactFactory(phone_number="+14155550163")
    subscribe(offers, inside)
    return {
        "scoped": make_client(sending_lists=[offers]),
        "contact": contact,
        "outside": outside,
        "inside": inside,
        "lists": (offers, other),
    }


def errors_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["field_errors"]


def test_a_list_scoped_token_adding_a_held_number_as_a_channel_is_not_told_who_holds_it(setup):
    """(It may add no phone channel at all: a channel number identifies its contact on every list.)"""
    scoped, contact, outside = setup["scoped"], setup["contact"], setup["outside"]

    for number in (HELD, CHANNEL):
        response = scoped.post(
            f"/api/v2/contacts/{contact.uuid}/channels", {"kind": "phone", "value": number}, format="json"
        )
        assert response.status_code == 403
        assert response.json()["message"] == PHONE_CHANNEL_MESSAGE
        body = response.content.decode()
        assert f"#{outside.pk}" not in body and str(outside.uuid) not in body
    assert not contact.channels.exists()


def test_a_list_scoped_token_changing_a_phone_or_adding_channels_by_patch_is_not_told_either(setup):
    scoped, contact = setup["scoped"], setup["contact"]

    response = scoped.patch(f"/api/v1/contacts/{contact.pk}", {"phone_number": HELD}, format="json")
    assert errors_of(response) == {"phone_number": [f"{HELD} is already held by another contact."]}
    response = scoped.patch(
        f"/api/v2/contacts/{contact.uuid}", {"channels": [{"kind": "phone", "value": CHANNEL}]}, format="json"
    )
    assert errors_of(response) == {"channels.0.kind": [PHONE_CHANNEL_MESSAGE]}
    contact.refresh_from_db()
    assert contact.phone_number == "+14155550160" and not contact.channels.exists()


def test_a_holder_also_on_a_list_outside_the_scope_is_not_named(setup):
    scoped, contact, inside = setup["scoped"], setup["contact"], setup["inside"]
    subscribe(setup["lists"][1], inside)

    response = scoped.patch(
        f"/api/v1/contacts/{contact.pk}", {"phone_number": inside.phone_number}, format="json"
    )

    assert errors_of(response) == {
        "phone_number": [f"{inside.phone_number} is already held by another contact."]
    }


def test_a_holder_wholly_inside_the_scope_is_named_to_the_scoped_token(setup):
    scoped, contact, inside = setup["scoped"], setup["contact"], setup["inside"]

    response = scoped.patch(
        f"/api/v1/contacts/{contact.pk}", {"phone_number": inside.phone_number}, format="json"
    )

    assert errors_of(response) == {
        "phone_number": [f"{inside.phone_number} is already the phone number of contact #{inside.pk}."]
    }


def test_a_full_access_token_is_told_who_holds_the_number(client, setup):
    contact, outside = setup["contact"], setup["outside"]

    response = client.post(
        f"/api/v2/contacts/{contact.uuid}/channels", {"kind": "phone", "value": HELD}, format="json"
    )
    assert errors_of(response) == {"value": [f"{HELD} is already the phone number of contact #{outside.pk}."]}
    response = client.patch(f"/api/v1/contacts/{contact.pk}", {"phone_number": CHANNEL}, format="json")
    assert errors_of(response) == {
        "phone_number": [f"{CHANNEL} is already a channel of contact #{outside.pk}."]
    }
    response = client.post(
        "/api/v2/contacts/",
        {"phone_number": contact.phone_number, "channels": [{"kind": "phone", "value": HELD}]},
        format="json",
    )
    assert errors_of(response) == {
        "channels.0.value": [f"{HELD} is already the phone number of contact #{outside.pk}."]
    }


def test_a_phone_channel_added_to_a_blocked_contact_is_audited_as_the_tokens(setup, make_client):
    contact = setup["contact"]
    contact_block(contact=contact, actor=SYSTEM)
    full = make_client()  # (a list-scoped token adds no phone channel)

    response = full.post(
        f"/api/v2/contacts/{contact.uuid}/channels", {"kind": "phone", "value": "+14155550169"}, format="json"
    )

    assert response.status_code == 201, response.content
    event = SubscriptionEvent.objects.get(kind=EventKind.BLOCKED, note__contains="+14155550169")
    token = full.token
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        "api_token",
        str(token.pk),
        f"API token {token.name}",
    )
