"""The API takes the signup methods (api, import, journey, inbound, manual) on every subscribe and
refuses anything else with a 400; nothing is silently rewritten to `api`."""

import pytest

from contacts.models import Contact
from sendinglists.choices import SignupMethod
from sendinglists.models import ListContact, SubscriptionEvent
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ListContactFactory, SendingListFactory

PHONE = "+14155553434"


@pytest.mark.parametrize("method", SignupMethod.values)
def test_a_membership_post_stores_the_given_signup_method(client, method):
    sending_list = SendingListFactory()
    response = client.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/",
        {"phone_number": "14155553434", "signup_method": method},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["membership"]["signup_method"] == method
    membership = ListContact.objects.get(sending_list=sending_list, contact__phone_number=PHONE)
    assert membership.signup_method == method
    assert SubscriptionEvent.objects.get(sending_list=sending_list).signup_method == method


def test_a_membership_post_without_a_signup_method_is_api(client):
    sending_list = SendingListFactory()
    response = client.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/", {"phone_number": PHONE}, format="json"
    )
    assert response.json()["membership"]["signup_method"] == "api"


@pytest.mark.parametrize("method", ["sms", "API", "", None, 3, ["journey"]])
def test_an_unknown_signup_method_is_a_400_and_changes_nothing(client, method):
    sending_list = SendingListFactory()
    response = client.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/",
        {"phone_number": PHONE, "signup_method": method},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["signup_method"]
    assert not Contact.objects.exists()
    assert not ListContact.objects.exists()
    assert not SubscriptionEvent.objects.exists()


def test_an_existing_membership_keeps_its_signup_method(client):
    membership = ListContactFactory(signup_method="import")
    response = client.post(
        f"/api/v1/lists/{membership.sending_list_id}/contacts/",
        {"contact_id": membership.contact_id, "signup_method": "journey"},
        format="json",
    )
    assert (response.status_code, response.json()["outcome"]) == (200, "updated")
    membership.refresh_from_db()
    assert membership.signup_method == "import"


def test_bulk_items_take_a_signup_method_and_refuse_unknown_ones(client):
    sending_list = SendingListFactory()
    response = client.post(
        "/api/v1/contact/bulk",
        {
            "sending_list": sending_list.pk,
            "contacts": [
                {"phone_number": "14155550001", "signup_method": "journey"},
                {"phone_number": "14155550002"},
                {"phone_number": "14155550003", "signup_method": "sms"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["ok", "ok", "error"]
    assert list(results[2]["errors"]) == ["signup_method"]
    assert dict(ListContact.objects.values_list("contact__phone_number", "signup_method")) == {
        "+14155550001": "journey",
        "+14155550002": "api",
    }
    assert not Contact.objects.filter(phone_number="+14155550003").exists()
