"""Hostile input to the API: wrong types, deep nesting, NUL characters and far-off values are a
400 in the one error shape that writes nothing, never a server error. Runs on SQLite and on
PostgreSQL (which refuses NUL characters that SQLite would store)."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from engagement.models import Message
from sendinglists.models import ImportJob, ListContact
from tests.factories import ListContactFactory, SendingListFactory

BULK = "/api/v1/contacts/bulk/"
TOO_DEEP = "JSON parse error - the body is nested more than 64 levels deep."


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def post_raw(client, path: str, body: str):
    return client.generic("POST", path, body, content_type="application/json")


@pytest.mark.parametrize("sending_list", [[1], {"id": 1}, True, "1", 1.5], ids=repr)
def test_a_bulk_upsert_whose_sending_list_is_not_an_id_is_a_400_and_writes_nothing(client, sending_list):
    SendingListFactory(pk=1)

    response = client.post(
        BULK, {"sending_list": sending_list, "contacts": [{"phone_number": "+14155550001"}]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "sending_list: Expected a sending list id (an integer).",
        "field_errors": {"sending_list": ["Expected a sending list id (an integer)."]},
    }
    assert (Contact.objects.count(), ListContact.objects.count()) == (0, 0)


@pytest.mark.parametrize("sending_list", [[1], {"id": 1}, True, "1"], ids=repr)
def test_a_bulk_item_whose_sending_list_is_not_an_id_is_an_item_error_and_writes_nothing(
    client, sending_list
):
    SendingListFactory(pk=1)

    response = client.post(
        BULK, {"contacts": [{"phone_number": "+14155550001", "sending_list": sending_list}]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["results"][0]["errors"] == {
        "sending_list": ["Expected a sending list id (an integer)."]
    }
    assert (Contact.objects.count(), ListContact.objects.count()) == (0, 0)


@pytest.mark.parametrize("path", ["/api/v1/contacts/", BULK, "/api/v1/lists/", "/api/v1/contact-fields/"])
def test_json_nested_10000_deep_is_a_400_in_the_error_shape_and_writes_nothing(client, path):
    response = post_raw(client, path, '{"phone_number": "+14155550001", "x": ' + deep(10_000) + "}")

    assert response.status_code == 400
    assert response.json() == {"code": "parse_error", "message": TOO_DEEP, "field_errors": {}}
    assert Contact.objects.count() == 0


def test_json_nested_just_past_64_levels_is_a_400_and_64_levels_are_read(client):
    # The object is one level, "x"'s arrays the rest.
    too_deep = post_raw(client, "/api/v1/contacts/", '{"phone_number": "12", "x": ' + deep(64) + "}")
    at_limit = post_raw(client, "/api/v1/contacts/", '{"phone_number": "12", "x": ' + deep(63) + "}")

    assert (too_deep.status_code, too_deep.json()["message"]) == (400, TOO_DEEP)
    assert (at_limit.status_code, sorted(at_limit.json()["field_errors"])) == (400, ["phone_number", "x"])
    assert Contact.objects.count() == 0


def test_a_custom_fields_filter_nested_10000_deep_is_a_400(client):
    sending_list = SendingListFactory()

    response = client.get(
        f"/api/v1/lists/{sending_list.pk}/contacts/", {"custom_fields": '{"plan": ' + deep(10_000) + "}"}
    )

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["custom_fields"]


@pytest.mark.parametrize("path", ["/api/v1/contacts/", "/api/v1/lists/{list_id}/contacts/"])
def test_a_cursor_of_deeply_nested_json_is_a_400(client, path):
    sending_list = SendingListFactory()
    cursor = base64.urlsafe_b64encode(deep(10_000).encode()).decode().rstrip("=")

    response = client.get(path.format(list_id=sending_list.pk), {"cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["cursor"]


def test_an_import_mapping_nested_10000_deep_is_a_400_and_starts_nothing(client):
    sending_list = SendingListFactory()
    file = SimpleUploadedFile("contacts.csv", b"Phone\n14155550001\n", content_type="text/csv")

    response = client.post(
        "/api/v1/imports/",
        {"file": file, "sending_list": sending_list.pk, "mapping": '{"0": ' + deep(10_000) + "}"},
        format="multipart",
    )

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["mapping"]
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize("format", ["json", "multipart"])
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "hello\x00", "provider_message_id": "SM1"}, "body"),
        ({"body": "hello", "provider_message_id": "SM\x00"}, "provider_message_id"),
    ],
)
def test_a_recorded_send_with_a_nul_character_is_a_400_and_counts_nothing(client, payload, field, format):
    member = ListContactFactory()

    response = client.post(
        f"/api/v1/lists/{member.sending_list_id}/contacts/{member.contact_id}/sends/", payload, format=format
    )

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == [field]
    member.refresh_from_db()
    assert (Message.objects.count(), member.send_count) == (0, 0)
