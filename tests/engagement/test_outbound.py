"""The never-send rule: the send service refuses opted-out memberships and blocked contacts."""

import pytest
from django.core.exceptions import ValidationError

from contacts.services import contact_mark_invalid
from engagement.backends import BaseSmsBackend, SmsBackendError
from engagement.models import Message
from engagement.services import SendRefused, message_send
from sendinglists.actors import Actor
from sendinglists.choices import UnsubReason
from sendinglists.contacts.services import contact_block
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.support import LIST_NUMBER, PHONE, receive
from tests.factories import ContactFactory

SYSTEM = Actor.system("test")


class FailingBackend(BaseSmsBackend):
    def send(self, message):
        raise SmsBackendError("provider is down")


@pytest.fixture
def contact(db):
    return ContactFactory(phone_number=PHONE)


@pytest.fixture
def member(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


def send(sending_list, contact, body="Flash sale today", **kwargs):
    return message_send(sending_list=sending_list, contact=contact, body=body, **kwargs)


def test_a_send_to_an_active_member_goes_through_the_backend_and_counts(
    sending_list, contact, member, sms_outbox
):
    message = send(sending_list, contact)

    assert [(sms.from_number, sms.to_number, sms.body) for sms in sms_outbox] == [
        (LIST_NUMBER, PHONE, "Flash sale today")
    ]
    assert sms_outbox[0].status_callback_url == "http://127.0.0.1:8000/webhooks/twilio/status"
    assert (message.direction, message.status, message.list_contact_id) == ("outbound", "sent", member.pk)
    assert message.provider_message_id.startswith("locmem-")
    member.refresh_from_db()
    assert (member.send_count, member.last_sent_at) == (1, message.sent_at)


@pytest.mark.parametrize("reason", UnsubReason.values)
def test_nothing_is_sent_to_an_opted_out_membership(sending_list, contact, member, sms_outbox, reason):
    list_contact_opt_out(membership=member, reason=reason, actor=SYSTEM)

    with pytest.raises(SendRefused, match="is unsubscribed from Acme Deals"):
        send(sending_list, contact)

    assert (sms_outbox, Message.objects.count()) == ([], 0)
    member.refresh_from_db()
    assert member.send_count == 0


def test_nothing_is_sent_to_a_blocked_contact_not_even_a_stop_confirmation(
    sending_list, contact, member, sms_outbox
):
    stop = receive("STOP").message
    contact_block(contact=contact, actor=SYSTEM)

    with pytest.raises(SendRefused, match="is blocked"):
        send(sending_list, contact)
    with pytest.raises(SendRefused, match="is blocked"):
        send(sending_list, contact, body="You are unsubscribed.", reply_to=stop)

    assert (sms_outbox, Message.objects.filter(direction="outbound").count()) == ([], 0)


def test_nothing_is_sent_to_a_contact_that_is_not_a_member_or_is_marked_invalid(
    sending_list, contact, sms_outbox
):
    with pytest.raises(SendRefused, match="is not subscribed to Acme Deals"):
        send(sending_list, contact)
    list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM)
    contact_mark_invalid(contact=contact, line_type="landline")
    with pytest.raises(SendRefused, match="is marked invalid"):
        send(sending_list, contact)

    assert sms_outbox == []


def test_an_opted_out_member_gets_only_the_reply_to_its_own_stop_or_help(
    sending_list, contact, member, sms_outbox
):
    stop = receive("STOP").message
    chatter = receive("thanks").message

    reply = send(sending_list, contact, body="You are unsubscribed.", reply_to=stop)
    with pytest.raises(SendRefused):
        send(sending_list, contact, body="Glad you liked it!", reply_to=chatter)
    help_message = receive("HELP").message
    send(sending_list, contact, body="Acme help", reply_to=help_message)

    assert reply.reply_to_id == stop.pk
    assert [sms.body for sms in sms_outbox] == ["You are unsubscribed.", "Acme help"]


def test_an_empty_or_too_long_body_is_a_validation_error(sending_list, contact, member, sms_outbox):
    with pytest.raises(ValidationError) as empty:
        send(sending_list, contact, body="  ")
    with pytest.raises(ValidationError) as long:
        send(sending_list, contact, body="x" * 1601)

    assert empty.value.message_dict == {"body": ["The message is empty."]}
    assert long.value.message_dict == {"body": ["At most 1600 characters; this is 1601."]}
    assert sms_outbox == []


def test_a_backend_error_writes_nothing(sending_list, contact, member, settings):
    settings.SMS_BACKEND = "tests.engagement.test_outbound.FailingBackend"

    with pytest.raises(SmsBackendError):
        send(sending_list, contact)

    assert Message.objects.count() == 0
    member.refresh_from_db()
    assert member.send_count == 0
