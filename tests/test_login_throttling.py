"""The operator login (the admin's) is throttled: after AXES_FAILURE_LIMIT wrong passwords for one
username from one address, even the right password is refused until the cool-off has passed."""

import datetime as dt

import pytest
from django.conf import settings

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def log_in(client, username, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in_as(client):
    response = client.get("/admin/")
    return response.wsgi_request.user.get_username() if response.status_code == 200 else None


@pytest.fixture
def operator():
    return UserFactory(username="operator", is_superuser=True)


def lock_out(client, username):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, username, "wrong-password")


def test_after_the_failure_limit_the_right_password_is_refused_for_the_cool_off(client, operator):
    lock_out(client, "operator")

    response = log_in(client, "operator", "password")

    assert response.status_code == 429
    assert logged_in_as(client) is None


def test_a_locked_out_username_does_not_lock_out_another_user_or_the_same_user_elsewhere(
    client, operator, django_user_model
):
    UserFactory(username="colleague", is_superuser=True)
    lock_out(client, "operator")

    colleague = log_in(client, "colleague", "password")
    assert colleague.status_code == 302
    assert logged_in_as(client) == "colleague"

    client.logout()
    elsewhere = log_in(client, "operator", "password", address="198.51.100.20")
    assert elsewhere.status_code == 302
    assert logged_in_as(client) == "operator"


def test_the_right_password_works_again_once_the_cool_off_has_passed(client, operator):
    from axes.models import AccessAttempt

    lock_out(client, "operator")
    AccessAttempt.objects.update(
        attempt_time=dt.datetime.now(dt.UTC) - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    )

    response = log_in(client, "operator", "password")

    assert response.status_code == 302
    assert logged_in_as(client) == "operator"


def test_fewer_failures_than_the_limit_do_not_lock_out(client, operator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "operator", "wrong-password").status_code == 200

    assert log_in(client, "operator", "password").status_code == 302
