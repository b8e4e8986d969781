"""ContactNumber: every number that identifies a contact, kept by the database's triggers
(contacts/migrations/0006_contact_numbers.py), and the services' named refusals in front of them."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from contacts.models import Contact, ContactChannel, ContactNumber
from contacts.selectors import contact_by_number, contact_numbers, contact_search
from contacts.services import contact_channel_add, contact_phone_set, contact_upsert, phone_or_error
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PRIMARY = "+14155550301"
CHANNEL = "+14155550302"
OTHER = "+14155550303"


@pytest.fixture
def holder():
    contact = ContactFactory(phone_number=PRIMARY)
    ContactChannel.objects.create(contact=contact, kind="phone", value=CHANNEL)
    return contact


def numbers() -> list[tuple]:
    return sorted(ContactNumber.objects.values_list("phone_number", "contact_id", "is_primary"))


def refused(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


def test_the_triggers_record_every_contacts_phone_and_phone_channels_and_follow_them(holder):
    ContactChannel.objects.create(contact=holder, kind="email", value="ana@example.com")
    other = ContactFactory(phone_number=OTHER)

    assert numbers() == [(PRIMARY, holder.pk, True), (CHANNEL, holder.pk, False), (OTHER, other.pk, True)]

    Contact.objects.filter(pk=other.pk).update(phone_number="+14155550304")
    ContactChannel.objects.filter(value=CHANNEL).update(value="+14155550305")
    assert numbers() == [
        (PRIMARY, holder.pk, True),
        ("+14155550304", other.pk, True),
        ("+14155550305", holder.pk, False),
    ]

    ContactChannel.objects.filter(value="+14155550305").update(kind="email", value="x@example.com")
    assert numbers() == [(PRIMARY, holder.pk, True), ("+14155550304", other.pk, True)]

    holder.delete()
    assert numbers() == [("+14155550304", other.pk, True)]
    other.delete()
    assert numbers() == []


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda c: Contact.objects.create(phone_number=CHANNEL), id="contact on a channel"),
        pytest.param(
            lambda c: Contact.objects.bulk_create([Contact(phone_number=CHANNEL)], ignore_conflicts=True),
            id="bulk contact ignoring conflicts",
        ),
        pytest.param(
            lambda c: Contact.objects.filter(pk=c.pk).update(phone_number=CHANNEL),
            id="phone changed to a channel",
        ),
        pytest.param(
            lambda c: ContactChannel.objects.create(contact=c, kind="phone", value=PRIMARY),
            id="channel on a primary phone",
        ),
        pytest.param(
            lambda c: ContactChannel.objects.bulk_create(
                [ContactChannel(contact=c, kind="phone", value=PRIMARY)], ignore_conflicts=True
            ),
            id="bulk channel ignoring conflicts",
        ),
        pytest.param(
            lambda c: ContactChannel.objects.filter(kind="email").update(kind="phone", value=PRIMARY),
            id="channel changed to a primary phone",
        ),
    ],
)
def test_the_database_refuses_a_number_held_twice_whatever_bypasses_the_services(holder, write):
    other = ContactFactory(phone_number=OTHER)
    ContactChannel.objects.create(contact=other, kind="email", value="ben@example.com")
    before = numbers()

    assert refused(lambda: write(other)) is True

    assert numbers() == before
    assert Contact.objects.count() == 2
    assert sorted(ContactChannel.objects.values_list("contact_id", "value")) == [
        (holder.pk, CHANNEL),
        (other.pk, "ben@example.com"),
    ]


def test_a_channel_may_not_repeat_its_own_contacts_phone(holder):
    assert refused(lambda: ContactChannel.objects.create(contact=holder, kind="phone", value=PRIMARY)) is True
    assert refused(lambda: Contact.objects.filter(pk=holder.pk).update(phone_number=CHANNEL)) is True
    assert numbers() == [(PRIMARY, holder.pk, True), (CHANNEL, holder.pk, False)]


def test_raw_sql_cannot_forget_the_numbers_either(holder):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (uuid, phone_number, email, first_name, last_name, timezone, carrier, "
            "line_type, is_valid, blocked, created_at, updated_at) VALUES "
            "(%s, %s, '', '', '', '', '', 'unknown', true, false, %s, %s)",
            ["0" * 32, OTHER, "2026-01-01 00:00:00+00:00", "2026-01-01 00:00:00+00:00"],
        )
    created = Contact.objects.get(phone_number=OTHER)
    assert (OTHER, created.pk, True) in numbers()


def test_lookups_find_the_contact_by_its_phone_or_any_phone_channel(holder):
    assert contact_by_number(PRIMARY) == holder
    assert contact_by_number(CHANNEL) == holder
    assert contact_by_number(OTHER) is None
    assert contact_numbers([holder.pk]) == {holder.pk: [PRIMARY, CHANNEL]}
    assert list(Contact.objects.filter(contact_search("(415) 555-0302").condition)) == [holder]


def test_an_upsert_by_a_channel_number_finds_its_contact_and_creates_none(holder):
    contact, created = contact_upsert(phone_number="(415) 555-0302", values={"first_name": "Ana"})

    assert (contact.pk, created, contact.first_name) == (holder.pk, False, "Ana")
    assert Contact.objects.count() == 1


def test_the_services_name_the_contact_that_already_holds_a_number(holder):
    other = ContactFactory(phone_number=OTHER)

    with pytest.raises(ValidationError) as error:
        contact_channel_add(contact=other, kind="phone", value=CHANNEL)
    assert error.value.message_dict == {"value": [f"{CHANNEL} is already a channel of contact #{holder.pk}."]}

    with pytest.raises(ValidationError) as error:
        contact_channel_add(contact=other, kind="phone", value=PRIMARY)
    assert error.value.message_dict == {
        "value": [f"{PRIMARY} is already the phone number of contact #{holder.pk}."]
    }

    with pytest.raises(ValidationError) as error:
        contact_channel_add(contact=holder, kind="phone", value=PRIMARY)
    assert error.value.message_dict == {
        "value": [f"{PRIMARY} is already the phone number of contact #{holder.pk}."]
    }

    with pytest.raises(ValidationError) as error:
        contact_phone_set(contact=other, phone=phone_or_error(CHANNEL))
    assert error.value.message_dict == {
        "phone_number": [f"{CHANNEL} is already a channel of contact #{holder.pk}."]
    }
    other.refresh_from_db()
    assert other.phone_number == OTHER
    assert numbers() == [(PRIMARY, holder.pk, True), (CHANNEL, holder.pk, False), (OTHER, other.pk, True)]
