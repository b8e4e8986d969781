"""Outside attack on the carried-opt-out ledger (`NumberSuppression.carried`: an opt-out is its
number's own or carried onto its contact's other numbers), on the list-scoped token's phone-channel
refusal and on the other issue-17 fixes, through the real stack (inbound messages, delivery reports,
the API with real tokens, the send service). One test per problem found; a problem still open is a
strict xfail naming it, and passes the day the product is fixed."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact, ContactChannel
from engagement.services import SendRefused, message_complaint_record, message_send, message_status_update
from sendinglists.models import ListContact
from tests.attack.support import PHONE, SECOND, ledger, opted_out, subscribe
from tests.engagement.support import receive
from tests.factories import ContactFactory, SendingListFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outbox")]


def reply_to_channel(deals, holder):
    """SECOND writes to the list and the list answers it: the answer goes to SECOND."""
    wrote = receive("Any news?", phone=SECOND).message
    return message_send(sending_list=deals, contact=holder, body="News: 20% off", reply_to=wrote)


@pytest.mark.parametrize(("stopped", "started"), [(PHONE, SECOND), (SECOND, PHONE)])
def test_a_numbers_stop_is_lost_when_the_other_numbers_later_start_arrives_first(
    deals, holder, outbox, stopped, started
):
    """In arrival order (STOP from one number, then START from the other) the START is refused:
    the STOP is that number's own (tests/engagement/test_channel_numbers.py, and the control below).
    The same two messages arriving the other way round: the STOP is dropped as "undone by the
    person's later START", though that START came from another number."""
    member = subscribe(deals, holder)
    t0 = timezone.now() - dt.timedelta(minutes=10)
    receive("START", phone=started, at=t0 + dt.timedelta(minutes=2))  # arrives first
    receive("STOP", phone=stopped, at=t0 + dt.timedelta(minutes=1))  # sent first, arrives second

    member.refresh_from_db()
    assert opted_out(stopped, deals), ledger()
    assert member.active is False
    with pytest.raises(SendRefused):
        if stopped == PHONE:
            message_send(sending_list=deals, contact=holder, body="Deal")  # goes to PHONE
        else:
            reply_to_channel(deals, holder)  # goes to SECOND
    assert stopped not in [sms.to_number for sms in outbox]


def test_in_arrival_order_the_phones_start_does_not_lift_the_channels_stop(deals, holder, outbox):
    """The control of the test above: the same two messages, arriving in the order sent."""
    member = subscribe(deals, holder)
    t0 = timezone.now() - dt.timedelta(minutes=10)
    receive("STOP", phone=SECOND, at=t0 + dt.timedelta(minutes=1))
    receive("START", phone=PHONE, at=t0 + dt.timedelta(minutes=2))

    member.refresh_from_db()
    assert member.active is False
    assert ledger() == [(SECOND, deals.pk, "opt_out", False)]
    with pytest.raises(SendRefused):
        reply_to_channel(deals, holder)


def test_a_late_stopall_from_the_phone_lifts_the_channels_own_stop(deals, holder, outbox, make_client):
    member = subscribe(deals, holder)
    t0 = timezone.now() - dt.timedelta(minutes=10)
    receive("STOP", phone=SECOND, at=t0)  # the channel's own STOP; it never sends START
    receive("START", phone=PHONE, at=t0 + dt.timedelta(minutes=2))  # refused: SECOND's STOP stands
    member.refresh_from_db()
    assert member.active is False
    receive("STOPALL", phone=PHONE, at=t0 + dt.timedelta(minutes=1))  # sent before the START, arrives after

    assert opted_out(SECOND, deals), ledger()
    # A full-access integrator detaches SECOND, creates it as a contact and offers it to the list.
    api = make_client()
    channel = ContactChannel.objects.get(contact=holder, value=SECOND)
    assert api.delete(f"/api/v2/contact/{holder.uuid}/channels/{channel.pk}").status_code == 204
    assert api.post("/api/v1/contact", {"phone_number": SECOND}, format="json").status_code == 201
    api.post(f"/api/v1/lists/{deals.pk}/contacts/", {"phone_number": SECOND}, format="json")
    with pytest.raises(SendRefused):
        message_send(sending_list=deals, contact=Contact.objects.get(phone_number=SECOND), body="Deal")
    assert SECOND not in [sms.to_number for sms in outbox]


@pytest.mark.parametrize("report", ["carrier_21610", "complaint"])
def test_an_opt_out_reported_for_a_channel_is_lifted_by_the_phones_start(deals, holder, outbox, report):
    """The list answered SECOND (a reply goes to the number that wrote); the carrier says SECOND
    opted out (21610), or SECOND reports the message as spam. The ledger keeps the opt-out as
    PHONE's own and SECOND's carried: PHONE's START (PHONE never opted out) resubscribes the
    contact and lifts SECOND's share; SECOND is answered again."""
    member = subscribe(deals, holder)
    sent = reply_to_channel(deals, holder)
    assert sent.to_number == SECOND
    if report == "complaint":
        message_complaint_record(provider_message_id=sent.provider_message_id)
    else:
        message_status_update(
            provider_message_id=sent.provider_message_id, status="undelivered", error_code="21610"
        )
    member.refresh_from_db()
    assert member.active is False

    receive("START", phone=PHONE)

    outbox.clear()
    assert opted_out(SECOND, deals), ledger()
    member.refresh_from_db()
    assert member.active is False
    with pytest.raises(SendRefused):
        reply_to_channel(deals, holder)
    assert outbox == []


@pytest.fixture
def lists(db):
    return SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")


def test_scoped_token_attaches_a_phone_channel_by_merging_a_contact_it_created(lists, make_client, outbox):
    """Issue 17's capture (tests/attack/test_issue17_attack.py::
    test_scoped_token_cannot_claim_a_number_as_a_channel_to_capture_another_lists_subscriptions),
    through the merge instead of the channel endpoints: Theirs subscribes X, and Theirs' message
    goes to the phone of Mine's contact, which never joined Theirs."""
    mine, theirs = lists
    member = ContactFactory(phone_number="+16285550301")
    subscribe(mine, member)
    scoped = make_client(sending_lists=[mine])
    claimed = "+16285550777"
    created = scoped.post(f"/api/v1/lists/{mine.pk}/contacts/", {"phone_number": claimed}, format="json")
    assert created.status_code == 201, created.json()
    duplicate = Contact.objects.get(phone_number=claimed)

    merged = scoped.post(f"/api/v1/contact/{member.pk}/merge", {"duplicate": duplicate.pk}, format="json")

    assert merged.status_code == 403, merged.json()
    assert not ContactChannel.objects.filter(contact=member, value=claimed).exists()
    their_token = make_client(sending_lists=[theirs])
    response = their_token.post(
        f"/api/v1/lists/{theirs.pk}/contacts/", {"phone_number": claimed}, format="json"
    )
    assert response.status_code in (200, 201), response.json()
    membership = ListContact.objects.get(sending_list=theirs, active=True)
    message_send(sending_list=theirs, contact=membership.contact, body="Welcome to Theirs")
    assert [sms.to_number for sms in outbox] == [claimed]


@pytest.mark.parametrize(
    ("held_by", "path"), [("shared", "membership"), ("shared", "bulk"), ("other_list", "membership")]
)
def test_scoped_token_subscribing_a_channel_number_names_the_contact_holding_it(
    lists, make_client, held_by, path
):
    mine, theirs = lists
    holding = ContactFactory(phone_number="+16285550304")
    if held_by == "shared":
        subscribe(mine, holding)
    subscribe(theirs, holding)
    full, scoped = make_client(), make_client(sending_lists=[mine])
    hidden = "+16285550888"
    added = full.post(
        f"/api/v2/contact/{holding.uuid}/channels", {"kind": "phone", "value": hidden}, format="json"
    )
    assert added.status_code == 201
    if held_by == "shared":
        assert scoped.get(f"/api/v2/contact/{holding.uuid}").json()["channels"] == []  # withheld
    assert scoped.get("/api/v2/contacts", {"phone": hidden}).json()["results"] == []  # issue 17's fix

    if path == "membership":
        response = scoped.post(f"/api/v1/lists/{mine.pk}/contacts/", {"phone_number": hidden}, format="json")
    else:
        response = scoped.post(
            "/api/v1/contacts/bulk",
            {"sending_list": mine.pk, "contacts": [{"phone_number": hidden}]},
            format="json",
        )

    text = response.content.decode()
    assert str(holding.uuid) not in text and "6285550304" not in text, response.json()
    assert "+16285550888 is already held by another contact." in text, response.json()
    assert ListContact.objects.filter(sending_list=mine, contact=holding).exists() == (held_by == "shared")


@pytest.mark.parametrize("channel", [{"value": "+16285550999"}, {"kind": "phone"}, {"kind": "email"}])
def test_patch_with_a_channel_missing_a_key_is_a_400(make_client, channel):
    contact = ContactFactory(phone_number="+16285550301")
    client = make_client()
    client.raise_request_exception = False

    response = client.patch(f"/api/v2/contact/{contact.uuid}", {"channels": [channel]}, format="json")

    assert response.status_code == 400
    missing = "value" if "kind" in channel else "kind"
    assert list(response.json()["field_errors"]) == [f"channels.0.{missing}"], response.json()


@pytest.mark.django_db(transaction=True)
def test_an_opt_out_file_naming_a_channel_is_lifted_by_the_phones_start(deals, holder, outbox, tmp_path):
    """`import_contacts --opt-outs` lists numbers that opted out. SECOND is listed: its contact is
    opted out, but the ledger keeps PHONE's own opt-out and SECOND's carried one, so PHONE's START
    (PHONE was never listed) resubscribes the contact and lifts SECOND's."""
    from django.core.management import call_command

    member = subscribe(deals, holder)
    path = tmp_path / "opted-out.csv"
    path.write_text(f"phone,reason\n{SECOND},message\n")
    call_command("import_contacts", str(path), "--list", deals.phone_number, "--opt-outs")
    member.refresh_from_db()
    assert member.active is False

    receive("START", phone=PHONE)

    assert opted_out(SECOND, deals), ledger()
    member.refresh_from_db()
    assert member.active is False
    with pytest.raises(SendRefused):
        reply_to_channel(deals, holder)
    assert outbox == []
