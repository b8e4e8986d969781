"""The engagement admins (engagement/admin.py): message search."""

import pytest
from django.utils import timezone

from engagement.models import Message
from tests.admin_forms import _changelist, _results, _subscribe
from tests.factories import SendingListFactory

pytestmark = pytest.mark.django_db


def test_message_search_finds_a_provider_id_or_the_contact_by_name(admin_client, jane):
    sending_list = SendingListFactory()
    membership = _subscribe(sending_list, jane)
    message = Message.objects.create(
        direction="outbound",
        sending_list=sending_list,
        contact=jane,
        list_contact=membership,
        from_number=sending_list.phone_number,
        to_number=jane.phone_number,
        body="Hi",
        provider_message_id="SM0123456789abcdef0123456789abcdef",
        status="delivered",
        sent_at=timezone.now(),
    )

    by_id = admin_client.get(_changelist("engagement.message"), {"q": message.provider_message_id})
    by_name = admin_client.get(_changelist("engagement.message"), {"q": "smith"})
    by_phone = admin_client.get(_changelist("engagement.message"), {"q": "(415) 555-0123"})

    assert [m.pk for m in _results(by_id)] == [message.pk]
    assert [m.pk for m in _results(by_name)] == [message.pk]
    assert [m.pk for m in _results(by_phone)] == [message.pk]
