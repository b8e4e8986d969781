import uuid

from contacts.models import Contact, ContactChannel
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401 - the API tests' fixtures
from tests.factories import ContactChannelFactory, ContactFactory


def test_v2_contact_is_addressed_by_uuid_with_its_channels(client):
    contact = ContactFactory(phone_number="+14155551234")
    ContactChannelFactory(contact=contact, kind="email", value="work@example.com")
    response = client.get(f"/api/v2/contacts/{contact.uuid}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(contact.uuid)
    assert body["phone_number"] == "+14155551234"
    assert [(c["kind"], c["value"]) for c in body["channels"]] == [("email", "work@example.com")]
    assert "uuid" not in body


def test_an_integer_on_a_v2_path_is_a_404_not_a_lookup(client):
    contact = ContactFactory()
    for path in (
        f"/api/v2/contacts/{contact.pk}",
        f"/api/v2/contacts/{contact.pk}/",
        f"/api/v2/contacts/{contact.pk}/tags/",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert client.delete(f"/api/v2/contacts/{contact.pk}/").status_code == 404
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_a_uuid_on_a_v1_path_is_a_404(client):
    contact = ContactFactory()
    assert client.get(f"/api/v1/contacts/{contact.uuid}/").status_code == 404


def test_unknown_uuid_is_a_404(client):
    assert client.get(f"/api/v2/contacts/{uuid.uuid4()}/").status_code == 404


def test_v2_create_with_channels_and_digits_without_plus(client):
    response = client.post(
        "/api/v2/contacts/",
        {
            "phone_number": "14155551234",
            "first_name": "Ana",
            "channels": [
                {"kind": "email", "value": "Ana@Example.com"},
                {"kind": "phone", "value": "14155559876"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201
    contact = Contact.objects.get()
    assert response.json()["id"] == str(contact.uuid)
    assert sorted((c.kind, c.value) for c in contact.channels.all()) == [
        ("email", "ana@example.com"),
        ("phone", "+14155559876"),
    ]


def test_v2_channel_errors_are_400s_and_create_nothing(client):
    other = ContactFactory()
    ContactChannelFactory(contact=other, kind="email", value="taken@example.com")
    response = client.post(
        "/api/v2/contacts/",
        {"phone_number": "+14155551234", "channels": [{"kind": "email", "value": "taken@example.com"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "channels.0.value": ["taken@example.com is already a channel of another contact."]
    }
    response = client.post(
        "/api/v2/contacts/",
        {
            "phone_number": "+14155551234",
            "channels": [{"kind": "fax", "value": "1"}, {"kind": "email", "value": "x"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "channels.0.kind": ['"fax" is not a valid choice.'],
        "channels.1.value": ["'x' is not a valid email address."],
    }
    assert not Contact.objects.filter(phone_number="+14155551234").exists()


def test_v2_channels_add_list_and_remove(client):
    contact = ContactFactory()
    base = f"/api/v2/contacts/{contact.uuid}/channels/"
    response = client.post(base, {"kind": "phone", "value": "(415) 555-0000"}, format="json")
    assert response.status_code == 201
    channel = ContactChannel.objects.get()
    assert response.json() == {
        "id": channel.pk,
        "kind": "phone",
        "value": "+14155550000",
        "created_at": response.json()["created_at"],
    }
    assert [c["id"] for c in client.get(base).json()] == [channel.pk]
    assert client.delete(f"{base}{channel.pk}/").status_code == 204
    assert ContactChannel.objects.count() == 0
    assert client.delete(f"{base}{channel.pk}/").status_code == 404


def test_v2_update_and_delete_by_uuid(client):
    contact = ContactFactory(first_name="Ana")
    response = client.patch(f"/api/v2/contacts/{contact.uuid}/", {"first_name": "Anna"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Anna"
    assert client.delete(f"/api/v2/contacts/{contact.uuid}").status_code == 204
    assert Contact.objects.count() == 0


def test_v2_list_uses_uuids(client):
    contacts = [ContactFactory() for _ in range(3)]
    body = client.get("/api/v2/contacts/").json()
    assert [row["id"] for row in body["results"]] == [str(c.uuid) for c in reversed(contacts)]


def test_v2_has_no_bulk_endpoint(client):
    assert client.post("/api/v2/contacts/bulk/", {"contacts": []}, format="json").status_code == 404
