"""Nothing in a body is silently dropped: every operation of the OpenAPI schema that writes (POST,
PUT, PATCH) answers an unknown key with a 400 naming it, and a read-only key too. The operations
are read from the schema, so a new endpoint is covered the day it is routed."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.audiences.services import audience_create
from sendinglists.imports.services import import_create
from sendinglists.models import ListContact
from tests.factories import ContactChannelFactory, CustomFieldFactory, ListContactFactory, SendingListFactory

WRITING_METHODS = ("post", "put", "patch")


def writing_operations() -> list[tuple[str, str, bool]]:
    """(method, path template, multipart only) of every writing operation in the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in WRITING_METHODS:
                content = operation.get("requestBody", {}).get("content", {})
                operations.append((method, path, list(content) == ["multipart/form-data"]))
    return operations


OPERATIONS = writing_operations()


def test_the_schema_lists_every_writing_endpoint():
    # Not vacuous: contacts v1/v2, tags, channels, bulk, lists, fields, imports, memberships,
    # audiences and engagement's events are all here.
    paths = {path for _, path, _ in OPERATIONS}
    assert len(OPERATIONS) >= 25
    for expected in (
        "/api/v1/contacts/bulk/",
        "/api/v1/imports/{id}/cancel/",
        "/api/v1/lists/{list_id}/contacts/{contact_id}/workflow/",
        "/api/v2/contacts/{contactID}/channels/",
        "/api/v1/lists/{list_id}/audiences/{id}/",
    ):
        assert expected in paths


@pytest.fixture
def world(db):
    """One of each object a writing path names."""
    sending_list = SendingListFactory()
    field = CustomFieldFactory(sending_list=sending_list, key="plan")
    membership = ListContactFactory(sending_list=sending_list)
    contact = membership.contact
    channel = ContactChannelFactory(contact=contact)
    audience = audience_create(sending_list=sending_list, name="All", rules=None, query="status = active")
    job = import_create(
        sending_list=sending_list,
        uploaded_file=SimpleUploadedFile("c.csv", b"phone\n+14155550111\n", content_type="text/csv"),
        actor=Actor.system("test"),
    )
    return {
        "list": sending_list,
        "field": field,
        "contact": contact,
        "channel": channel,
        "audience": audience,
        "import": job,
    }


def concrete(path: str, world: dict) -> str:
    """The path template with the world's ids: `{id}` is the object of the collection before it."""
    values = {
        "list_id": world["list"].pk,
        "contact_id": world["contact"].pk,
        "contactID": world["contact"].uuid,
        "channel_id": world["channel"].pk,
    }
    ids = {
        "contacts": world["contact"].pk,
        "contact": world["contact"].pk,  # seed 001's paths
        "imports": world["import"].pk,
        "audiences": world["audience"].pk,
        "lists": world["list"].pk,
        "contact-fields": world["field"].pk,
    }

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name == "id":
            collection = path[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return str(ids[collection])
        return str(values[name])

    return re.sub(r"\{(\w+)\}", fill, path)


def send(client, method: str, path: str, body: dict, multipart: bool):
    if multipart:
        return getattr(client, method)(path, body, format="multipart")
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(
    ("method", "path", "multipart"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS]
)
def test_an_unknown_body_key_is_a_400_naming_it(client, world, method, path, multipart):
    before = (
        Contact.objects.count(),
        sorted(ListContact.objects.values_list("id", "custom_fields", "active")),
    )
    response = send(client, method, concrete(path, world), {"unexpected_key": "1"}, multipart)
    assert response.status_code == 400, response.content
    errors = response.json()["field_errors"]
    assert errors["unexpected_key"][0].startswith("Unknown field. Allowed: ")
    after = (
        Contact.objects.count(),
        sorted(ListContact.objects.values_list("id", "custom_fields", "active")),
    )
    assert after == before


def test_the_message_names_the_fields_allowed(client):
    response = client.post(
        "/api/v1/contacts/", {"phone_number": "+14155550100", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "colour": [
            "Unknown field. Allowed: phone_number, email, first_name, last_name, timezone, carrier, tags, "
            "custom_fields."
        ]
    }
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("key", ["id", "uuid", "status", "created_at", "blocked", "subscriptions"])
def test_a_read_only_key_is_a_400_not_ignored(client, key):
    contact = ListContactFactory().contact
    response = client.patch(f"/api/v1/contacts/{contact.pk}/", {key: "x", "first_name": "Ana"}, format="json")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {key: ["Read-only: set by the server, not taken in a request."]}
    contact.refresh_from_db()
    assert contact.first_name != "Ana"


def test_unknown_keys_are_reported_with_the_other_errors(client):
    response = client.post("/api/v1/contacts/", {"phone_number": "12", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["field_errors"]) == {"phone_number", "colour"}


def test_an_unknown_key_in_a_nested_object_is_named_by_its_path(client):
    response = client.post(
        "/api/v2/contacts/",
        {
            "phone_number": "+14155550100",
            "channels": [{"kind": "email", "value": "a@example.com", "label": "x"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["channels.0.label"]
    assert Contact.objects.count() == 0


def test_an_unknown_key_in_a_bulk_item_is_that_item_error(client):
    sending_list = SendingListFactory()
    response = client.post(
        "/api/v1/contacts/bulk/",
        {
            "sending_list": sending_list.pk,
            "contacts": [
                {"phone_number": "+14155550100"},
                {"phone_number": "+14155550101", "nickname": "Al"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["ok", "error"]
    assert list(results[1]["errors"]) == ["nickname"]
    assert list(Contact.objects.values_list("phone_number", flat=True)) == ["+14155550100"]


def test_an_unknown_key_at_the_top_of_a_bulk_request_refuses_it_whole(client):
    response = client.post(
        "/api/v1/contacts/bulk/",
        {"contacts": [{"phone_number": "+14155550100"}], "dry_run": True},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["dry_run"]
    assert Contact.objects.count() == 0
