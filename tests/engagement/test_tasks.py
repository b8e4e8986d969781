"""The follow-up of inbound messages: one confirmation per message, run by a task or the sweep."""

import datetime as dt

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from engagement.models import Message
from engagement.services import inbound_follow_up_run
from engagement.tasks import inbound_follow_up, inbound_follow_up_sweep
from sendinglists.actors import Actor
from sendinglists.contacts.services import contact_block
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.conftest import wait_for
from tests.engagement.support import LIST_NUMBER, PHONE, receive, twilio_post
from tests.factories import ContactFactory, SendingListFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def member(sending_list):
    contact = ContactFactory(phone_number=PHONE)
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


def replies():
    return list(
        Message.objects.filter(direction="outbound").order_by("id").values_list("reply_to_id", "body")
    )


def test_stop_gets_one_confirmation_even_though_the_membership_is_now_opted_out(
    sending_list, member, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive("STOP").message

    assert replies() == [
        (
            message.pk,
            "Acme Deals: You are unsubscribed and will receive no more messages. Reply START to resubscribe.",
        )
    ]
    assert [sms.to_number for sms in sms_outbox] == [PHONE]


def test_start_gets_a_confirmation_from_the_list_number(
    sending_list, member, django_capture_on_commit_callbacks
):
    list_contact_opt_out(membership=member, reason="message", actor=SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        message = receive("START").message

    assert replies() == [
        (message.pk, "Acme Deals: You are subscribed again. Reply HELP for help, STOP to opt out.")
    ]
    assert Message.objects.get(direction="outbound").from_number == LIST_NUMBER


def test_running_a_follow_up_twice_sends_one_reply(sending_list, member, sms_outbox):
    message = receive("STOP").message  # on_commit never fires here: the follow-up has not run

    assert inbound_follow_up.delay(message.pk).get() is True
    assert inbound_follow_up.delay(message.pk).get() is False
    assert inbound_follow_up_run(message_id=message.pk) is False

    assert len(sms_outbox) == 1
    message.refresh_from_db()
    assert message.follow_up_done_at is not None


def test_a_superseded_keyword_gets_no_confirmation(sending_list, member, sms_outbox):
    now = timezone.now() + dt.timedelta(minutes=1)
    stop = receive("STOP", at=now + dt.timedelta(seconds=1)).message
    start = receive("START", at=now).message  # older: ignored, the membership stays opted out

    inbound_follow_up_run(message_id=start.pk)
    inbound_follow_up_run(message_id=stop.pk)

    assert [reply_to for reply_to, _ in replies()] == [stop.pk]


def test_a_blocked_contact_gets_no_reply_but_the_follow_up_is_done(sending_list, member, sms_outbox):
    contact_block(contact=member.contact, actor=SYSTEM)
    message = receive("HELP").message

    assert inbound_follow_up_run(message_id=message.pk) is True

    assert sms_outbox == []
    message.refresh_from_db()
    assert message.follow_up_done_at is not None


def test_a_message_without_a_keyword_completes_its_follow_up_without_a_reply(sending_list, sms_outbox):
    message = receive("Do you ship to Canada?").message

    assert inbound_follow_up_run(message_id=message.pk) is True
    assert sms_outbox == []


def test_the_sweep_runs_follow_ups_that_never_ran_and_leaves_recent_ones_to_the_queue(
    sending_list, member, sms_outbox
):
    old = receive("HELP").message
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    recent = receive("INFO").message

    assert inbound_follow_up_sweep.delay().get() == 1
    assert inbound_follow_up_sweep.delay().get() == 0

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.follow_up_done_at is not None, recent.follow_up_done_at) == (True, None)
    assert len(sms_outbox) == 1
    assert inbound_follow_up_sweep.delay(grace_s=0).get() == 1


def test_the_sweep_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["inbound-follow-up-sweep"]
    assert (entry["task"], entry["schedule"]) == ("engagement.tasks.inbound_follow_up_sweep", 60)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_confirmation_after_the_webhook_committed(celery_worker):
    sending_list = SendingListFactory(phone_number=LIST_NUMBER, name="Acme Deals")
    contact = ContactFactory(phone_number=PHONE)
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership

    response = twilio_post(
        Client(),
        "/webhooks/twilio/inbound",
        {"MessageSid": "SMworker1", "From": PHONE, "To": LIST_NUMBER, "Body": "STOP"},
    )

    assert response.status_code == 200
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "message")  # before any worker ran
    inbound = Message.objects.get(provider_message_id="SMworker1")
    wait_for(lambda: Message.objects.filter(reply_to=inbound).exists(), 60)
    inbound.refresh_from_db()
    assert inbound.follow_up_done_at is not None
    assert Message.objects.get(reply_to=inbound).provider_message_id.startswith("console-")
