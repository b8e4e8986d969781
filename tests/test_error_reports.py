"""Django's debug page (DEBUG on) must not show credentials held in URLs: settings or environment."""

import secrets

import pytest
from django.test import Client
from django.urls import path

from config.error_reports import redact_url_credentials

# Random: the debug page also shows this file's source around the raise.
DATABASE_PASSWORD = secrets.token_hex(8)
REDIS_PASSWORD = secrets.token_hex(8)
DATABASE_URL = f"postgres://app:{DATABASE_PASSWORD}@db.internal:5432/sms"
REDIS_URL = f"redis://:{REDIS_PASSWORD}@redis.internal:6379/0"


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom)]


@pytest.mark.urls(__name__)
def test_the_debug_page_hides_passwords_in_database_and_redis_urls(settings):
    settings.DEBUG = True
    settings.DATABASE_URL = DATABASE_URL
    settings.REDIS_URL = REDIS_URL
    settings.CELERY_BROKER_URL = REDIS_URL
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": REDIS_URL}
    }
    client = Client(raise_request_exception=False)

    # runserver puts the process environment into request.META: the page lists it too.
    response = client.get("/boom/", DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, SENTRY_DSN=REDIS_URL)

    page = response.content.decode()
    assert response.status_code == 500
    assert "RuntimeError" in page and "DATABASE_URL" in page and "REDIS_URL" in page
    assert DATABASE_PASSWORD not in page
    assert REDIS_PASSWORD not in page


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            "postgres://app:pw@db.internal:5432/sms",
            "postgres://app:********************@db.internal:5432/sms",
        ),
        ("redis://:pw@redis.internal:6379/0", "redis://:********************@redis.internal:6379/0"),
        (
            "rediss://redis.internal:6379/0?password=pw&db=1",
            "rediss://redis.internal:6379/0?password=********************&db=1",
        ),
        ("amqp://guest@rabbit//", "amqp://guest@rabbit//"),
        ("https://api.twilio.com", "https://api.twilio.com"),
        ("a note with no url", "a note with no url"),
    ],
)
def test_only_the_password_of_a_url_is_redacted(value, shown):
    assert redact_url_credentials(value) == shown
