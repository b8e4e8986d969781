"""`manage.py ensure_admin`: the superuser `make run` logs in with, created once."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

DEVELOPMENT_PASSWORD = "admin"


class Command(BaseCommand):
    help = (
        "Create the superuser ADMIN_USERNAME (default 'admin') if it does not exist. In development "
        "(DJANGO_DEBUG on) its password defaults to 'admin'; in production ADMIN_PASSWORD is required."
    )

    def handle(self, *args, **options):
        username = os.environ.get("ADMIN_USERNAME", "admin").strip() or "admin"
        password = os.environ.get("ADMIN_PASSWORD", "")
        email = os.environ.get("ADMIN_EMAIL", "")
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(f"The admin user {username!r} already exists; nothing changed.")
            return
        if not password and not settings.DEBUG:
            raise CommandError(
                "Refusing to create an admin user with a default password in production (DJANGO_DEBUG is "
                "off). Set ADMIN_PASSWORD (and optionally ADMIN_USERNAME, ADMIN_EMAIL) and run it again."
            )
        if password and not settings.DEBUG:
            try:
                validate_password(password, users(username=username, email=email))
            except ValidationError as exc:
                raise CommandError("ADMIN_PASSWORD is too weak: " + " ".join(exc.messages)) from None
        users.objects.create_superuser(
            username=username, email=email, password=password or DEVELOPMENT_PASSWORD
        )
        if password:
            self.stdout.write(f"Created the superuser {username!r} with the password from ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                f"Created the superuser {username!r} with password {DEVELOPMENT_PASSWORD!r} "
                "(development only). Log in at http://127.0.0.1:8000/admin/"
            )
