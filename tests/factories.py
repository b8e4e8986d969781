"""factory_boy factories for every model. Memberships and contacts go through plain ORM creation;
tests that exercise the rules call the services instead."""

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.models import Contact, ContactChannel, Tag
from engagement.models import Click, Conversion, Message
from sendinglists.models import CustomField, ListContact, SendingList, SubscriptionEvent

_phone_seq = itertools.count(1)


def next_phone() -> str:
    """Unique valid US numbers: +14155560001, +14155560002, … then other area codes.

    Exchange 556, never 555: the tests' own numbers are 555s (+14155550123), and a generated number
    equal to one of them made a test fail or pass with the order the tests ran in."""
    n = next(_phone_seq)
    area = 415 + n // 10_000  # a new area code every 10,000 numbers
    return f"+1{area}556{n % 10_000:04d}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True
    # Hashed before the row is saved, so force_login's session hash matches the stored password.
    password = factory.django.Password("password")


class SendingListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SendingList

    phone_number = factory.Sequence(lambda n: f"+1800555{n % 10_000:04d}")
    name = factory.Sequence(lambda n: f"List {n}")
    default_region = "US"
    help_text = "Acme Deals: reply STOP to opt out."


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone_number = factory.LazyFunction(next_phone)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.first_name.lower()}.{o.last_name.lower()}@example.com")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class ContactChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactChannel

    contact = factory.SubFactory(ContactFactory)
    kind = "email"
    value = factory.Sequence(lambda n: f"alt{n}@example.com")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    sending_list = factory.SubFactory(SendingListFactory)
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    field_type = "text"


class ListContactFactory(factory.django.DjangoModelFactory):
    """A membership row as-is (no events, no counts): for reads. Writes go through services."""

    class Meta:
        model = ListContact

    sending_list = factory.SubFactory(SendingListFactory)
    contact = factory.SubFactory(ContactFactory)
    signup_method = "api"
    subscribed_at = factory.LazyFunction(timezone.now)
    status_changed_at = factory.LazyAttribute(lambda o: o.subscribed_at)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    direction = "outbound"
    contact = factory.SubFactory(ContactFactory)
    sending_list = factory.SubFactory(SendingListFactory)
    from_number = factory.LazyAttribute(lambda o: o.sending_list.phone_number)
    to_number = factory.LazyAttribute(lambda o: o.contact.phone_number)
    body = "Hello from Acme"
    provider_message_id = factory.Sequence(lambda n: f"SM{n:032d}")
    status = "delivered"
    sent_at = factory.LazyFunction(timezone.now)


class ClickFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Click

    list_contact = factory.SubFactory(ListContactFactory)
    contact = factory.LazyAttribute(lambda o: o.list_contact.contact)
    sending_list = factory.LazyAttribute(lambda o: o.list_contact.sending_list)
    url = "https://example.com/sale"
    clicked_at = factory.LazyFunction(timezone.now)


class ConversionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversion

    list_contact = factory.SubFactory(ListContactFactory)
    contact = factory.LazyAttribute(lambda o: o.list_contact.contact)
    sending_list = factory.LazyAttribute(lambda o: o.list_contact.sending_list)
    order_id = factory.Sequence(lambda n: f"order-{n}")
    revenue = Decimal("25.00")
    converted_at = factory.LazyFunction(timezone.now)


# Bulk history for the opt-out watch: outbound sends and contact-initiated opt-outs at a time.
def send(sending_list, contact, count: int, when: dt.datetime, direction: str = "outbound") -> None:
    Message.objects.bulk_create(
        Message(
            direction=direction,
            sending_list=sending_list,
            contact=contact,
            from_number=sending_list.phone_number,
            to_number=contact.phone_number,
            status="delivered",
            sent_at=when,
        )
        for _ in range(count)
    )


def opt_outs(sending_list, contact, count: int, when: dt.datetime, reason: str = "message") -> None:
    SubscriptionEvent.objects.bulk_create(
        SubscriptionEvent(
            sending_list=sending_list,
            contact=contact,
            phone_number=contact.phone_number,
            kind="opted_out",
            reason=reason,
            actor_kind="message",
            occurred_at=when,
        )
        for _ in range(count)
    )
