"""Delivery reports that arrive before the send that records their provider id has committed.

A provider calls back within milliseconds of accepting a message; the send records the id only when
the provider's answer returns, in a transaction still open. Twilio does not retry a status callback,
so a report refused then would be lost for good, and with a 21610 failure the person's carrier
opt-out with it.
"""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from engagement.backends.base import BaseSmsBackend, OutgoingSms
from engagement.models import EarlyDeliveryReport, Message
from engagement.services import message_send
from engagement.tasks import early_delivery_reports_sweep
from sendinglists.actors import Actor
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.support import PHONE, json_post, twilio_post
from tests.factories import ContactFactory, MessageFactory

STATUS = "/webhooks/twilio/status"
SID = "SMearly00000000000000000000000001"


class CallingBackBackend(BaseSmsBackend):
    """A provider that calls the status webhook back before its send() has returned the id."""

    callback = None  # set by the test: runs inside send(), before the id reaches message_send

    def send(self, message: OutgoingSms) -> str:
        CallingBackBackend.callback()
        return SID


@pytest.fixture
def calling_back(settings):
    settings.SMS_BACKEND = f"{__name__}.CallingBackBackend"
    yield CallingBackBackend
    CallingBackBackend.callback = None


@pytest.fixture
def member(sending_list):
    contact = ContactFactory(phone_number=PHONE)
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=Actor.system("test")
    ).membership


def carrier_opt_out_callback(client=None):
    return twilio_post(
        client or Client(), STATUS, {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "21610"}
    )


@pytest.mark.django_db
def test_a_failure_reported_before_the_send_committed_is_applied_by_the_send(
    calling_back, sending_list, member
):
    answers = []
    calling_back.callback = lambda: answers.append(carrier_opt_out_callback())

    message = message_send(sending_list=sending_list, contact=member.contact, body="Deal of the day")

    assert [answer.status_code for answer in answers] == [204]
    message.refresh_from_db()
    member.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "21610")
    assert (member.active, member.unsub_reason) == (False, "message")
    assert not EarlyDeliveryReport.objects.exists()


@pytest.mark.django_db
def test_the_sweep_applies_a_report_the_send_missed_and_drops_expired_ones(client, sending_list, member):
    # The race the send cannot close alone: the report commits after the send looked for it.
    assert carrier_opt_out_callback(client).status_code == 204
    stale = json_post(client, {"type": "status", "id": "never-sent", "status": "delivered"})
    assert (stale.status_code, stale.json()) == (
        202,
        {"ok": True, "applied": False, "pending": True, "membership_reason": ""},
    )
    EarlyDeliveryReport.objects.filter(provider_message_id="never-sent").update(
        received_at=timezone.now() - dt.timedelta(hours=25)
    )
    message = MessageFactory(
        sending_list=sending_list,
        contact=member.contact,
        list_contact=member,
        status="sent",
        provider_message_id=SID,
    )

    assert early_delivery_reports_sweep.delay().get() == 1

    message.refresh_from_db()
    member.refresh_from_db()
    assert (message.status, member.active, member.unsub_reason) == ("failed", False, "message")
    assert not EarlyDeliveryReport.objects.exists()


@pytest.mark.django_db
def test_a_complaint_before_its_message_is_kept_and_applied_once_the_message_exists(
    client, sending_list, member
):
    early = json_post(client, {"type": "complaint", "id": SID})
    MessageFactory(
        sending_list=sending_list,
        contact=member.contact,
        list_contact=member,
        status="sent",
        provider_message_id=SID,
    )

    assert early.status_code == 202
    assert early_delivery_reports_sweep.delay().get() == 1
    member.refresh_from_db()
    assert (member.active, member.unsub_reason) == (False, "complaint")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="two connections writing at once need PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_a_callback_from_another_connection_while_the_send_is_open_is_not_lost(
    calling_back, sending_list, member
):
    answers = []

    def provider_calls_back():
        # The provider's callback arrives on another connection while the send's transaction is
        # open (the send holds the contact and membership rows); it must not wait for them.
        def post():
            try:
                answers.append(carrier_opt_out_callback().status_code)
            finally:
                connection.close()

        thread = threading.Thread(target=post)
        thread.start()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the status callback waited for the send's transaction"

    calling_back.callback = provider_calls_back

    message = message_send(sending_list=sending_list, contact=member.contact, body="Deal of the day")

    assert answers == [204]
    message = Message.objects.get(pk=message.pk)
    member.refresh_from_db()
    assert (message.status, member.active, member.unsub_reason) == ("failed", False, "message")
    assert not EarlyDeliveryReport.objects.exists()
