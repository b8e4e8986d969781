"""Delivery reports: each failure rule, ordering, replays."""

import pytest

from engagement.models import Message
from engagement.services import UnknownMessage, message_complaint_record, message_send, message_status_update
from sendinglists.actors import Actor
from sendinglists.lists.services import list_status_counts
from sendinglists.models import SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.support import PHONE
from tests.factories import ContactFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def contact(db):
    return ContactFactory(phone_number=PHONE)


@pytest.fixture
def member(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


def sent(sending_list, contact) -> Message:
    return message_send(sending_list=sending_list, contact=contact, body="Deal of the day")


def report(message, status, error_code=""):
    return message_status_update(
        provider_message_id=message.provider_message_id, status=status, error_code=error_code
    )


def state(membership):
    membership.refresh_from_db()
    return membership.active, membership.unsub_reason, membership.consecutive_failures


def test_statuses_move_forward_only_so_late_and_replayed_reports_change_nothing(
    sending_list, contact, member
):
    message = sent(sending_list, contact)

    assert report(message, "delivered").applied is True
    assert report(message, "sent").applied is False
    assert report(message, "queued").applied is False
    assert report(message, "delivered").applied is False
    assert report(message, "failed", "30003").applied is False

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("delivered", "")


@pytest.mark.parametrize(
    ("code", "line_type"),
    [("30006", "landline"), ("21614", "landline"), ("30005", "unknown"), ("21211", "unknown")],
)
def test_a_permanent_invalid_number_error_sets_invalid_contact_on_every_membership(
    sending_list, other_list, contact, member, code, line_type
):
    other = list_contact_subscribe(
        sending_list=other_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership
    message = sent(sending_list, contact)

    update = report(message, "undelivered", code)

    assert (update.applied, update.membership_reason) == (True, "invalid_contact")
    assert state(member)[:2] == state(other)[:2] == (False, "invalid_contact")
    contact.refresh_from_db()
    assert (contact.is_valid, contact.line_type) == (False, line_type)
    event = SubscriptionEvent.objects.get(list_contact=member, kind="opted_out")
    assert (event.actor_kind, event.actor_id, event.reason) == (
        "delivery",
        str(message.pk),
        "invalid_contact",
    )
    assert list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]["invalid_contact"] == 1


def test_three_rejections_in_a_row_set_bad_response(sending_list, contact, member, settings):
    assert settings.BAD_RESPONSE_FAILURE_LIMIT == 3
    first, second, third = (sent(sending_list, contact) for _ in range(3))

    report(first, "undelivered", "30003")
    report(second, "failed", "30007")
    assert state(member) == (True, "", 2)
    update = report(third, "undelivered", "30008")

    assert update.membership_reason == "bad_response"
    assert state(member) == (False, "bad_response", 3)
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.reason, event.note) == ("bad_response", "3 carrier rejections in a row (limit 3).")


def test_a_delivery_resets_the_rejection_count(sending_list, contact, member):
    messages = [sent(sending_list, contact) for _ in range(4)]

    report(messages[0], "failed", "30003")
    report(messages[1], "failed", "30003")
    report(messages[2], "delivered")
    report(messages[3], "failed", "30003")

    assert state(member) == (True, "", 1)


def test_a_replayed_failure_report_counts_once(sending_list, contact, member):
    message = sent(sending_list, contact)

    for _ in range(3):
        report(message, "undelivered", "30003")

    assert state(member) == (True, "", 1)


def test_the_rejection_limit_is_configurable(sending_list, contact, member, settings):
    settings.BAD_RESPONSE_FAILURE_LIMIT = 1

    report(sent(sending_list, contact), "failed", "30003")

    assert state(member)[:2] == (False, "bad_response")


def test_a_carrier_opt_out_error_opts_the_membership_out_with_reason_message(sending_list, contact, member):
    message = sent(sending_list, contact)

    update = report(message, "failed", "21610")

    assert update.membership_reason == "message"
    assert state(member) == (False, "message", 0)
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.actor_kind, event.note) == (
        "delivery",
        "The carrier reports that the recipient opted out (error 21610).",
    )


def test_a_spam_complaint_opts_the_membership_out_with_reason_complaint_once(sending_list, contact, member):
    message = sent(sending_list, contact)

    first = message_complaint_record(provider_message_id=message.provider_message_id)
    again = message_complaint_record(provider_message_id=message.provider_message_id)

    assert (first.membership_reason, again.applied) == ("complaint", False)
    assert state(member)[:2] == (False, "complaint")
    assert SubscriptionEvent.objects.filter(kind="opted_out", reason="complaint").count() == 1


def test_a_report_for_an_unknown_or_inbound_message_is_unknown(sending_list, contact, member):
    with pytest.raises(UnknownMessage):
        message_status_update(provider_message_id="SMnope", status="delivered")
    with pytest.raises(UnknownMessage):
        message_complaint_record(provider_message_id="SMnope")
