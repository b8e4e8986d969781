from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from contacts.models import Contact
from sendinglists.models import ApiToken
from sendinglists.tokens.services import api_token_create, api_token_hash, api_token_revoke
from tests.factories import ContactFactory, SendingListFactory

ENDPOINTS = [
    "/api/v1/contacts/",
    "/api/v1/lists/",
    "/api/v1/contact-fields",
    "/api/v2/contacts/",
    "/api/v1/imports/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ENDPOINTS)
def test_anonymous_request_is_401_with_no_data(anonymous, path):
    ContactFactory()
    response = anonymous.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "field_errors": {},
    }


@pytest.mark.django_db
def test_unknown_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["message"] == "Invalid token."


@pytest.mark.django_db
def test_malformed_authorization_header_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token two parts")
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert "no spaces" in response.json()["message"]


def test_revoked_token_is_401_and_creates_nothing(client):
    assert api_token_revoke(token=client.token) is True
    response = client.post("/api/v1/contacts/", {"phone_number": "+14155551234"}, format="json")
    assert response.status_code == 401
    assert response.json()["message"] == "This token was revoked."
    assert Contact.objects.count() == 0
    assert api_token_revoke(token=client.token) is False


def test_token_is_stored_as_a_hash_only(db):
    token, key = api_token_create(name="Shop")
    token.refresh_from_db()
    assert token.key_hash == api_token_hash(key)
    assert key not in (token.key_hash, token.key_prefix)
    assert token.key_prefix == key[:8]


def test_token_without_a_name_is_refused(db):
    with pytest.raises(Exception, match="needs a name"):
        api_token_create(name="  ")
    assert ApiToken.objects.count() == 0


def test_a_request_records_when_the_token_was_last_used(client):
    assert client.token.last_used_at is None
    assert client.get("/api/v1/contacts/").status_code == 200
    client.token.refresh_from_db()
    assert client.token.last_used_at is not None


def test_read_only_token_reads_but_cannot_write(make_client):
    client = make_client(read_only=True)
    contact = ContactFactory()
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200
    response = client.post("/api/v1/contacts/", {"phone_number": "+14155551234"}, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "code": "permission_denied",
        "message": "This token is read-only: it may not create, change or delete anything.",
        "field_errors": {},
    }
    assert (
        client.patch(f"/api/v1/contacts/{contact.pk}/", {"first_name": "X"}, format="json").status_code == 403
    )
    assert client.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 403
    contact.refresh_from_db()
    assert contact.first_name != "X"
    assert Contact.objects.count() == 1


def test_throttle_answers_429_with_retry_after(client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": "3/min"}}
    statuses = [client.get("/api/v1/contacts/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response.json()["message"].startswith("Too many requests for this token; retry in ")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_throttle_counts_per_token(make_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": "2/min"}}
    first, second = make_client(name="first"), make_client(name="second")
    assert [first.get("/api/v1/lists/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/lists/").status_code == 200


def test_create_api_token_command_prints_the_token_on_its_last_line(db):
    sending_list = SendingListFactory(phone_number="+18005550100")
    out = StringIO()
    call_command("create_api_token", "Shopify sync", "--read-only", "--list", "18005550100", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(key_hash=api_token_hash(key))
    assert token.name == "Shopify sync"
    assert token.read_only is True
    assert list(token.sending_lists.all()) == [sending_list]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/lists/").json()["results"][0]["id"] == sending_list.pk


def test_create_api_token_command_rejects_an_unknown_list(db):
    with pytest.raises(CommandError, match="No sending list '\\+18009999999'"):
        call_command("create_api_token", "X", "--list", "+18009999999", stdout=StringIO())
    assert ApiToken.objects.count() == 0


def test_schema_and_docs_are_served_without_a_token(anonymous, db):
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"
    assert "/api/v2/contacts/{contactID}/" in document["paths"]
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
