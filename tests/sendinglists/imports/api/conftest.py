"""The API clients of `tests/api`, for the import API's tests beside the import package."""

from tests.api.conftest import client, make_client  # noqa: F401 - fixtures, registered by import
