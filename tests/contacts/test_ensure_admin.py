from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def _run() -> str:
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _no_admin_env(monkeypatch):
    for name in ("ADMIN_USERNAME", "ADMIN_PASSWORD", "ADMIN_EMAIL"):
        monkeypatch.delenv(name, raising=False)


def test_in_development_creates_admin_with_password_admin_and_prints_it(settings):
    settings.DEBUG = True

    output = _run()

    user = get_user_model().objects.get()
    assert (user.username, user.is_superuser, user.is_staff) == ("admin", True, True)
    assert user.check_password("admin")
    assert "Created the superuser 'admin' with password 'admin' (development only)." in output


def test_an_existing_admin_is_left_alone(settings):
    settings.DEBUG = True
    get_user_model().objects.create_user(username="admin", password="my own secret")

    output = _run()

    user = get_user_model().objects.get()
    assert user.check_password("my own secret")
    assert user.is_superuser is False
    assert output == "The admin user 'admin' already exists; nothing changed.\n"


def test_in_production_refuses_without_admin_password(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="Set ADMIN_PASSWORD"):
        _run()

    assert not get_user_model().objects.exists()


def test_in_production_refuses_a_weak_admin_password(settings, monkeypatch):
    settings.DEBUG = False
    monkeypatch.setenv("ADMIN_PASSWORD", "admin")

    with pytest.raises(CommandError, match="ADMIN_PASSWORD is too weak"):
        _run()

    assert not get_user_model().objects.exists()


def test_in_production_creates_the_admin_from_the_environment_without_printing_the_password(
    settings, monkeypatch
):
    settings.DEBUG = False
    monkeypatch.setenv("ADMIN_USERNAME", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-Unusual-passphrase-42")
    monkeypatch.setenv("ADMIN_EMAIL", "ops@example.com")

    output = _run()

    user = get_user_model().objects.get()
    assert (user.username, user.email, user.is_superuser) == ("ops", "ops@example.com", True)
    assert user.check_password("a-long-Unusual-passphrase-42")
    assert "a-long-Unusual-passphrase-42" not in output
    assert output == "Created the superuser 'ops' with the password from ADMIN_PASSWORD.\n"
