"""Fixtures for the engagement tests: the recording SMS backend and sending lists."""

import pytest

from engagement.backends import locmem
from tests.engagement.support import LIST_NUMBER, OTHER_LIST_NUMBER
from tests.factories import SendingListFactory


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """Messages "sent" during the test (engagement.backends.locmem)."""
    settings.SMS_BACKEND = "engagement.backends.locmem.LocMemBackend"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def sending_list(db):
    return SendingListFactory(
        phone_number=LIST_NUMBER,
        name="Acme Deals",
        help_text="Acme Deals: 4 msgs/month. Reply STOP to opt out.",
    )


@pytest.fixture
def other_list(db):
    return SendingListFactory(phone_number=OTHER_LIST_NUMBER, name="Acme News")
