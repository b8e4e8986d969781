"""Custom values on a contact's create and update (seed 001: keyed by field id; here by key too):
stored on the contact's membership of each field's sending list, shown per subscription, and never
silently dropped — a field of a list the contact is not on, an unknown one or a wrong value is a 400
naming it, and nothing of the request is applied."""

import pytest

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.models import ListContact
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactFactory, CustomFieldFactory, ListContactFactory, SendingListFactory


@pytest.fixture
def shop(db):
    """A list with one field of each type, and a member of it."""
    sending_list = SendingListFactory(name="Shop")
    fields = {
        "plan": CustomFieldFactory(
            sending_list=sending_list, key="plan", field_type="choice", choices=["free", "pro"]
        ),
        "score": CustomFieldFactory(sending_list=sending_list, key="score", field_type="number"),
        "birthday": CustomFieldFactory(sending_list=sending_list, key="birthday", field_type="date"),
        "vip": CustomFieldFactory(sending_list=sending_list, key="vip", field_type="boolean"),
        "city": CustomFieldFactory(sending_list=sending_list, key="city", field_type="text"),
    }
    membership = ListContactFactory(sending_list=sending_list, contact=ContactFactory(first_name="Ana"))
    sending_list.fields = fields
    sending_list.member = membership
    return sending_list


def values_of(membership) -> dict:
    membership.refresh_from_db()
    return membership.custom_fields


def test_values_keyed_by_field_id_are_stored_on_the_membership_and_answered(client, shop):
    contact = shop.member.contact
    fields = shop.fields
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {
            "custom_fields": {
                str(fields["plan"].pk): "PRO",
                str(fields["score"].pk): "1,200",
                str(fields["birthday"].pk): "04/01/1990",
                str(fields["vip"].pk): "yes",
                str(fields["city"].pk): " Lisbon ",
            }
        },
        format="json",
    )
    assert response.status_code == 200
    stored = {"plan": "pro", "score": 1200, "birthday": "1990-04-01", "vip": True, "city": "Lisbon"}
    assert values_of(shop.member) == stored
    (subscription,) = response.json()["subscriptions"]
    assert (subscription["sending_list"], subscription["custom_fields"]) == (shop.pk, stored)
    assert "custom_fields" not in response.json()  # values are per list: under subscriptions
    assert client.get(f"/api/v1/contacts/{contact.pk}/").json()["subscriptions"][0]["custom_fields"] == stored


def test_values_keyed_by_key_merge_into_the_known_ones(client, shop):
    ListContact.objects.filter(pk=shop.member.pk).update(custom_fields={"city": "Porto", "plan": "free"})
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/", {"custom_fields": {"plan": "pro"}}, format="json"
    )
    assert response.status_code == 200
    assert values_of(shop.member) == {"city": "Porto", "plan": "pro"}


def test_a_blank_value_on_update_clears_the_field(client, shop):
    ListContact.objects.filter(pk=shop.member.pk).update(custom_fields={"city": "Porto", "plan": "free"})
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/",
        {"custom_fields": {"city": None, str(shop.fields["plan"].pk): ""}},
        format="json",
    )
    assert response.status_code == 200
    assert values_of(shop.member) == {}


def test_v2_update_takes_the_same_values(client, shop):
    contact = shop.member.contact
    response = client.patch(
        f"/api/v2/contacts/{contact.uuid}/",
        {"custom_fields": {str(shop.fields["score"].pk): 7}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["subscriptions"][0]["custom_fields"] == {"score": 7}
    assert values_of(shop.member) == {"score": 7}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("score", "lots", "Score: 'lots' is not a number."),
        ("score", True, "Score: expected a number, got a yes/no value."),
        ("birthday", "yesterday", "Birthday: 'yesterday' is not a date (use YYYY-MM-DD)."),
        ("vip", "perhaps", "Vip: 'perhaps' is not yes/no (use true or false)."),
        ("plan", "gold", "Plan: 'gold' is not one of: free, pro."),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_the_field_and_changing_nothing(
    client, shop, key, value, message
):
    contact = shop.member.contact
    field_id = str(shop.fields[key].pk)
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"first_name": "Bea", "custom_fields": {"city": "Faro", field_id: value}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {f"custom_fields.{field_id}": [message]}
    contact.refresh_from_db()
    assert (contact.first_name, values_of(shop.member)) == ("Ana", {})


def test_an_unknown_field_id_is_a_400_naming_it(client, shop):
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/", {"custom_fields": {"999999": "x"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "custom_fields.999999": [
            "No custom field '999999': use a field id or key of a sending list this contact is on."
        ]
    }


def test_a_field_of_a_list_the_contact_is_not_on_is_a_400_naming_the_list(client, shop):
    other = SendingListFactory()
    field = CustomFieldFactory(sending_list=other, key="team")
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/",
        {"custom_fields": {"city": "Faro", str(field.pk): "red"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        f"custom_fields.{field.pk}": [
            f"Custom field '{field.pk}' belongs to sending list {other.pk}, which this contact is not on: "
            "subscribe the contact to that list first (its values are stored per list)."
        ]
    }
    assert values_of(shop.member) == {}
    assert not ListContact.objects.filter(sending_list=other).exists()


def test_a_field_named_twice_by_key_and_by_id_is_a_400(client, shop):
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/",
        {"custom_fields": {"city": "Faro", str(shop.fields["city"].pk): "Porto"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        f"custom_fields.{shop.fields['city'].pk}": [
            f"City: given twice (as 'city' and as '{shop.fields['city'].pk}')."
        ]
    }
    assert values_of(shop.member) == {}


def test_a_key_that_two_of_the_contacts_lists_define_is_set_on_each(client, shop):
    other = SendingListFactory()
    CustomFieldFactory(sending_list=other, key="score", field_type="text")
    both = ListContactFactory(sending_list=other, contact=shop.member.contact)
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/", {"custom_fields": {"score": "12"}}, format="json"
    )
    assert response.status_code == 200
    assert (values_of(shop.member), values_of(both)) == ({"score": 12}, {"score": "12"})
    assert [s["custom_fields"] for s in response.json()["subscriptions"]] == [
        {"score": 12} if s["sending_list"] == shop.pk else {"score": "12"}
        for s in response.json()["subscriptions"]
    ]


def test_values_are_stored_on_an_opted_out_membership_without_resubscribing_it(client, shop):
    list_contact_opt_out(membership=shop.member, reason="message", actor=Actor.system("test"))
    response = client.patch(
        f"/api/v1/contacts/{shop.member.contact_id}/", {"custom_fields": {"city": "Faro"}}, format="json"
    )
    assert response.status_code == 200
    shop.member.refresh_from_db()
    assert (shop.member.active, shop.member.custom_fields) == (False, {"city": "Faro"})


# --- create --------------------------------------------------------------------------------------


def test_create_of_a_new_contact_with_values_is_a_400_and_creates_nothing(client, shop):
    # A new contact is on no list: its values would have nowhere to live. Subscribe it with its
    # values instead (POST /api/v1/lists/{id}/contacts/ or the bulk upsert with sending_list).
    field = shop.fields["plan"]
    response = client.post(
        "/api/v1/contacts/",
        {"phone_number": "+14155550199", "custom_fields": {str(field.pk): "pro"}},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == [f"custom_fields.{field.pk}"]
    assert "which this contact is not on" in response.json()["message"]
    assert not Contact.objects.filter(phone_number="+14155550199").exists()


def test_create_with_a_known_phone_merges_values_into_its_memberships_without_blanking(client, shop):
    contact = shop.member.contact
    ListContact.objects.filter(pk=shop.member.pk).update(custom_fields={"city": "Porto"})
    response = client.post(
        "/api/v1/contacts/",
        {"phone_number": contact.phone_number, "custom_fields": {"city": "", "plan": "pro"}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["subscriptions"][0]["custom_fields"] == {"city": "Porto", "plan": "pro"}
    assert values_of(shop.member) == {"city": "Porto", "plan": "pro"}


def test_bulk_without_a_list_applies_values_to_the_memberships_the_contact_has(client, shop):
    contact = shop.member.contact
    response = client.post(
        "/api/v1/contacts/bulk/",
        {
            "contacts": [
                {"phone_number": contact.phone_number, "custom_fields": {"plan": "pro"}},
                {"phone_number": "+14155550198", "custom_fields": {"plan": "pro"}},
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["ok", "error"]
    assert list(results[1]["errors"]) == ["custom_fields.plan"]
    assert values_of(shop.member) == {"plan": "pro"}
    assert not Contact.objects.filter(phone_number="+14155550198").exists()


# --- list-scoped tokens ----------------------------------------------------------------------------


def test_a_field_outside_a_scoped_tokens_lists_reads_as_unknown(make_client, shop):
    theirs = SendingListFactory()
    hidden = CustomFieldFactory(sending_list=theirs, key="secret")
    scoped = make_client(sending_lists=[shop])
    contact_id = shop.member.contact_id
    for name in (str(hidden.pk), "secret"):
        response = scoped.patch(
            f"/api/v1/contacts/{contact_id}/", {"custom_fields": {name: "x"}}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["field_errors"] == {
            f"custom_fields.{name}": [
                f"No custom field {name!r}: use a field id or key of a sending list this contact is on."
            ]
        }


def test_a_scoped_token_sets_values_on_its_own_membership_of_a_shared_contact_only(make_client, shop):
    theirs = SendingListFactory()
    CustomFieldFactory(sending_list=theirs, key="city")
    their_membership = ListContactFactory(
        sending_list=theirs, contact=shop.member.contact, custom_fields={"city": "Oslo"}
    )
    scoped = make_client(sending_lists=[shop])
    path = f"/api/v1/contacts/{shop.member.contact_id}/"
    response = scoped.patch(path, {"custom_fields": {"city": "Faro"}}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [(s["sending_list"], s["custom_fields"]) for s in body["subscriptions"]] == [
        (shop.pk, {"city": "Faro"})
    ]
    assert body["withheld_fields"] == ["email", "first_name", "last_name", "timezone", "carrier", "tags"]
    assert (values_of(shop.member), values_of(their_membership)) == ({"city": "Faro"}, {"city": "Oslo"})
    # Its own fields stay the other lists' owners' too.
    assert (
        scoped.patch(
            path, {"first_name": "Bea", "custom_fields": {"city": "Lagos"}}, format="json"
        ).status_code
        == 403
    )
    assert values_of(shop.member) == {"city": "Faro"}


def test_a_read_only_token_cannot_set_values(make_client, shop):
    response = make_client(read_only=True).patch(
        f"/api/v1/contacts/{shop.member.contact_id}/", {"custom_fields": {"city": "Faro"}}, format="json"
    )
    assert response.status_code == 403
    assert values_of(shop.member) == {}


def test_the_list_page_shows_values_in_a_fixed_number_of_queries(client, shop, django_assert_max_num_queries):
    for index in range(30):
        ListContactFactory(sending_list=shop, custom_fields={"city": f"City {index}"})
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/contacts/")
    cities = [r["subscriptions"][0]["custom_fields"].get("city") for r in response.json()["results"]]
    assert cities[:30] == [f"City {index}" for index in reversed(range(30))]


def test_v2_create_with_a_known_phone_takes_values_keyed_by_id(client, shop):
    contact = shop.member.contact
    field = shop.fields["vip"]
    response = client.post(
        "/api/v2/contacts/",
        {"phone_number": contact.phone_number, "custom_fields": {str(field.pk): False}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(contact.uuid)
    assert response.json()["subscriptions"][0]["custom_fields"] == {"vip": False}
    assert values_of(shop.member) == {"vip": False}
