"""schemathesis against the OpenAPI schema, through the real Django WSGI app: no server error and
no response that breaks the schema, on every operation, with a bounded number of examples."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from sendinglists.tokens.services import api_token_create
from tests.factories import ContactChannelFactory, CustomFieldFactory, ListContactFactory, SendingListFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 20


# Loaded at collection through the WSGI app (the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The real WSGI app closes the database connection after each request (request_finished);
    inside a test that would end the test's transaction. Django's test client does the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(db) -> dict:
    # Ids 1 and 2 exist, so generated small integers sometimes find real objects.
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="plan", field_type="choice", choices=["free", "pro"])
    for _ in range(2):
        membership = ListContactFactory(sending_list=sending_list, custom_fields={"plan": "pro"})
        ContactChannelFactory(contact=membership.contact)
    _, key = api_token_create(name="schemathesis")
    return {"Authorization": f"Token {key}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_schema(case, token_header):
    case.call_and_validate(headers=token_header, checks=CHECKS)


# Seed 001's paths (and where a field is now created) once more, with a token limited to one list:
# its answers must conform too (404s for everything outside its scope, withheld fields, …).
SEED_PATHS = r"^/api/v[12]/contact(/|-fields/)|^/api/v1/lists/\{list_id\}/contact-fields/"


@pytest.fixture
def scoped_token_header(token_header) -> dict:
    mine = SendingListFactory()
    CustomFieldFactory(sending_list=mine, key="tier")
    ListContactFactory(sending_list=mine)
    _, key = api_token_create(name="schemathesis scoped", sending_lists=[mine])
    return {"Authorization": f"Token {key}"}


@schema.include(path_regex=SEED_PATHS).parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_seed_paths_conform_to_the_schema_for_a_list_scoped_token(case, scoped_token_header):
    case.call_and_validate(headers=scoped_token_header, checks=CHECKS)
