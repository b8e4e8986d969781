from tests.api.fixtures import anonymous, client, make_client  # noqa: F401
