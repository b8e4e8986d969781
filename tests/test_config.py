import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k3y-" + "x7Qp9v" * 10,
    "DJANGO_ALLOWED_HOSTS": "sms.example.com",
    "TWILIO_AUTH_TOKEN": "prod-token",
    "WEBHOOK_SIGNING_SECRET": "prod-secret",
}


def run_manage(*args, env=None, unset=("DATABASE_URL", "REDIS_URL")):
    environment = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("DJANGO_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_without_a_secret_key_fails_fast():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert "The environment variable DJANGO_SECRET_KEY is required in production." in result.stderr


PUBLISHED_SECRETS = {
    "DJANGO_SECRET_KEY": "dev-insecure-secret-key-do-not-use-in-production",
    "TWILIO_AUTH_TOKEN": "dev-twilio-auth-token",
    "WEBHOOK_SIGNING_SECRET": "dev-webhook-secret",
}
PRINT_SECRETS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.SECRET_KEY, settings.TWILIO_AUTH_TOKEN, settings.WEBHOOK_SIGNING_SECRET)"
)


def load_development_secrets(secrets_file: Path) -> list[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k not in PUBLISHED_SECRETS
    }
    environment.update(
        {"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEV_SECRETS_FILE": str(secrets_file)}
    )
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SECRETS], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_development_secrets_are_generated_once_per_install_and_kept_private(tmp_path):
    secrets_file = tmp_path / ".dev-secrets.json"

    first = load_development_secrets(secrets_file)
    second = load_development_secrets(secrets_file)
    other_install = load_development_secrets(tmp_path / "elsewhere.json")

    assert len(first) == 3
    assert not set(first) & set(PUBLISHED_SECRETS.values())
    assert all(len(secret) >= 40 for secret in first)
    assert second == first
    assert not set(other_install) & set(first)
    assert secrets_file.stat().st_mode & 0o777 == 0o600


def test_the_development_secrets_file_is_ignored_by_git():
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", ".dev-secrets.json"], cwd=ROOT, capture_output=True, text=True
    )

    assert result.stdout.strip() == ".dev-secrets.json"


@pytest.mark.parametrize("name", sorted(PUBLISHED_SECRETS))
@pytest.mark.parametrize("debug", ["true", "false"])
def test_a_secret_once_published_in_the_readme_is_refused_even_when_set_explicitly(name, debug):
    env = {**PRODUCTION_ENV, "DJANGO_DEBUG": debug, name: PUBLISHED_SECRETS[name]}

    result = run_manage("check", env=env)

    assert result.returncode != 0
    assert f"{name} is a published development value" in result.stderr


def test_a_malformed_boolean_knob_is_a_clear_error():
    result = run_manage("check", env={"DJANGO_DEBUG": "maybe"})

    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_embedded_default_is_sqlite_and_eager_celery():
    code = (
        "import django; django.setup(); from django.conf import settings; from config.celery import app; "
        "print(settings.DATABASES['default']['ENGINE'], app.conf.task_always_eager, app.conf.broker_url)"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )

    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "memory://"]


def test_database_and_redis_urls_switch_to_postgresql_and_a_real_broker():
    code = (
        "import django; django.setup(); from django.conf import settings; from config.celery import app; "
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'], "
        "app.conf.task_always_eager, app.conf.broker_url)"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/somewhere",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
    }

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )

    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "somewhere",
        "False",
        "redis://127.0.0.1:6379/9",
    ]


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
