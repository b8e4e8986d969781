import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact, ContactChannel, Tag
from contacts.services import (
    contact_add_tags,
    contact_channel_add,
    contact_mark_invalid,
    contact_set_tags,
    contact_update,
    contact_upsert,
)
from tests.factories import ContactFactory


@pytest.mark.django_db
def test_upsert_creates_a_contact_in_e164_from_any_format():
    contact, created = contact_upsert(phone_number="(415) 555-1234", values={"first_name": "Ada"})

    assert created is True
    assert contact.phone_number == "+14155551234"
    assert contact.first_name == "Ada"
    assert contact.is_valid is True


@pytest.mark.django_db
@pytest.mark.parametrize("same_number", ["+14155551234", "14155551234", "415.555.1234", "1 (415) 555-1234"])
def test_upsert_finds_the_same_contact_whatever_the_format(same_number):
    original, _ = contact_upsert(phone_number="+14155551234")

    found, created = contact_upsert(phone_number=same_number)

    assert created is False
    assert found.pk == original.pk
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_upsert_merges_without_overwriting_known_values_with_blanks():
    contact_upsert(phone_number="+14155551234", values={"email": "ada@example.com", "first_name": "Ada"})

    contact, _ = contact_upsert(
        phone_number="+14155551234", values={"email": "", "first_name": None, "last_name": "Lovelace"}
    )

    contact.refresh_from_db()
    assert (contact.email, contact.first_name, contact.last_name) == ("ada@example.com", "Ada", "Lovelace")


@pytest.mark.django_db
def test_upsert_overwrites_a_known_value_with_a_new_non_blank_one():
    contact_upsert(phone_number="+14155551234", values={"email": "old@example.com"})

    contact, _ = contact_upsert(phone_number="+14155551234", values={"email": "new@example.com"})

    contact.refresh_from_db()
    assert contact.email == "new@example.com"


@pytest.mark.django_db
def test_upsert_rejects_an_invalid_phone_with_the_reason_and_creates_nothing():
    with pytest.raises(ValidationError) as error:
        contact_upsert(phone_number="555-12")

    assert "phone_number" in error.value.message_dict
    assert "wrong number of digits" in error.value.message_dict["phone_number"][0]
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_upsert_rejects_an_invalid_email_and_creates_nothing():
    with pytest.raises(ValidationError) as error:
        contact_upsert(phone_number="+14155551234", values={"email": "not-an-email"})

    assert "email" in error.value.message_dict
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_upsert_rejects_unknown_fields():
    with pytest.raises(ValidationError, match="Unknown contact fields: shoe_size"):
        contact_upsert(phone_number="+14155551234", values={"shoe_size": "9"})


@pytest.mark.django_db
def test_update_sets_exactly_the_given_fields_even_blank():
    contact = ContactFactory(email="ada@example.com", first_name="Ada")

    contact_update(contact=contact, values={"email": ""})

    contact.refresh_from_db()
    assert contact.email == ""
    assert contact.first_name == "Ada"


@pytest.mark.django_db
def test_set_tags_replaces_and_reuses_tags_case_insensitively():
    Tag.objects.create(name="VIP")
    contact = ContactFactory()

    contact_set_tags(contact=contact, names=["vip", "Newsletter", "newsletter", " "])

    assert sorted(contact.tags.values_list("name", flat=True)) == ["Newsletter", "VIP"]
    assert Tag.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Ósmosis", "İstanbul", "ß\x19Ó", "ΣΟΦΊΑ", "ǅemal"])
def test_a_non_ascii_tag_is_reused_however_the_database_folds_its_case(name):
    """The unique index folds case with the database's LOWER, which differs from Python's lower()
    for some characters (SQLite's folds ASCII only; PostgreSQL's maps İ to i). Found by schemathesis:
    the second PUT of such a tag was a 500."""
    first, second = ContactFactory(), ContactFactory()

    [tag] = contact_set_tags(contact=first, names=[name])
    again = contact_set_tags(contact=second, names=[name, "other"])

    assert again[0].pk == tag.pk
    assert Tag.objects.filter(pk=tag.pk, name=name).exists()
    assert Tag.objects.count() == 2
    assert set(second.tags.values_list("name", flat=True)) == {name, "other"}


@pytest.mark.django_db
def test_a_sixth_tag_is_refused_with_a_clear_error_and_nothing_changes():
    contact = ContactFactory()
    contact_set_tags(contact=contact, names=["a", "b", "c", "d", "e"])

    with pytest.raises(ValidationError) as error:
        contact_add_tags(contact=contact, names=["f"])

    assert error.value.message_dict["tags"] == ["A contact can have at most 5 tags; this would give it 6."]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["a", "b", "c", "d", "e"]
    assert not Tag.objects.filter(name="f").exists()


@pytest.mark.django_db
def test_adding_a_tag_the_contact_already_has_does_not_count_twice():
    contact = ContactFactory()
    contact_set_tags(contact=contact, names=["a", "b", "c", "d", "e"])

    contact_add_tags(contact=contact, names=["A"])

    assert contact.tags.count() == 5


@pytest.mark.django_db
def test_channel_add_normalizes_phones_and_emails():
    contact = ContactFactory()

    phone = contact_channel_add(contact=contact, kind="phone", value="(415) 555-9999")
    email = contact_channel_add(contact=contact, kind="email", value=" Ada@Example.COM ")

    assert phone.value == "+14155559999"
    assert email.value == "ada@example.com"


@pytest.mark.django_db
def test_channel_add_refuses_a_value_owned_by_another_contact():
    contact_channel_add(contact=ContactFactory(), kind="email", value="shared@example.com")
    other = ContactFactory()

    with pytest.raises(ValidationError, match="already a channel of another contact"):
        contact_channel_add(contact=other, kind="email", value="shared@example.com")

    assert ContactChannel.objects.filter(contact=other).count() == 0


@pytest.mark.django_db
def test_channel_add_rejects_bad_values_with_reasons():
    contact = ContactFactory()

    with pytest.raises(ValidationError, match="not a valid email address"):
        contact_channel_add(contact=contact, kind="email", value="nope")
    with pytest.raises(ValidationError, match="not a valid phone number"):
        contact_channel_add(contact=contact, kind="phone", value="12")
    with pytest.raises(ValidationError, match="Unknown channel kind"):
        contact_channel_add(contact=contact, kind="fax", value="12")


@pytest.mark.django_db
def test_mark_invalid_records_validity_and_line_type():
    contact = ContactFactory()

    contact_mark_invalid(contact=contact, line_type="landline")

    contact.refresh_from_db()
    assert (contact.is_valid, contact.line_type) == (False, "landline")
