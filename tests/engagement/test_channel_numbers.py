"""A phone channel identifies its contact wherever a number does: inbound STOP / START / HELP,
delivery reports, sends; and a consent change of the contact holds for every number it has."""

import pytest
from rest_framework.test import APIClient

from contacts.models import Contact, ContactChannel, NumberSuppression
from contacts.services import contact_channel_remove
from engagement.choices import KeywordKind
from engagement.models import Message
from engagement.services import SendRefused, message_complaint_record, message_send
from sendinglists.actors import Actor
from sendinglists.contacts.numbers import contact_channel_add_checked
from sendinglists.contacts.services import contact_block, contact_delete, contact_unblock
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.subscribe import Outcome, list_contact_subscribe
from sendinglists.tokens.services import api_token_create
from tests.engagement.support import LIST_NUMBER, PHONE, receive
from tests.factories import ContactFactory, MessageFactory

SYSTEM = Actor.system("test")
SECOND = "+14155550777"  # the contact's second phone: a phone channel


@pytest.fixture
def contact(db):
    contact = ContactFactory(phone_number=PHONE)
    contact_channel_add_checked(contact=contact, kind="phone", value=SECOND)
    return contact


@pytest.fixture
def member(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


def state(membership) -> tuple[bool, str]:
    membership.refresh_from_db()
    return membership.active, membership.unsub_reason


def ledger() -> list[tuple]:
    rows = NumberSuppression.objects.values_list("phone_number", "sending_list_id", "kind")
    return sorted(rows, key=lambda row: (row[0], row[1] or 0, row[2]))


def test_stop_from_a_channel_number_opts_its_contact_out_and_creates_no_contact(sending_list, member):
    message = receive("STOP", phone="(415) 555-0777").message

    assert state(member) == (False, "message")
    assert Contact.objects.count() == 1
    assert (message.contact_id, message.list_contact_id, message.from_number) == (
        member.contact_id,
        member.pk,
        SECOND,
    )
    # The contact's consent is every number's it holds: its phone and its channel.
    assert ledger() == [(PHONE, sending_list.pk, "opt_out"), (SECOND, sending_list.pk, "opt_out")]
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.contact_id, event.actor_id) == (member.contact_id, str(message.pk))


def test_a_start_from_a_channel_does_not_lift_the_stop_its_contacts_phone_sent(sending_list, member):
    """Consent belongs to the number: the contact's phone said STOP, and the contact is messaged at
    that phone. A START from its second phone (a channel) does not bring it back; the phone's own
    START does, and lifts what the STOP carried onto the channel too."""
    receive("STOP", phone=PHONE)
    assert ledger() == [(PHONE, sending_list.pk, "opt_out"), (SECOND, sending_list.pk, "opt_out")]

    receive("START", phone=SECOND)

    # The channel's START lifts its own share (what the phone's STOP carried onto it), no more.
    assert state(member) == (False, "message")
    assert ledger() == [(PHONE, sending_list.pk, "opt_out")]
    assert SubscriptionEvent.objects.filter(kind="number_opted_in", phone_number=SECOND).count() == 1
    with pytest.raises(SendRefused):
        message_send(sending_list=sending_list, contact=member.contact, body="Back?")

    receive("START", phone=PHONE)

    assert state(member) == (True, "")
    assert ledger() == []
    assert Contact.objects.count() == 1


def test_a_start_from_the_phone_does_not_lift_the_stop_its_channel_sent(sending_list, member):
    receive("STOP", phone=SECOND)
    rows = NumberSuppression.objects.values_list("phone_number", "carried")
    assert sorted(rows) == [(PHONE, True), (SECOND, False)]  # the channel's own, carried to the phone

    receive("START", phone=PHONE)
    assert state(member) == (False, "message")

    receive("START", phone=SECOND)
    assert state(member) == (True, "")
    assert ledger() == []


def test_a_channels_own_stop_after_its_contacts_stop_is_its_own(sending_list, member):
    """The phone's STOP carried an opt-out onto the channel; the channel's own STOP afterwards (the
    contact already unsubscribed) makes that row the channel's: the phone's START lifts its own
    opt-out only, and the contact comes back with the channel's START."""
    receive("STOP", phone=PHONE)
    receive("STOP", phone=SECOND)
    assert sorted(NumberSuppression.objects.values_list("phone_number", "carried")) == [
        (PHONE, False),
        (SECOND, False),
    ]

    receive("START", phone=PHONE)
    assert state(member) == (False, "message")
    assert ledger() == [(SECOND, sending_list.pk, "opt_out")]  # the phone's own is lifted

    receive("START", phone=SECOND)
    assert state(member) == (True, "")
    assert ledger() == []


def test_an_operators_opt_out_is_the_phones_own(sending_list, member):
    """An opt-out made for the contact (API, admin, page, import) is its phone's own: the channel's
    START does not lift it."""
    from sendinglists.subscriptions.opt_out import list_contact_opt_out

    list_contact_opt_out(membership=member, reason="manual", actor=SYSTEM)
    assert sorted(NumberSuppression.objects.values_list("phone_number", "carried")) == [
        (PHONE, False),
        (SECOND, True),
    ]

    receive("START", phone=SECOND)
    assert state(member)[0] is False

    receive("START", phone=PHONE)
    assert state(member) == (True, "")


def test_stopall_from_a_channel_number_stops_the_contact_everywhere(
    sending_list, other_list, contact, member
):
    other = list_contact_subscribe(
        sending_list=other_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership

    receive("STOPALL", phone=SECOND)

    assert (state(member), state(other)) == ((False, "message"), (False, "message"))
    assert ledger() == [
        (PHONE, None, "opt_out"),
        (PHONE, sending_list.pk, "opt_out"),
        (PHONE, other_list.pk, "opt_out"),
        (SECOND, None, "opt_out"),
        (SECOND, sending_list.pk, "opt_out"),
        (SECOND, other_list.pk, "opt_out"),
    ]


def test_help_from_a_channel_number_is_answered_at_that_number(
    sending_list, member, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive("HELP", phone=SECOND).message

    assert (message.keyword, message.contact_id) == (KeywordKind.HELP, member.contact_id)
    assert state(member) == (True, "")
    assert [(sms.from_number, sms.to_number, sms.body) for sms in sms_outbox] == [
        (LIST_NUMBER, SECOND, "Acme Deals: 4 msgs/month. Reply STOP to opt out.")
    ]
    assert Message.objects.get(direction="outbound").to_number == SECOND
    assert Contact.objects.count() == 1


def test_a_complaint_about_a_message_to_a_number_that_is_now_a_channel_opts_out_its_contact(
    sending_list, member
):
    # Sent to SECOND when another contact had it; that contact is gone and SECOND is member's channel.
    message = MessageFactory(
        sending_list=sending_list,
        contact=None,
        list_contact=None,
        direction="outbound",
        to_number=SECOND,
        provider_message_id="SM-channel-1",
        status="sent",
    )

    update = message_complaint_record(provider_message_id=message.provider_message_id)

    assert (update.applied, update.membership_reason) == (True, "complaint")
    assert state(member) == (False, "complaint")
    assert ledger() == [(PHONE, sending_list.pk, "opt_out"), (SECOND, sending_list.pk, "opt_out")]
    assert Contact.objects.count() == 1


@pytest.mark.parametrize("recreated_as", [PHONE, SECOND])
def test_a_stop_from_a_channel_outlives_the_contact_recreated_by_the_api_under_either_number(
    sending_list, member, recreated_as
):
    _, key = api_token_create(name="integrator", read_only=False, sending_lists=())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    receive("STOP", phone=SECOND)
    contact_delete(contact=member.contact)
    assert ContactChannel.objects.count() == 0

    created = client.post("/api/v1/contacts/", {"phone_number": recreated_as}, format="json")
    assert created.status_code == 201
    contact = Contact.objects.get(phone_number=recreated_as)
    subscribed = client.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/", {"phone_number": recreated_as}, format="json"
    )

    assert subscribed.status_code == 200, subscribed.json()
    assert subscribed.json()["outcome"] == Outcome.SKIPPED_OPTED_OUT
    assert not ListContact.objects.filter(contact=contact, active=True).exists()
    with pytest.raises(SendRefused):
        message_send(sending_list=sending_list, contact=contact, body="Deal")


def test_a_channel_opted_out_before_it_was_added_keeps_its_contact_from_subscribing(sending_list, db):
    receive("STOP", phone="+14155550888")  # a number of nobody's yet: opts out of the list
    Contact.objects.filter(phone_number="+14155550888").delete()
    contact = ContactFactory(phone_number="+14155550889")
    contact_channel_add_checked(contact=contact, kind="phone", value="+14155550888")  # not a member: allowed

    result = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    )

    assert result.outcome == Outcome.SKIPPED_OPTED_OUT
    assert not ListContact.objects.filter(contact=contact, active=True).exists()


def test_a_blocked_contacts_channel_is_blocked_too_and_its_start_subscribes_nothing(
    sending_list, contact, member, sms_outbox
):
    contact_block(contact=contact, actor=SYSTEM)
    assert ledger() == [(PHONE, None, "block"), (SECOND, None, "block")]
    contact_channel_add_checked(contact=contact, kind="phone", value="+14155550779")
    assert ledger() == [(PHONE, None, "block"), (SECOND, None, "block"), ("+14155550779", None, "block")]

    receive("START", phone=SECOND)
    with pytest.raises(SendRefused):
        message_send(sending_list=sending_list, contact=contact, body="Deal")

    assert Contact.objects.count() == 1
    assert sms_outbox == []
    # Deleted and re-created under its channel number: blocked from the start.
    contact_delete(contact=contact)
    recreated = receive("hello", phone=SECOND).message.contact
    assert recreated.blocked is True

    contact_unblock(contact=recreated, actor=SYSTEM)
    assert ledger() == [(PHONE, None, "block"), ("+14155550779", None, "block")]


def test_removing_a_channel_after_its_stop_carries_no_opt_out_away(sending_list, contact, member):
    receive("STOP", phone=SECOND)
    channel = ContactChannel.objects.get(value=SECOND)

    contact_channel_remove(contact=contact, channel_id=channel.pk)

    assert ledger() == [(PHONE, sending_list.pk, "opt_out"), (SECOND, sending_list.pk, "opt_out")]
    # The number, now nobody's, comes back opted out; the contact stays opted out under its phone.
    newcomer = ContactFactory(phone_number=SECOND)
    result = list_contact_subscribe(
        sending_list=sending_list, contact=newcomer, signup_method="api", actor=SYSTEM
    )
    assert result.outcome == Outcome.SKIPPED_OPTED_OUT
    assert state(member) == (False, "message")
    result = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    )
    assert result.outcome == Outcome.SKIPPED_OPTED_OUT


def test_a_start_never_lifts_an_opt_out_another_number_sent_before_it_was_a_channel(sending_list, db):
    """Consent belongs to the number: X sent STOP when nobody held it; attached later as a phone
    channel of a contact that is not on the list, it is lifted by no START but its own. The
    contact's own phone sends START: nothing subscribes, X's opt-out stands; detached and offered to
    the list again, X stays off. Found by an outside attack on issue 17."""
    stopped, own = "+14155550888", "+14155550889"
    receive("STOP", phone=stopped)
    Contact.objects.filter(phone_number=stopped).delete()
    holder = ContactFactory(phone_number=own)
    channel = contact_channel_add_checked(contact=holder, kind="phone", value=stopped)

    receive("START", phone=own)

    assert not ListContact.objects.filter(sending_list=sending_list, active=True).exists()
    assert NumberSuppression.objects.filter(phone_number=stopped, sending_list_id=sending_list.pk).exists()
    contact_channel_remove(contact=holder, channel_id=channel.pk)
    result = list_contact_subscribe(
        sending_list=sending_list,
        contact=ContactFactory(phone_number=stopped),
        signup_method="api",
        actor=Actor.system("test"),
    )
    assert result.outcome == Outcome.SKIPPED_OPTED_OUT

    receive("START", phone=stopped)  # its own START is its way back
    assert ListContact.objects.get(sending_list=sending_list, contact__phone_number=stopped).active


def test_after_a_channels_stopall_the_phones_start_lifts_its_share_and_the_channels_start_the_rest(
    sending_list, other_list, contact, member
):
    other = list_contact_subscribe(
        sending_list=other_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership
    receive("STOPALL", phone=SECOND)

    receive("START", phone=PHONE)  # the phone's share of the STOPALL on this list goes; the channel's stands

    assert state(member) == (False, "message")
    assert (PHONE, sending_list.pk, "resumed") in ledger()
    assert (PHONE, sending_list.pk, "opt_out") not in ledger()
    assert (SECOND, None, "opt_out") in ledger() and (SECOND, sending_list.pk, "opt_out") in ledger()

    receive("START", phone=SECOND)

    assert state(member) == (True, "")
    assert state(other) == (False, "message")  # a START is for its list only
    assert [row for row in ledger() if row[1] == sending_list.pk] == [
        (PHONE, sending_list.pk, "resumed"),
        (SECOND, sending_list.pk, "resumed"),
    ]


def _import_opt_outs(tmp_path, sending_list, *numbers):
    import io

    from django.core.management import call_command

    path = tmp_path / "opt-outs.csv"
    path.write_text("phone\n" + "".join(f"{number}\n" for number in numbers))
    call_command(
        "import_contacts", str(path), "--list", sending_list.phone_number, "--opt-outs", stdout=io.StringIO()
    )


def own_rows(sending_list) -> list[tuple[str, bool]]:
    rows = NumberSuppression.objects.filter(sending_list_id=sending_list.pk, kind="opt_out")
    return sorted(rows.values_list("phone_number", "carried"))


@pytest.mark.django_db(transaction=True)  # the command's chunks run after its commit
def test_an_opt_out_file_naming_a_channel_is_that_numbers_own(sending_list, member, tmp_path):
    _import_opt_outs(tmp_path, sending_list, SECOND)

    assert state(member)[0] is False
    assert own_rows(sending_list) == [(PHONE, True), (SECOND, False)]
    receive("START", phone=PHONE)
    assert state(member)[0] is False  # the channel's opt-out is not the phone's to lift
    receive("START", phone=SECOND)
    assert state(member) == (True, "")


@pytest.mark.django_db(transaction=True)  # the command's chunks run after its commit
def test_an_opt_out_file_naming_a_channel_of_an_unsubscribed_contact_records_it_as_its_own(
    sending_list, member, tmp_path
):
    receive("STOP", phone=PHONE)
    assert own_rows(sending_list) == [(PHONE, False), (SECOND, True)]

    _import_opt_outs(tmp_path, sending_list, SECOND)

    assert own_rows(sending_list) == [(PHONE, False), (SECOND, False)]
    receive("START", phone=PHONE)
    assert state(member)[0] is False
    assert own_rows(sending_list) == [(SECOND, False)]


@pytest.mark.django_db(transaction=True)  # the command's chunks run after its commit
def test_an_opt_out_file_naming_both_numbers_of_a_contact_makes_each_its_own(sending_list, member, tmp_path):
    _import_opt_outs(tmp_path, sending_list, PHONE, SECOND)

    assert own_rows(sending_list) == [(PHONE, False), (SECOND, False)]
    receive("START", phone=SECOND)
    assert state(member)[0] is False
    receive("START", phone=PHONE)
    assert state(member) == (True, "")
