"""Staff users with exactly the permissions a page test needs, signed in on `client`."""

import pytest
from django.contrib.auth.models import Permission

from tests.factories import (
    UserFactory,
)

VIEW_PERMISSIONS = (
    "contacts.view_contact",
    "sendinglists.view_listcontact",
    "sendinglists.view_sendinglist",
    "engagement.view_message",
)
CHANGE_PERMISSIONS = ("contacts.change_contact", "sendinglists.change_listcontact")


def staff_with(*permissions, username="viewer"):
    user = UserFactory(username=username, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def viewer(client):
    user = staff_with(*VIEW_PERMISSIONS, username="viewer")
    client.force_login(user)
    return user


@pytest.fixture
def operator(client):
    user = staff_with(*VIEW_PERMISSIONS, *CHANGE_PERMISSIONS, username="operator")
    client.force_login(user)
    return user
