from sendinglists.actors import Actor
from sendinglists.contacts.services import contact_block
from sendinglists.models import CustomField, SendingList
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactFactory, CustomFieldFactory, SendingListFactory

ACTOR = Actor.system("test")


def test_lists_show_maintained_counts_per_status(client):
    sending_list = SendingListFactory(name="Deals", phone_number="+18005550100")
    for _ in range(3):
        list_contact_subscribe(
            sending_list=sending_list, contact=ContactFactory(), signup_method="api", actor=ACTOR
        )
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=ContactFactory(), signup_method="api", actor=ACTOR
    ).membership
    list_contact_opt_out(membership=membership, reason="message", actor=ACTOR)
    body = client.get("/api/v1/lists").json()
    assert body["results"] == [
        {
            "id": sending_list.pk,
            "phone_number": "+18005550100",
            "name": "Deals",
            "default_region": "US",
            "help_text": sending_list.help_text,
            "created_at": body["results"][0]["created_at"],
            "counts": {
                "active": 3,
                "message": 1,
                "bad_response": 0,
                "invalid_contact": 0,
                "manual": 0,
                "complaint": 0,
                "blocked": 0,
            },
        }
    ]
    assert client.get(f"/api/v1/lists/{sending_list.pk}/").json()["counts"]["active"] == 3


def test_list_counts_show_the_members_of_blocked_contacts_as_blocked(client):
    sending_list = SendingListFactory()
    memberships = [
        list_contact_subscribe(
            sending_list=sending_list, contact=ContactFactory(), signup_method="api", actor=ACTOR
        ).membership
        for _ in range(3)
    ]
    list_contact_opt_out(membership=memberships[0], reason="message", actor=ACTOR)
    for membership in memberships[:2]:
        contact_block(contact=membership.contact, actor=ACTOR)

    counts = client.get(f"/api/v1/lists/{sending_list.pk}/").json()["counts"]

    assert {status: count for status, count in counts.items() if count} == {"active": 1, "blocked": 2}
    assert client.get("/api/v1/lists/").json()["results"][0]["counts"] == counts


def test_create_a_list_normalizes_the_sender(client):
    response = client.post(
        "/api/v1/lists/",
        {"phone_number": "1 (800) 555-0199", "name": "VIP", "default_region": "us"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["phone_number"] == "+18005550199"
    assert response.json()["default_region"] == "US"
    assert SendingList.objects.get().name == "VIP"


def test_create_a_list_with_a_taken_sender_or_bad_region_is_a_400(client):
    SendingListFactory(phone_number="+18005550199")
    response = client.post("/api/v1/lists/", {"phone_number": "18005550199", "name": "Dup"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"phone_number": ["A sending list already uses +18005550199."]}
    response = client.post(
        "/api/v1/lists/", {"phone_number": "18005550100", "name": "X", "default_region": "ZZ"}, format="json"
    )
    assert response.json()["field_errors"] == {
        "default_region": ["'ZZ' is not a known country code (use e.g. US, GB, DE)."]
    }
    assert SendingList.objects.count() == 1


def test_a_field_is_created_under_its_list_and_contact_fields_post_and_get_return_ids_and_keys(client):
    sending_list = SendingListFactory()
    other = SendingListFactory()
    elsewhere = CustomFieldFactory(sending_list=other, key="elsewhere")
    response = client.post(
        f"/api/v1/lists/{sending_list.pk}/contact-fields",
        {"key": "plan", "field_type": "choice", "choices": ["free", "pro"]},
        format="json",
    )
    assert response.status_code == 201
    field = CustomField.objects.get(key="plan")
    assert response.json() == {
        "id": field.pk,
        "sending_list": sending_list.pk,
        "key": "plan",
        "label": "Plan",
        "field_type": "choice",
        "choices": ["free", "pro"],
        "created_at": response.json()["created_at"],
    }
    listed = client.get("/api/v1/contact-fields", {"sending_list": sending_list.pk}).json()["results"]
    assert [(f["id"], f["key"]) for f in listed] == [(field.pk, "plan")]
    assert len(client.get("/api/v1/contact-fields/").json()["results"]) == 2
    assert client.get(f"/api/v1/contact-fields/{field.pk}").json()["key"] == "plan"
    listed = client.get(f"/api/v1/lists/{sending_list.pk}/contact-fields").json()["results"]
    assert [(f["id"], f["key"]) for f in listed] == [(field.pk, "plan")]

    # Seed 001: POST /v1/contact-fields retrieves the ids (and changes nothing).
    response = client.post("/api/v1/contact-fields", format="json")
    assert response.status_code == 200
    assert [(f["id"], f["key"]) for f in response.json()["results"]] == [
        (elsewhere.pk, "elsewhere"),
        (field.pk, "plan"),
    ]
    response = client.post("/api/v1/contact-fields", {"sending_list": other.pk}, format="json")
    assert [f["id"] for f in response.json()["results"]] == [elsewhere.pk]
    assert CustomField.objects.count() == 2


def test_contact_fields_post_no_longer_creates_a_field(client):
    sending_list = SendingListFactory()
    response = client.post(
        "/api/v1/contact-fields", {"sending_list": sending_list.pk, "key": "plan"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"key": ["Unknown field. Allowed: sending_list."]}
    assert not CustomField.objects.exists()


def test_contact_field_errors_are_400s(client):
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="plan")
    fields = f"/api/v1/lists/{sending_list.pk}/contact-fields"
    response = client.post(fields, {"key": "plan"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"key": ["This list already has a custom field 'plan'."]}
    response = client.post(fields, {"key": "tier", "field_type": "choice"}, format="json")
    assert response.json()["field_errors"] == {"choices": ["A choice field needs at least one choice."]}
    response = client.post(fields, {"key": "x y"}, format="json")
    assert set(response.json()["field_errors"]) == {"key"}
    response = client.post("/api/v1/lists/999999/contact-fields", {"key": "x"}, format="json")
    assert (response.status_code, response.json()["message"]) == (404, "No sending list 999999.")
    assert CustomField.objects.count() == 1


def test_a_list_at_its_custom_field_limit_refuses_another_field(client, settings):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 2
    sending_list = SendingListFactory(name="Acme")
    for key in ("plan", "tier"):
        assert (
            client.post(
                f"/api/v1/lists/{sending_list.pk}/contact-fields", {"key": key}, format="json"
            ).status_code
            == 201
        )

    response = client.post(f"/api/v1/lists/{sending_list.pk}/contact-fields", {"key": "zip"}, format="json")

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "non_field_errors": [
            "A list can have at most 2 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 2, "
            "and 1 more would make 3."
        ]
    }
    assert CustomField.objects.filter(sending_list=sending_list).count() == 2
