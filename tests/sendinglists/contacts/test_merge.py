"""Merging two contacts that are one person (sendinglists/contacts/merge.py): consent wins on either
side, counters add up, known values stay, history follows, and a retry changes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact, ContactChannel, NumberSuppression
from contacts.services import contact_set_tags
from engagement.models import Click, Conversion, Message
from sendinglists.actors import Actor
from sendinglists.choices import EventKind
from sendinglists.contacts.merge import contacts_merge, merge_preview
from sendinglists.contacts.services import contact_block
from sendinglists.lists.services import list_status_counts
from sendinglists.models import ContactMerge, CustomField, ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out, number_opt_out_everywhere
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import (
    ClickFactory,
    ContactChannelFactory,
    ContactFactory,
    ConversionFactory,
    MessageFactory,
    SendingListFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
T0 = timezone.make_aware(dt.datetime(2025, 6, 1, 9, 0))


def subscribe(sending_list, contact, **custom_fields):
    return list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="api",
        actor=SYSTEM,
        custom_fields=custom_fields or None,
    ).membership


def opt_out(membership, reason="message", at=None):
    list_contact_opt_out(membership=membership, reason=reason, actor=SYSTEM, occurred_at=at)


@pytest.fixture
def operator():
    return Actor.for_user(UserFactory(username="merger"))


@pytest.fixture
def pair():
    survivor = ContactFactory(phone_number="+16285550101", first_name="Ana", last_name="", email="")
    duplicate = ContactFactory(
        phone_number="+16285550102", first_name="Anna", last_name="Smith", email="ana@example.com"
    )
    return survivor, duplicate


def merged_membership(sending_list, survivor):
    return ListContact.objects.get(sending_list=sending_list, contact=survivor)


def test_merge_keeps_an_opt_out_of_the_duplicate_and_never_reactivates(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory(name="Deals")
    subscribe(deals, survivor)
    opt_out(subscribe(deals, duplicate), reason="complaint")

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    membership = merged_membership(deals, survivor)
    assert (membership.active, membership.unsub_reason) == (False, "complaint")
    assert list_status_counts(sending_list_ids=[deals.pk])[deals.pk]["active"] == 0
    assert list_status_counts(sending_list_ids=[deals.pk])[deals.pk]["complaint"] == 1
    assert ListContact.objects.filter(sending_list=deals).count() == 1


def test_merge_keeps_an_opt_out_of_the_survivor_with_the_earliest_evidence(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory()
    opt_out(subscribe(deals, survivor), reason="manual", at=timezone.now() + dt.timedelta(minutes=1))
    opt_out(subscribe(deals, duplicate), reason="message", at=timezone.now())
    later = merged_membership(deals, survivor).opted_out_at

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    membership = merged_membership(deals, survivor)
    assert membership.active is False
    assert membership.unsub_reason == "message"  # the earlier opt-out is the evidence
    assert membership.opted_out_at < later
    counts = list_status_counts(sending_list_ids=[deals.pk])[deals.pk]
    assert (counts["message"], counts["manual"], counts["active"]) == (1, 0, 0)


def test_merge_opts_out_a_moved_membership_where_the_survivors_number_opted_out(pair, operator):
    """The survivor has no membership on the list any more, but its number's opt-out stands there:
    the duplicate's active membership moves to it opted out, never active."""
    survivor, duplicate = pair
    deals = SendingListFactory()
    opt_out(subscribe(deals, survivor))
    ListContact.objects.filter(contact=survivor).delete()
    subscribe(deals, duplicate)

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    membership = merged_membership(deals, survivor)
    assert (membership.active, membership.unsub_reason) == (False, "message")
    assert "+16285550101 opted out of this list" in membership.events.get(kind=EventKind.MERGED).note


def test_merge_opts_out_the_survivor_where_the_duplicates_number_sent_stopall(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory()
    subscribe(deals, survivor)
    number_opt_out_everywhere(contact=duplicate, actor=SYSTEM)

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert merged_membership(deals, survivor).active is False
    assert list_status_counts(sending_list_ids=[deals.pk])[deals.pk]["active"] == 0
    # No opt-out is invented for the survivor's own number: the MERGED event is the evidence.
    assert not NumberSuppression.objects.filter(phone_number=survivor.phone_number).exists()


def test_merge_opts_out_where_a_blocked_number_also_opted_out(pair, operator):
    """Found by the property test: the ledger answers a blocked number's block before its opt-outs;
    the merged membership must still read opted out (an unblock later must not make it active)."""
    survivor, duplicate = pair
    deals = SendingListFactory()
    number_opt_out_everywhere(contact=survivor, actor=SYSTEM)
    contact_block(contact=survivor, actor=SYSTEM)
    subscribe(deals, duplicate)

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    membership = merged_membership(deals, survivor)
    assert (membership.active, membership.unsub_reason) == (False, "message")
    assert list_status_counts(sending_list_ids=[deals.pk])[deals.pk]["active"] == 0


def test_merge_with_a_blocked_duplicate_blocks_the_survivor_and_both_numbers(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory()
    subscribe(deals, survivor)
    contact_block(contact=duplicate, actor=SYSTEM)

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    survivor.refresh_from_db()
    assert survivor.blocked is True
    blocked_numbers = set(
        NumberSuppression.objects.filter(kind=SuppressionKind.BLOCK).values_list("phone_number", flat=True)
    )
    assert blocked_numbers == {"+16285550101", "+16285550102"}
    block_event = SubscriptionEvent.objects.get(kind=EventKind.BLOCKED, phone_number="+16285550101")
    assert block_event.actor_label == "merger"


def test_merge_with_a_blocked_survivor_blocks_the_duplicates_number(pair, operator):
    survivor, duplicate = pair
    contact_block(contact=survivor, actor=SYSTEM)

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert NumberSuppression.objects.filter(phone_number="+16285550102", kind=SuppressionKind.BLOCK).exists()
    assert SubscriptionEvent.objects.get(phone_number="+16285550102").contact_id == survivor.pk


def test_merge_sums_counters_and_keeps_the_latest_times(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory()
    kept, gone = subscribe(deals, survivor), subscribe(deals, duplicate)
    ListContact.objects.filter(pk=kept.pk).update(
        send_count=3, click_count=1, conversion_count=1, revenue_total=Decimal("10.50"), last_sent_at=T0
    )
    ListContact.objects.filter(pk=gone.pk).update(
        send_count=4,
        click_count=2,
        conversion_count=0,
        revenue_total=Decimal("2.25"),
        last_sent_at=T0 + dt.timedelta(days=1),
        last_clicked_at=T0,
    )

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    membership = merged_membership(deals, survivor)
    assert (membership.send_count, membership.click_count, membership.conversion_count) == (7, 3, 1)
    assert membership.revenue_total == Decimal("12.75")
    assert (membership.last_sent_at, membership.last_clicked_at) == (T0 + dt.timedelta(days=1), T0)
    assert membership.active is True
    assert list_status_counts(sending_list_ids=[deals.pk])[deals.pk]["active"] == 1


def test_merge_fills_gaps_without_overwriting_known_values(pair, operator):
    survivor, duplicate = pair
    deals = SendingListFactory()
    for key in ("plan", "city", "score"):
        CustomField.objects.create(sending_list=deals, key=key, label=key.title(), field_type="text")
    subscribe(deals, survivor, plan="pro")
    subscribe(deals, duplicate, plan="free", city="Lisbon")

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert merged_membership(deals, survivor).custom_fields == {"plan": "pro", "city": "Lisbon"}
    survivor.refresh_from_db()
    assert (survivor.first_name, survivor.last_name, survivor.email) == ("Ana", "Smith", "ana@example.com")


def test_merge_keeps_five_tags_and_says_which_were_dropped(pair, operator):
    survivor, duplicate = pair
    contact_set_tags(contact=survivor, names=["vip", "lisbon", "beta"])
    contact_set_tags(contact=duplicate, names=["VIP", "zeta", "alpha", "gamma"])

    result = contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert sorted(tag.name for tag in survivor.tags.all()) == ["alpha", "beta", "gamma", "lisbon", "vip"]
    assert result.dropped_tags == ["zeta"]


def test_merge_moves_memberships_history_messages_clicks_conversions_and_channels(pair, operator):
    survivor, duplicate = pair
    deals, news = SendingListFactory(), SendingListFactory()
    subscribe(deals, survivor)
    on_deals = subscribe(deals, duplicate)
    on_news = subscribe(news, duplicate)
    message = MessageFactory(contact=duplicate, sending_list=deals, list_contact=on_deals)
    click = ClickFactory(list_contact=on_deals)
    conversion = ConversionFactory(list_contact=on_news)
    ContactChannelFactory(contact=duplicate, kind="email", value="anna@work.example")
    history = list(SubscriptionEvent.objects.filter(contact=duplicate).values_list("pk", "phone_number"))

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert not Contact.objects.filter(pk=duplicate.pk).exists()
    kept_deals = merged_membership(deals, survivor)
    message.refresh_from_db(), click.refresh_from_db(), conversion.refresh_from_db()
    assert (message.contact_id, message.list_contact_id, message.to_number) == (
        survivor.pk,
        kept_deals.pk,
        "+16285550102",
    )
    assert (click.contact_id, click.list_contact_id) == (survivor.pk, kept_deals.pk)
    assert (conversion.contact_id, conversion.list_contact_id) == (survivor.pk, on_news.pk)
    assert ListContact.objects.get(pk=on_news.pk).contact_id == survivor.pk
    for pk, phone in history:  # re-pointed, the number of the evidence unchanged
        event = SubscriptionEvent.objects.get(pk=pk)
        assert (event.contact_id, event.phone_number) == (survivor.pk, phone)
    assert set(ContactChannel.objects.filter(contact=survivor).values_list("kind", "value")) == {
        ("email", "anna@work.example"),
        ("phone", "+16285550102"),
    }
    assert Message.objects.count() == 1 and Click.objects.count() == 1 and Conversion.objects.count() == 1


def test_merge_records_one_merged_event_per_list_naming_the_actor_and_both_contacts(pair, operator):
    survivor, duplicate = pair
    deals, news = SendingListFactory(), SendingListFactory()
    subscribe(deals, survivor)
    subscribe(deals, duplicate)
    subscribe(news, duplicate)
    duplicate_id = duplicate.pk

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    events = SubscriptionEvent.objects.filter(kind=EventKind.MERGED).order_by("sending_list_id")
    assert [event.sending_list_id for event in events] == [deals.pk, news.pk]
    for event in events:
        assert (event.contact_id, event.actor_label, event.user.username) == (survivor.pk, "merger", "merger")
        assert f"#{duplicate_id} (+16285550102) into #{survivor.pk} (+16285550101)" in event.note
        assert event.phone_number == "+16285550101"


def test_merge_counts_stay_right_across_lists(pair, operator):
    survivor, duplicate = pair
    deals, news = SendingListFactory(), SendingListFactory()
    subscribe(deals, survivor)
    subscribe(deals, duplicate)
    opt_out(subscribe(news, duplicate))

    contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    counts = list_status_counts(sending_list_ids=[deals.pk, news.pk])
    actual = {
        list_id: ListContact.objects.filter(sending_list_id=list_id, active=True).count()
        for list_id in (deals.pk, news.pk)
    }
    assert (counts[deals.pk]["active"], counts[news.pk]["active"], counts[news.pk]["message"]) == (1, 0, 1)
    assert actual == {deals.pk: 1, news.pk: 0}


def test_merge_retried_answers_the_first_result_and_writes_nothing(pair, operator):
    survivor, duplicate = pair
    contact_set_tags(contact=survivor, names=["a", "b", "c", "d", "e"])
    contact_set_tags(contact=duplicate, names=["f"])
    subscribe(SendingListFactory(), duplicate)
    first = contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)
    events = SubscriptionEvent.objects.count()

    again = contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert again.already_merged is True and first.already_merged is False
    assert (again.survivor.pk, again.duplicate_id, again.dropped_tags) == (survivor.pk, duplicate.pk, ["f"])
    assert SubscriptionEvent.objects.count() == events
    assert ContactMerge.objects.count() == 1


def test_merge_of_a_duplicate_merged_elsewhere_is_not_found(pair, operator):
    survivor, duplicate = pair
    other = ContactFactory()
    contacts_merge(survivor=other, duplicate_id=duplicate.pk, actor=operator)

    with pytest.raises(Contact.DoesNotExist):
        contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)


def test_merge_failing_midway_rolls_back(pair, operator, monkeypatch):
    survivor, duplicate = pair
    deals = SendingListFactory()
    subscribe(deals, survivor)
    opt_out(subscribe(deals, duplicate))
    counts = list_status_counts(sending_list_ids=[deals.pk])

    def fail(**kwargs):
        raise RuntimeError("the channel insert failed")

    monkeypatch.setattr("sendinglists.contacts.merge.contact_channel_add", fail)
    with pytest.raises(RuntimeError):
        contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=operator)

    assert Contact.objects.filter(pk=duplicate.pk).exists()
    assert ListContact.objects.filter(sending_list=deals).count() == 2
    assert merged_membership(deals, survivor).active is True
    assert list_status_counts(sending_list_ids=[deals.pk]) == counts


def test_merge_with_itself_is_refused(pair, operator):
    survivor, _ = pair
    with pytest.raises(ValidationError):
        contacts_merge(survivor=survivor, duplicate_id=survivor.pk, actor=operator)


def test_preview_shows_the_result_without_writing(pair):
    survivor, duplicate = pair
    deals = SendingListFactory(name="Deals")
    subscribe(deals, survivor)
    opt_out(subscribe(deals, duplicate), reason="complaint")
    contact_set_tags(contact=duplicate, names=["vip"])

    plan = merge_preview(survivor=survivor, duplicate=duplicate)

    assert [(m.sending_list.name, m.status) for m in plan.memberships] == [("Deals", "complaint")]
    assert plan.tags_kept == ["vip"] and plan.tags_dropped == []
    assert {f.name: f.result for f in plan.fields}["email"] == "ana@example.com"
    assert plan.problems == []
    assert Contact.objects.filter(pk=duplicate.pk).exists()
    assert ListContact.objects.filter(contact=survivor, active=True).count() == 1
