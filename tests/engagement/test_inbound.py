"""Inbound messages through the service both webhooks call: keywords, scope, ordering, replays."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.models import Contact
from engagement.choices import Direction, KeywordKind
from engagement.models import Message
from sendinglists.actors import Actor
from sendinglists.contacts.services import contact_block, contact_delete
from sendinglists.lists.services import list_status_counts
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import Outcome, list_contact_subscribe
from tests.engagement.support import LIST_NUMBER, OTHER_LIST_NUMBER, PHONE, receive
from tests.factories import ContactFactory, SendingListFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def at():
    """Message timestamps: `at(n)` is n seconds after a start just after the test's own setup."""
    start = timezone.now() + dt.timedelta(minutes=1)
    return lambda seconds: start + dt.timedelta(seconds=seconds)


def subscribe(sending_list, contact, **kwargs):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="import", actor=SYSTEM, **kwargs
    ).membership


def state(membership) -> tuple[bool, str]:
    membership.refresh_from_db()
    return membership.active, membership.unsub_reason


def counts(sending_list) -> dict:
    return {
        k: v for k, v in list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk].items() if v
    }


@pytest.fixture
def contact(db):
    return ContactFactory(phone_number=PHONE)


@pytest.fixture
def member(sending_list, contact):
    return subscribe(sending_list, contact)


@pytest.mark.parametrize(
    "word", ["STOP", "unsubscribe", "Cancel", "end", "QUIT", "optout", "Revoke", "opt out"]
)
def test_each_opt_out_keyword_opts_the_contact_out_of_that_list_only(
    at, word, sending_list, other_list, contact
):
    member, other = subscribe(sending_list, contact), subscribe(other_list, contact)

    result = receive(word, at=at(1))

    message = result.message
    assert (result.created, message.keyword, message.list_contact_id) == (
        True,
        KeywordKind.OPT_OUT,
        member.pk,
    )
    assert state(member) == (False, "message")
    assert member.opted_out_at == at(1)
    assert state(other) == (True, "")
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.list_contact_id, event.reason, event.actor_kind, event.actor_id, event.occurred_at) == (
        member.pk,
        "message",
        "message",
        str(message.pk),
        at(1),
    )
    assert counts(sending_list) == {"message": 1}
    assert counts(other_list) == {"active": 1}


@pytest.mark.parametrize("word", ["STOPALL", "stop all"])
def test_stopall_opts_the_contact_out_of_every_list_it_belongs_to(
    at, word, sending_list, other_list, contact
):
    member, other = subscribe(sending_list, contact), subscribe(other_list, contact)
    third_list = SendingListFactory()
    bystander = subscribe(sending_list, ContactFactory())

    message = receive(word, at=at(1)).message

    assert message.keyword == KeywordKind.OPT_OUT_ALL
    assert state(member) == state(other) == (False, "message")
    assert state(bystander) == (True, "")
    assert not ListContact.objects.filter(sending_list=third_list).exists()
    events = SubscriptionEvent.objects.filter(kind="opted_out", sending_list__isnull=False)
    assert [(e.sending_list_id, e.actor_id) for e in events.order_by("sending_list_id")] == [
        (sending_list.pk, str(message.pk)),
        (other_list.pk, str(message.pk)),
    ]
    # The number itself is opted out of every list, the third one and lists made later included.
    everywhere = SubscriptionEvent.objects.get(kind="opted_out", sending_list__isnull=True)
    assert (everywhere.phone_number, everywhere.actor_id) == (contact.phone_number, str(message.pk))
    assert subscribe(third_list, contact).active is False
    assert subscribe(SendingListFactory(), contact).active is False


def test_stopall_to_a_number_that_is_no_sending_list_still_opts_out_of_every_list(
    at, sending_list, other_list, contact
):
    member, other = subscribe(sending_list, contact), subscribe(other_list, contact)

    message = receive("STOPALL", to="+18005550777", at=at(1)).message

    assert (message.sending_list_id, message.to_number) == (None, "+18005550777")
    assert state(member) == state(other) == (False, "message")


def test_stop_to_a_number_that_is_no_sending_list_is_stored_and_changes_nothing(sending_list, member):
    message = receive("STOP", to="+18005550777").message

    assert (message.sending_list_id, message.keyword) == (None, KeywordKind.OPT_OUT)
    assert state(member) == (True, "")
    assert not SubscriptionEvent.objects.filter(kind="opted_out").exists()


@pytest.mark.parametrize("word", ["START", "unstop", "Yes"])
def test_each_opt_in_keyword_resubscribes_an_opted_out_membership_with_an_audited_event(
    at, word, sending_list, member
):
    list_contact_opt_out(membership=member, reason="message", actor=SYSTEM)

    message = receive(word, at=at(1)).message

    assert message.keyword == KeywordKind.OPT_IN
    assert state(member) == (True, "")
    assert (member.subscribed_at, member.status_changed_at, member.opted_out_at) == (at(1), at(1), None)
    event = SubscriptionEvent.objects.get(kind="resubscribed")
    assert (event.list_contact_id, event.actor_kind, event.actor_id) == (
        member.pk,
        "message",
        str(message.pk),
    )
    assert counts(sending_list) == {"active": 1}


def test_start_from_a_new_number_creates_the_contact_and_subscribes_it_with_signup_method_inbound(
    at,
    sending_list,
):
    result = receive("START", phone="4155550199", at=at(1))

    contact = Contact.objects.get()
    membership = ListContact.objects.get()
    assert contact.phone_number == "+14155550199"
    assert (membership.contact_id, membership.sending_list_id) == (contact.pk, sending_list.pk)
    assert (membership.active, membership.signup_method, membership.subscribed_at) == (True, "inbound", at(1))
    assert result.message.list_contact_id == membership.pk
    event = SubscriptionEvent.objects.get()
    assert (event.kind, event.signup_method, event.actor_id) == (
        "subscribed",
        "inbound",
        str(result.message.pk),
    )


def test_a_message_from_a_new_number_creates_the_contact_without_subscribing_it(sending_list):
    message = receive("Hi, what are your opening hours?").message

    contact = Contact.objects.get()
    assert (contact.phone_number, contact.line_type) == (PHONE, "unknown")
    assert (message.contact_id, message.direction, message.status, message.keyword) == (
        contact.pk,
        Direction.INBOUND,
        "received",
        "",
    )
    assert (message.from_number, message.to_number) == (PHONE, LIST_NUMBER)
    assert not ListContact.objects.exists()
    assert not SubscriptionEvent.objects.exists()


def test_stop_from_a_number_that_never_subscribed_records_an_opt_out_that_a_later_import_respects(
    at,
    sending_list,
):
    message = receive("STOP", at=at(1)).message

    membership = ListContact.objects.get()
    assert (membership.active, membership.unsub_reason, membership.signup_method) == (
        False,
        "message",
        "inbound",
    )
    assert membership.opted_out_at == at(1)
    assert message.list_contact_id == membership.pk
    result = list_contact_subscribe(
        sending_list=sending_list, contact=membership.contact, signup_method="import", actor=SYSTEM
    )
    assert result.outcome == Outcome.SKIPPED_OPTED_OUT
    assert state(membership) == (False, "message")


def test_a_replayed_message_changes_nothing_and_its_follow_up_runs_once(
    at, sending_list, member, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = receive("STOP", sid="SMreplay", at=at(1))
    with django_capture_on_commit_callbacks(execute=True):
        again = receive("START", sid="SMreplay", at=at(2))

    assert (first.created, again.created, again.message.pk) == (True, False, first.message.pk)
    assert Message.objects.filter(direction="inbound").count() == 1
    assert state(member) == (False, "message")
    assert SubscriptionEvent.objects.filter(list_contact=member).values_list("kind", flat=True).count() == 2
    assert len(sms_outbox) == 1
    assert Message.objects.filter(direction="outbound", reply_to=first.message).count() == 1


# --- ordering -------------------------------------------------------------------------------------


def test_a_stop_that_arrives_before_an_earlier_start_wins(at, sending_list, member):
    receive("STOP", at=at(2))
    receive("START", at=at(1))

    assert state(member) == (False, "message")
    assert member.opted_out_at == at(2)


def test_a_start_that_arrives_before_an_earlier_stop_wins(at, sending_list, member):
    list_contact_opt_out(membership=member, reason="message", actor=SYSTEM)
    receive("START", at=at(2))
    receive("STOP", at=at(1))

    assert state(member) == (True, "")
    assert SubscriptionEvent.objects.filter(list_contact=member, kind="opted_out").count() == 1  # the setup's


def test_a_start_that_changed_nothing_still_outranks_an_earlier_stop_arriving_late(at, sending_list, member):
    receive("START", at=at(2))  # already subscribed: nothing to change
    receive("STOP", at=at(1))

    assert state(member) == (True, "")


def test_a_stop_that_changed_nothing_still_outranks_an_earlier_start_arriving_late(at, sending_list, member):
    list_contact_opt_out(membership=member, reason="bad_response", actor=SYSTEM)
    receive("STOP", at=at(2))
    receive("START", at=at(1))

    assert state(member) == (False, "bad_response")


def test_messages_in_time_order_apply_one_after_the_other(at, sending_list, member):
    receive("STOP", at=at(1))
    receive("START", at=at(2))
    receive("STOP", at=at(3))

    assert state(member) == (False, "message")
    kinds = list(
        SubscriptionEvent.objects.filter(list_contact=member).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["subscribed", "opted_out", "resubscribed", "opted_out"]


def test_stopall_outranks_an_earlier_start_on_another_list_arriving_late(
    at, sending_list, other_list, contact
):
    member, other = subscribe(sending_list, contact), subscribe(other_list, contact)
    receive("STOPALL", at=at(2))
    receive("START", to=OTHER_LIST_NUMBER, at=at(1))
    assert state(member) == state(other) == (False, "message")

    receive("START", to=OTHER_LIST_NUMBER, at=at(3))
    assert (state(member), state(other)) == ((False, "message"), (True, ""))


def test_a_late_start_from_a_new_member_is_followed_by_the_stopall_sent_after_it(
    at, sending_list, other_list, contact
):
    subscribe(sending_list, contact)
    stopall = receive("STOPALL", at=at(2)).message
    start = receive("START", to=OTHER_LIST_NUMBER, at=at(1)).message

    other = ListContact.objects.get(sending_list=other_list)
    assert (other.active, other.unsub_reason, other.opted_out_at) == (False, "message", at(2))
    assert start.keyword == KeywordKind.OPT_IN
    # The STOPALL already stood in the consent ledger for every list: the earlier START never
    # made the number active; its opted-out membership names the STOPALL's event as evidence.
    everywhere = SubscriptionEvent.objects.get(sending_list__isnull=True, kind="opted_out")
    assert everywhere.actor_id == str(stopall.pk)
    events = SubscriptionEvent.objects.filter(list_contact=other).order_by("id")
    assert [(e.kind, e.reason) for e in events] == [("opted_out", "message")]
    assert f"(event #{everywhere.pk}) still stands" in events[0].note


def test_a_stop_still_applies_when_an_import_subscribed_after_it_was_sent(sending_list, contact):
    stop_sent_at = timezone.now() - dt.timedelta(minutes=5)
    member = subscribe(sending_list, contact)  # subscribed now, after the STOP was sent

    message = receive("STOP", at=stop_sent_at).message

    assert state(member) == (False, "message")
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert event.actor_id == str(message.pk)
    assert "arrived after a later subscription" in event.note


# --- other keywords and flags ---------------------------------------------------------------------


def test_help_changes_nothing_and_the_follow_up_replies_with_the_lists_help_text(
    sending_list, member, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive("help").message

    assert message.keyword == KeywordKind.HELP
    assert state(member) == (True, "")
    assert [(sms.from_number, sms.to_number, sms.body) for sms in sms_outbox] == [
        (LIST_NUMBER, PHONE, "Acme Deals: 4 msgs/month. Reply STOP to opt out.")
    ]
    reply = Message.objects.get(direction="outbound")
    assert (reply.reply_to_id, reply.list_contact_id, reply.body) == (
        message.pk,
        member.pk,
        sms_outbox[0].body,
    )
    message.refresh_from_db()
    assert message.follow_up_done_at is not None


def test_opt_out_wording_that_is_not_a_keyword_is_flagged_for_review_and_changes_nothing(
    sending_list, member, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive("please stop texting me").message

    assert (message.keyword, message.needs_review) == ("", True)
    assert state(member) == (True, "")
    assert SubscriptionEvent.objects.filter(kind="opted_out").count() == 0
    assert sms_outbox == []


def test_a_lists_own_keywords_apply_to_messages_sent_to_that_list_only(at, sending_list, other_list, contact):
    sending_list.opt_out_keywords = ["pause"]
    sending_list.opt_in_keywords = ["resume"]
    sending_list.save()
    member, other = subscribe(sending_list, contact), subscribe(other_list, contact)

    receive("PAUSE", to=OTHER_LIST_NUMBER, at=at(1))
    assert state(other) == (True, "")
    receive("Pause!", at=at(2))
    assert state(member) == (False, "message")
    receive("resume", at=at(3))
    assert state(member) == (True, "")


def test_a_blocked_contact_is_never_subscribed_by_start_but_its_stop_is_recorded(at, sending_list, contact):
    member = subscribe(sending_list, contact)
    contact_block(contact=contact, actor=SYSTEM)

    receive("STOP", at=at(1))
    assert state(member) == (False, "message")
    receive("START", at=at(2))
    assert state(member) == (False, "message")
    receive("START", to=OTHER_LIST_NUMBER, at=at(3))
    assert ListContact.objects.count() == 1


def test_start_brings_back_a_number_whose_opt_out_outlived_its_deleted_contact(at, sending_list, contact):
    member = subscribe(sending_list, contact)
    list_contact_opt_out(membership=member, reason="message", actor=SYSTEM)
    contact_delete(contact=contact)

    receive("hello", at=at(1))
    assert not ListContact.objects.exists()
    receive("START", at=at(2))

    membership = ListContact.objects.get()
    assert (membership.active, membership.status_changed_at) == (True, at(2))
    kinds = list(
        SubscriptionEvent.objects.filter(list_contact=membership)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["opted_out", "resubscribed"]


def test_an_invalid_sender_number_is_a_validation_error_and_nothing_is_written(sending_list):
    with pytest.raises(ValidationError) as error:
        receive("STOP", phone="12345")

    assert "phone_number" in error.value.message_dict
    assert (Message.objects.count(), Contact.objects.count(), SubscriptionEvent.objects.count()) == (0, 0, 0)


def test_a_missing_provider_id_is_a_validation_error(sending_list):
    with pytest.raises(ValidationError) as error:
        receive("STOP", sid="  ")
    assert error.value.message_dict == {"provider_message_id": ["Required: the provider's message id."]}
    assert Message.objects.count() == 0


def test_a_members_stop_reads_and_locks_its_rows_in_one_query_reads_its_numbers_and_writes_in_seven(
    at, sending_list, member, django_assert_num_queries
):
    receive("HELP", at=at(1))  # the process now knows the list's region

    # savepoint, list+contact+membership, message, later START?, membership, counts, event,
    # the contact's numbers (its phone and phone channels: the ledger row goes to each), consent
    # ledger, its own row over a carried one, release
    with django_assert_num_queries(11):
        message = receive("STOP", at=at(2)).message

    assert (message.list_contact_id, state(member)) == (member.pk, (False, "message"))
    assert counts(sending_list) == {"message": 1}
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.list_contact_id, event.actor_id) == (member.pk, str(message.pk))


def test_the_members_rows_read_for_a_keyword_hold_the_same_typed_values_as_the_orm_reads(
    at, sending_list, contact
):
    member = subscribe(sending_list, contact)
    ListContact.objects.filter(pk=member.pk).update(
        custom_fields={"state": "CA", "score": 7}, revenue_total=Decimal("12.50"), send_count=3
    )
    receive("HELP", at=at(1))  # the process now knows the list's region: one query reads all three

    changed = receive("STOP", at=at(2)).changes[0].membership

    stored = ListContact.objects.select_related("contact", "sending_list").get(pk=member.pk)
    for field in ListContact._meta.concrete_fields:
        assert getattr(changed, field.attname) == getattr(stored, field.attname), field.name
    assert changed.custom_fields == {"state": "CA", "score": 7}
    assert (changed.revenue_total, changed.send_count) == (Decimal("12.50"), 3)
    assert {f.name: getattr(changed.contact, f.attname) for f in Contact._meta.concrete_fields} == {
        f.name: getattr(stored.contact, f.attname) for f in Contact._meta.concrete_fields
    }
    assert changed.sending_list.opt_out_keywords == stored.sending_list.opt_out_keywords
    assert changed.sending_list.default_region == "US"


def test_a_national_number_is_read_in_the_region_of_the_list_it_was_sent_to(db, at):
    uk_list = SendingListFactory(phone_number="+442071838750", default_region="GB")
    member = subscribe(uk_list, ContactFactory(phone_number="+447911123456"))

    for seconds, word in ((1, "HELP"), (2, "STOP")):
        message = receive(word, to="+442071838750", phone="07911 123456", at=at(seconds)).message
        assert (message.contact_id, message.list_contact_id) == (member.contact_id, member.pk)

    assert state(member) == (False, "message")


def test_a_lists_changed_region_applies_to_the_next_message(db, at):
    uk_list = SendingListFactory(phone_number="+442071838750", default_region="GB")
    subscribe(uk_list, ContactFactory(phone_number="+447911123456"))
    receive("HELP", to="+442071838750", phone="07911 123456", at=at(1))
    uk_list.default_region = "US"
    uk_list.save(update_fields=["default_region"])

    with pytest.raises(ValidationError) as error:  # 07911 123456 is no US number
        receive("STOP", to="+442071838750", phone="07911 123456", at=at(2))

    assert "phone_number" in error.value.message_dict
    assert Message.objects.count() == 1
