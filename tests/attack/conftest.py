import pytest

from engagement.backends import locmem
from sendinglists.contacts.numbers import contact_channel_add_checked
from tests.api.fixtures import anonymous, client, make_client  # noqa: F401
from tests.attack.support import PHONE, SECOND
from tests.engagement.support import LIST_NUMBER
from tests.factories import ContactFactory, SendingListFactory


@pytest.fixture
def outbox(settings):
    settings.SMS_BACKEND = "engagement.backends.locmem.LocMemBackend"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def deals(db):
    return SendingListFactory(phone_number=LIST_NUMBER, name="Deals", help_text="Deals: reply STOP")


@pytest.fixture
def holder(db):
    """A contact with two numbers: its phone and a phone channel."""
    contact = ContactFactory(phone_number=PHONE)
    contact_channel_add_checked(contact=contact, kind="phone", value=SECOND)
    return contact
