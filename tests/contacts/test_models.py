import pytest
from django.db import IntegrityError

from contacts.models import Contact, ContactChannel, Tag
from tests.factories import ContactFactory


@pytest.mark.django_db
def test_contact_has_an_integer_id_and_a_distinct_uuid():
    first, second = ContactFactory(), ContactFactory()

    assert isinstance(first.pk, int)
    assert first.uuid != second.uuid
    assert Contact.objects.get(uuid=first.uuid) == first


@pytest.mark.django_db
def test_phone_number_is_unique():
    ContactFactory(phone_number="+14155551234")

    with pytest.raises(IntegrityError):
        ContactFactory(phone_number="+14155551234")


@pytest.mark.django_db
def test_phone_number_must_be_stored_in_e164_with_plus():
    with pytest.raises(IntegrityError):
        Contact.objects.create(phone_number="14155551234")


@pytest.mark.django_db
def test_tag_names_are_unique_ignoring_case():
    Tag.objects.create(name="VIP")

    with pytest.raises(IntegrityError):
        Tag.objects.create(name="vip")


@pytest.mark.django_db
def test_tag_name_cannot_be_empty():
    with pytest.raises(IntegrityError):
        Tag.objects.create(name="")


@pytest.mark.django_db
def test_channel_is_unique_per_kind_and_value():
    contact = ContactFactory()
    ContactChannel.objects.create(contact=contact, kind="email", value="a@example.com")
    ContactChannel.objects.create(contact=contact, kind="phone", value="+14155550000")

    with pytest.raises(IntegrityError):
        ContactChannel.objects.create(contact=ContactFactory(), kind="email", value="a@example.com")


@pytest.mark.django_db
def test_full_name_joins_the_known_parts():
    assert ContactFactory.build(first_name="Ada", last_name="").full_name == "Ada"
    assert ContactFactory.build(first_name="Ada", last_name="Lovelace").full_name == "Ada Lovelace"
