"""An import row whose number is a contact's phone channel is that contact's row: it updates the
contact and its membership, it never inserts another contact; the consent read is the contact's."""

from contacts.models import Contact, ContactChannel, ContactNumber
from sendinglists.actors import Actor
from sendinglists.contacts.numbers import contact_channel_add_checked
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import ContactFactory, CustomFieldFactory, SendingListFactory
from tests.sendinglists.imports.conftest import counts_of, run_import

SYSTEM = Actor.system("test")
PRIMARY = "+14155550101"
CHANNEL = "+14155550109"


def holder(**fields) -> Contact:
    contact = ContactFactory(phone_number=PRIMARY, **fields)
    contact_channel_add_checked(contact=contact, kind="phone", value=CHANNEL)
    return contact


def test_a_row_with_a_channel_number_subscribes_and_updates_the_contact_holding_it(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="plan", label="Plan")
    contact = holder(first_name="Ana", email="")

    job = run_import(
        sending_list,
        "phone,first_name,email,plan,tags\n"
        "(415) 555-0109,,ana@example.com,pro,VIP\n"  # the channel
        "+14155550102,Ben,,free,\n",  # a new number
    )

    assert counts_of(job) == {
        "rows_read": 2,
        "contacts_created": 1,
        "contacts_updated": 1,
        "memberships_created": 2,
    }
    assert Contact.objects.count() == 2
    contact.refresh_from_db()
    assert (contact.phone_number, contact.first_name, contact.email) == (PRIMARY, "Ana", "ana@example.com")
    assert list(contact.tags.values_list("name", flat=True)) == ["VIP"]
    membership = ListContact.objects.get(sending_list=sending_list, contact=contact)
    assert (membership.active, membership.custom_fields) == (True, {"plan": "pro"})
    assert sorted(ContactNumber.objects.values_list("phone_number", "is_primary")) == [
        (PRIMARY, True),
        ("+14155550102", True),
        (CHANNEL, False),
    ]


def test_a_contacts_phone_and_channel_in_one_file_make_one_membership(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="plan", label="Plan")
    CustomFieldFactory(sending_list=sending_list, key="state", label="State")
    contact = holder()

    job = run_import(sending_list, f"phone,plan,state\n{PRIMARY},pro,\n{CHANNEL},,CA\n")

    assert Contact.objects.count() == 1
    membership = ListContact.objects.get(sending_list=sending_list)
    assert (membership.contact_id, membership.active) == (contact.pk, True)
    assert membership.custom_fields == {"plan": "pro", "state": "CA"}
    assert SubscriptionEvent.objects.filter(list_contact=membership).count() == 1
    assert counts_of(job) == {"rows_read": 2, "memberships_created": 1, "memberships_updated": 1}


def test_a_row_with_the_channel_of_an_opted_out_contact_never_reactivates_it(sending_list):
    contact = holder()
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)
    ListContact.objects.filter(pk=membership.pk).delete()  # even without its opted-out membership

    job = run_import(sending_list, f"phone\n{CHANNEL}\n")

    assert counts_of(job) == {"rows_read": 1, "skipped_opted_out": 1}
    assert not ListContact.objects.filter(contact=contact, active=True).exists()
    assert Contact.objects.count() == 1


def test_a_contacts_phone_is_not_imported_onto_a_list_its_channel_opted_out_of(sending_list):
    other_list = SendingListFactory()
    contact = holder()
    # The channel number opted out of this list before it became the contact's channel.
    ContactChannel.objects.filter(value=CHANNEL).delete()
    loner = ContactFactory(phone_number=CHANNEL)
    list_contact_opt_out(
        membership=list_contact_subscribe(
            sending_list=sending_list, contact=loner, signup_method="api", actor=SYSTEM
        ).membership,
        reason="message",
        actor=SYSTEM,
    )
    loner.delete()
    list_contact_subscribe(sending_list=other_list, contact=contact, signup_method="api", actor=SYSTEM)
    contact_channel_add_checked(contact=contact, kind="phone", value=CHANNEL)

    job = run_import(sending_list, f"phone\n{PRIMARY}\n")

    assert counts_of(job)["skipped_opted_out"] == 1
    assert not ListContact.objects.filter(sending_list=sending_list, contact=contact, active=True).exists()


def test_an_opt_out_file_with_a_channel_number_opts_out_the_contact_holding_it(sending_list):
    contact = holder()
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership

    job = run_import(sending_list, f"phone\n{CHANNEL}\n", mode="opt_out")

    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "message")
    assert Contact.objects.count() == 1
    assert counts_of(job)["opted_out"] == 1
