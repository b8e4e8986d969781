"""Seed 001's contact paths as written (`/api/v1/contact…`, `/api/v2/contact/{contactID}`): the same
views as the plural aliases, answering every number as E.164 digits without the plus; and a token
limited to some lists sees nothing outside them there either."""

import pytest
from django.urls import resolve
from django.utils import timezone

from contacts.models import Contact
from contacts.phones import NumberForm
from sendinglists.contacts.api.views import ContactV2ViewSet, ContactViewSet
from sendinglists.models import CustomField, ListContact
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import (
    ContactChannelFactory,
    ContactFactory,
    CustomFieldFactory,
    ListContactFactory,
    SendingListFactory,
)


def test_seed_v1_create_get_update_delete_answer_digits_without_the_plus(client):
    response = client.post(
        "/api/v1/contact", {"phone_number": "+1 (415) 555-3434", "first_name": "Ana"}, format="json"
    )
    assert response.status_code == 201
    contact = Contact.objects.get()
    assert contact.phone_number == "+14155553434"  # stored in E.164 with the plus
    assert (response.json()["id"], response.json()["phone_number"]) == (contact.pk, "14155553434")

    response = client.get(f"/api/v1/contact/{contact.pk}")
    assert (response.status_code, response.json()["phone_number"]) == (200, "14155553434")
    # The plural alias: the same contact, with the plus.
    assert client.get(f"/api/v1/contacts/{contact.pk}").json()["phone_number"] == "+14155553434"

    response = client.patch(
        f"/api/v1/contact/{contact.pk}", {"phone_number": "14155553435", "last_name": "Lee"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["phone_number"], response.json()["last_name"]) == ("14155553435", "Lee")
    contact.refresh_from_db()
    assert (contact.phone_number, contact.first_name, contact.last_name) == ("+14155553435", "Ana", "Lee")

    assert client.delete(f"/api/v1/contact/{contact.pk}").status_code == 204
    assert not Contact.objects.exists()
    assert client.get(f"/api/v1/contact/{contact.pk}").status_code == 404


def test_seed_v1_put_is_not_an_update(client):
    contact = ContactFactory(first_name="Kept")
    response = client.put(f"/api/v1/contact/{contact.pk}", {"phone_number": "14155553434"}, format="json")
    assert response.status_code == 405
    contact.refresh_from_db()
    assert contact.first_name == "Kept"


def test_seed_list_filters_and_search_answer_digits(client):
    ana = ContactFactory(
        phone_number="+14155553434", first_name="Ana", last_name="Lee", email="ana@example.com"
    )
    ContactFactory(phone_number="+14155550000", first_name="Bob", last_name="Smith", email="bob@example.com")

    listed = client.get("/api/v1/contact", {"phone": "14155553434"}).json()["results"]
    assert [(row["id"], row["phone_number"]) for row in listed] == [(ana.pk, "14155553434")]
    assert len(client.get("/api/v1/contact/").json()["results"]) == 2

    for query in ("14155553434", "+1 415 555 3434", "ana@example.com", "An"):
        response = client.get("/api/v1/contact/search", {"q": query})
        assert response.status_code == 200, query
        assert [(row["id"], row["phone_number"]) for row in response.json()["results"]] == [
            (ana.pk, "14155553434")
        ], query
    # The plural alias searches the same way and answers with the plus.
    plural = client.get("/api/v1/contacts/search/", {"q": "Ana"}).json()["results"]
    assert [row["phone_number"] for row in plural] == ["+14155553434"]

    response = client.get("/api/v1/contact/search")
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["q"]


def test_seed_v2_answers_channel_numbers_without_the_plus(client):
    contact = ContactFactory(phone_number="+14155553434")
    ContactChannelFactory(contact=contact, kind="phone", value="+14155559876")
    ContactChannelFactory(contact=contact, kind="email", value="ana+work@example.com")

    body = client.get(f"/api/v2/contact/{contact.uuid}").json()
    assert body["id"] == str(contact.uuid)
    assert body["phone_number"] == "14155553434"
    assert sorted((c["kind"], c["value"]) for c in body["channels"]) == [
        ("email", "ana+work@example.com"),  # not a number: left as it is
        ("phone", "14155559876"),
    ]
    channels = client.get(f"/api/v2/contact/{contact.uuid}/channels").json()
    assert sorted(c["value"] for c in channels) == ["14155559876", "ana+work@example.com"]
    response = client.post(
        f"/api/v2/contact/{contact.uuid}/channels",
        {"kind": "phone", "value": "+1 415 555 7777"},
        format="json",
    )
    assert (response.status_code, response.json()["value"]) == (201, "14155557777")

    plural = client.get(f"/api/v2/contacts/{contact.uuid}").json()
    assert plural["phone_number"] == "+14155553434"
    assert "+14155559876" in [c["value"] for c in plural["channels"]]


def test_an_integer_on_the_seed_v2_path_is_refused_and_says_which_id_to_use(client):
    contact = ContactFactory()
    for path in (f"/api/v2/contact/{contact.pk}", f"/api/v2/contact/{contact.pk}/channels"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert "UUID" in response.json()["message"]
    assert client.delete(f"/api/v2/contact/{contact.pk}").status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_seed_bulk_results_answer_digits_and_status(client):
    sending_list = SendingListFactory()
    response = client.post(
        "/api/v1/contact/bulk",
        {"sending_list": sending_list.pk, "contacts": [{"phone_number": "(415) 555-3434"}]},
        format="json",
    )
    assert response.status_code == 200
    contact = response.json()["results"][0]["contact"]
    assert (contact["phone_number"], contact["status"]) == ("14155553434", "subscribed")


def without_head(actions: dict) -> dict:
    """DRF adds HEAD to a view's actions when it first serves a GET."""
    return {method: action for method, action in actions.items() if method != "head"}


def test_the_singular_and_plural_paths_are_one_view_each(client):
    for singular, plural, viewset in (
        ("/api/v1/contact/1", "/api/v1/contacts/1", ContactViewSet),
        ("/api/v1/contact", "/api/v1/contacts", ContactViewSet),
        ("/api/v1/contact/search", "/api/v1/contacts/search", ContactViewSet),
        (
            "/api/v2/contact/0b6e7d1e-93c2-4b53-8f55-5a9c4a4bd2a1",
            "/api/v2/contacts/0b6e7d1e-93c2-4b53-8f55-5a9c4a4bd2a1",
            ContactV2ViewSet,
        ),
    ):
        seed, alias = resolve(singular).func, resolve(plural).func
        assert seed.cls is alias.cls is viewset
        assert without_head(seed.actions) == without_head(alias.actions)
        assert (seed.initkwargs["number_form"], alias.initkwargs.get("number_form", viewset.number_form)) == (
            NumberForm.DIGITS,
            NumberForm.E164,
        )


# --- a token limited to some lists -------------------------------------------------------------


@pytest.fixture
def world(db):
    mine, theirs = SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")
    member = ListContactFactory(
        sending_list=mine, contact__first_name="Member", contact__last_name="Zed"
    ).contact
    outsider = ListContactFactory(
        sending_list=theirs, contact__first_name="Outsider", contact__last_name="Zed"
    ).contact
    # Unsubscribed from mine, subscribed to theirs: each token sees its own status.
    shared = ContactFactory(first_name="Shared", last_name="Zed")
    ListContactFactory(
        sending_list=mine, contact=shared, active=False, unsub_reason="manual", opted_out_at=timezone.now()
    )
    ListContactFactory(sending_list=theirs, contact=shared)
    return {
        "mine": mine,
        "theirs": theirs,
        "member": member,
        "outsider": outsider,
        "shared": shared,
        "my_field": CustomFieldFactory(sending_list=mine, key="plan"),
        "their_field": CustomFieldFactory(sending_list=theirs, key="secret"),
    }


@pytest.fixture
def scoped(make_client, world):
    return make_client(sending_lists=[world["mine"]])


def ids(response) -> list:
    assert response.status_code == 200, response.json()
    return sorted(row["id"] for row in response.json()["results"])


def test_scoped_token_sees_only_its_lists_contacts_on_the_seed_paths(scoped, world):
    member, outsider, shared = world["member"], world["outsider"], world["shared"]
    assert ids(scoped.get("/api/v1/contact")) == sorted([member.pk, shared.pk])
    assert ids(scoped.get("/api/v1/contact/search", {"q": outsider.phone_number.removeprefix("+")})) == []
    assert ids(scoped.get("/api/v1/contact/search", {"q": "Outsider"})) == []
    assert ids(scoped.get("/api/v1/contact/search", {"q": "Member"})) == [member.pk]
    assert scoped.get(f"/api/v1/contact/{outsider.pk}").status_code == 404
    assert scoped.get(f"/api/v2/contact/{outsider.uuid}").status_code == 404
    assert (
        scoped.patch(f"/api/v1/contact/{outsider.pk}", {"first_name": "X"}, format="json").status_code == 404
    )
    assert scoped.delete(f"/api/v2/contact/{outsider.uuid}").status_code == 404
    assert scoped.post("/api/v1/contact", {"phone_number": "14155553434"}, format="json").status_code == 403
    outsider.refresh_from_db()
    assert outsider.first_name == "Outsider"
    assert not Contact.objects.filter(phone_number="+14155553434").exists()

    # The shared contact: its personal fields withheld, its status over the token's list only.
    body = scoped.get(f"/api/v1/contact/{shared.pk}").json()
    assert (body["first_name"], body["status"], body["phone_number"]) == (
        "",
        "unsubscribed",
        shared.phone_number.removeprefix("+"),
    )
    assert [s["sending_list"] for s in body["subscriptions"]] == [world["mine"].pk]
    # A token with every list sees it subscribed (to theirs).
    assert ListContact.objects.filter(contact=shared, active=True).count() == 1


def test_full_token_sees_the_shared_contact_subscribed(client, world):
    assert client.get(f"/api/v1/contact/{world['shared'].pk}").json()["status"] == "subscribed"


def test_contact_fields_post_answers_only_the_tokens_lists_fields(scoped, make_client, world):
    response = scoped.post("/api/v1/contact-fields", {}, format="json")
    assert response.status_code == 200
    assert [(f["id"], f["key"]) for f in response.json()["results"]] == [(world["my_field"].pk, "plan")]
    response = scoped.post("/api/v1/contact-fields", {"sending_list": world["theirs"].pk}, format="json")
    assert response.json()["results"] == []
    # It only reads: a read-only token may call it, and nothing is created.
    read_only = make_client(read_only=True)
    response = read_only.post("/api/v1/contact-fields", format="json")
    assert [f["key"] for f in response.json()["results"]] == ["plan", "secret"]
    assert CustomField.objects.count() == 2
