"""seed_demo loads what it promises, with counts and counters equal to the rows they describe."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Q, Sum

from contacts.models import Contact, NumberSuppression
from engagement.models import Click, Conversion, Message
from sendinglists.audiences.optout import OPT_OUT_RATE_LIMIT, opt_out_rates
from sendinglists.audiences.services import audience_count
from sendinglists.choices import EventKind, MembershipStatus, UnsubReason
from sendinglists.lists.customfields import custom_fields_clean
from sendinglists.lists.services import list_status_counts
from sendinglists.models import Audience, ListContact, SendingList, SubscriptionEvent

pytestmark = pytest.mark.django_db

CONTACTS = 5_000


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_loads_what_it_promises_with_counts_equal_to_the_rows(subtests):
    """One default load (5,000 contacts: ~15 s), checked from every side."""
    output = _seed()

    assert output.startswith("Demo loaded in ")
    for check in [
        check_lists_contacts_and_every_status,
        check_tags_within_the_limit,
        check_list_counts_equal_the_memberships,
        check_counters_equal_the_engagement_rows,
        check_history_explains_every_status,
        check_custom_field_values_are_valid_for_their_list,
        check_opt_outs_answer_campaigns_and_one_list_is_above_the_line,
        check_no_message_is_sent_to_a_contact_after_its_block,
        check_every_list_has_saved_audiences_with_members,
    ]:
        with subtests.test(check.__name__):
            check()


def check_lists_contacts_and_every_status():
    lists = list(SendingList.objects.all())
    assert len(lists) == 4
    assert all("STOP" in sl.help_text for sl in lists)
    assert all(sl.custom_fields.count() >= 2 for sl in lists)
    assert Contact.objects.count() == CONTACTS
    assert Contact.objects.filter(first_name="").count() == 0
    assert Contact.objects.exclude(email="").count() > CONTACTS * 0.8
    assert Contact.objects.exclude(timezone="").count() == CONTACTS
    assert Contact.objects.filter(blocked=True).exists()
    assert Contact.objects.filter(is_valid=False).exists()
    assert ListContact.objects.count() >= CONTACTS
    statuses = {
        status
        for active, reason in ListContact.objects.values_list("active", "unsub_reason").distinct()
        for status in [MembershipStatus.ACTIVE if active else MembershipStatus(reason)]
    }
    assert statuses == set(MembershipStatus.values) - {MembershipStatus.BLOCKED}  # a contact's, not stored
    assert set(ListContact.objects.exclude(unsub_reason="").values_list("unsub_reason", flat=True)) == set(
        UnsubReason.values
    )


def check_tags_within_the_limit():
    per_contact = Contact.objects.annotate(n=Count("tags")).aggregate(
        most=Max("n"), tagged=Count("pk", filter=Q(n__gt=0))
    )
    assert per_contact["most"] == 5
    assert per_contact["tagged"] > CONTACTS / 2


def check_list_counts_equal_the_memberships():
    lists = list(SendingList.objects.values_list("pk", flat=True))
    counted = list_status_counts(sending_list_ids=lists)
    for list_id in lists:
        real = dict.fromkeys(MembershipStatus.values, 0)
        for membership in ListContact.objects.filter(sending_list_id=list_id).only("active", "unsub_reason"):
            real[membership.status] += 1
        assert counted[list_id] == real


def check_counters_equal_the_engagement_rows():
    memberships = ListContact.objects.annotate(
        sends=Count("messages", filter=Q(messages__direction="outbound")),
        last_send=Max("messages__sent_at", filter=Q(messages__direction="outbound")),
    )
    mismatched = [m.pk for m in memberships if (m.send_count, m.last_sent_at) != (m.sends, m.last_send)]
    assert mismatched == []
    clicks = {
        row["list_contact"]: row
        for row in Click.objects.values("list_contact").annotate(n=Count("pk"), last=Max("clicked_at"))
    }
    conversions = {
        row["list_contact"]: row
        for row in Conversion.objects.values("list_contact").annotate(
            n=Count("pk"), revenue=Sum("revenue"), last=Max("converted_at")
        )
    }
    for m in ListContact.objects.all():
        click, conversion = clicks.get(m.pk, {}), conversions.get(m.pk, {})
        assert (m.click_count, m.last_clicked_at) == (click.get("n", 0), click.get("last")), m.pk
        assert (m.conversion_count, m.revenue_total, m.last_revenue_at) == (
            conversion.get("n", 0),
            conversion.get("revenue", 0),
            conversion.get("last"),
        ), m.pk
    assert Message.objects.filter(direction="inbound", keyword="opt_out").exists()
    assert Message.objects.filter(direction="inbound", keyword="opt_in").exists()
    assert Message.objects.filter(direction="inbound", keyword="help").exists()
    assert Message.objects.filter(direction="outbound", status="undelivered").exists()
    assert Click.objects.count() > 100
    assert Conversion.objects.aggregate(total=Sum("revenue"))["total"] > 1000


def check_history_explains_every_status():
    for membership in ListContact.objects.prefetch_related("events"):
        kinds = [
            (e.kind, e.reason) for e in sorted(membership.events.all(), key=lambda e: (e.occurred_at, e.pk))
        ]
        assert kinds[0][0] == EventKind.SUBSCRIBED, membership.pk
        if membership.active:
            assert kinds[-1][0] in {EventKind.SUBSCRIBED, EventKind.RESUBSCRIBED}, membership.pk
        else:
            assert kinds[-1] == (EventKind.OPTED_OUT, membership.unsub_reason), membership.pk
    blocked = Contact.objects.filter(blocked=True).count()
    assert SubscriptionEvent.objects.filter(kind=EventKind.BLOCKED).count() == blocked
    assert SubscriptionEvent.objects.filter(kind=EventKind.RESUBSCRIBED).exists()
    stop_events = SubscriptionEvent.objects.filter(kind=EventKind.OPTED_OUT, reason="message")
    assert all(e.actor_kind == "message" and e.actor_id for e in stop_events)


def check_custom_field_values_are_valid_for_their_list():
    for sending_list in SendingList.objects.prefetch_related("custom_fields"):
        fields = list(sending_list.custom_fields.all())
        for values in ListContact.objects.filter(sending_list=sending_list).values_list(
            "custom_fields", flat=True
        ):
            assert custom_fields_clean(fields=fields, values=values) == values


def check_opt_outs_answer_campaigns_and_one_list_is_above_the_line():
    lists = dict(SendingList.objects.values_list("pk", "name"))
    rates = opt_out_rates(sending_list_ids=list(lists))
    assert all(rate is not None for rate in rates.values()), rates  # every list sent in the last 30 days
    above = {lists[pk] for pk, rate in rates.items() if rate > OPT_OUT_RATE_LIMIT}
    assert above == {"Bella's Pizza"}, rates
    # Each STOP or complaint answers the last campaign the member received, within hours.
    stopped = ListContact.objects.filter(unsub_reason__in=[UnsubReason.MESSAGE, UnsubReason.COMPLAINT])
    for membership in stopped.prefetch_related("messages"):
        sent = [m.sent_at for m in membership.messages.all() if m.direction == "outbound"]
        if sent:
            assert max(sent) < membership.opted_out_at < max(sent) + dt.timedelta(hours=4), membership.pk


def check_no_message_is_sent_to_a_contact_after_its_block():
    blocks = dict(
        SubscriptionEvent.objects.filter(kind=EventKind.BLOCKED).values_list("contact_id", "occurred_at")
    )
    assert set(blocks) == set(Contact.objects.filter(blocked=True).values_list("pk", flat=True))
    sent_after_block = [
        (contact_id, sent_at)
        for contact_id, sent_at in Message.objects.filter(
            direction="outbound", contact_id__in=list(blocks)
        ).values_list("contact_id", "sent_at")
        if sent_at >= blocks[contact_id]
    ]
    assert sent_after_block == []
    # Blocked after every subscription: the services never subscribe a blocked contact.
    for contact_id, subscribed_at in ListContact.objects.filter(contact_id__in=list(blocks)).values_list(
        "contact_id", "subscribed_at"
    ):
        assert subscribed_at < blocks[contact_id], contact_id


def check_every_list_has_saved_audiences_with_members():
    for sending_list in SendingList.objects.all():
        audiences = list(Audience.objects.filter(sending_list=sending_list))
        assert audiences, sending_list.name
        for audience in audiences:
            assert 0 < audience_count(audience=audience) < sending_list.memberships.count(), audience.query


@pytest.fixture
def small_demo():
    return _seed("--contacts", "30")


def test_seed_demo_if_empty_does_nothing_when_lists_exist(small_demo):
    before = (Contact.objects.count(), ListContact.objects.count(), Message.objects.count())

    output = _seed("--if-empty")

    assert output == "Sending lists already exist; the demo is not loaded again.\n"
    assert (Contact.objects.count(), ListContact.objects.count(), Message.objects.count()) == before


def test_seed_demo_refuses_to_load_twice(small_demo):
    with pytest.raises(CommandError, match="already loaded"):
        _seed("--contacts", "20")

    assert Contact.objects.count() == 30


def test_seed_demo_if_empty_loads_into_an_empty_database():
    output = _seed("--if-empty", "--contacts", "12")

    assert output.startswith("Demo loaded in ")
    assert Contact.objects.count() == 12
    assert set(ListContact.objects.exclude(unsub_reason="").values_list("unsub_reason", flat=True)) == set(
        UnsubReason.values
    )


def test_seed_demo_is_deterministic():
    _seed("--contacts", "40", "--seed", "7")
    first = list(Contact.objects.order_by("phone_number").values_list("phone_number", "first_name", "email"))
    statuses = sorted(
        ListContact.objects.values_list("contact__phone_number", "sending_list__name", "unsub_reason")
    )
    # Messages and the consent ledger outlive their contacts (consent evidence): cleared by hand.
    Message.objects.all().delete()
    Contact.objects.all().delete()
    SubscriptionEvent.objects.all().delete()
    NumberSuppression.objects.all().delete()
    SendingList.objects.all().delete()

    _seed("--contacts", "40", "--seed", "7")

    assert (
        list(Contact.objects.order_by("phone_number").values_list("phone_number", "first_name", "email"))
        == first
    )
    assert (
        sorted(ListContact.objects.values_list("contact__phone_number", "sending_list__name", "unsub_reason"))
        == statuses
    )
