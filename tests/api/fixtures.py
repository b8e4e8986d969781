"""The API tests' clients: a token with full access (`client`), tokens made to measure
(`make_client`), no token (`anonymous`). tests/api/conftest.py and the rooms' API tests import them."""

import pytest
from rest_framework.test import APIClient

from sendinglists.tokens.services import api_token_create


@pytest.fixture
def make_client(db):
    """A client authenticated with a new token: make_client(read_only=…, sending_lists=[…])."""

    def make(*, read_only: bool = False, sending_lists=(), name: str = "test consumer") -> APIClient:
        token, key = api_token_create(name=name, read_only=read_only, sending_lists=sending_lists)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token = token
        client.token_key = key
        return client

    return make


@pytest.fixture
def client(make_client) -> APIClient:
    """A token with full access."""
    return make_client()


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
