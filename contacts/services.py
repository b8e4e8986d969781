"""Writes to contacts. Every surface (pages, API, admin, imports, webhooks) calls these."""

from collections.abc import Iterable

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.choices import ChannelKind, SuppressionKind
from contacts.models import MAX_TAGS_PER_CONTACT, Contact, ContactChannel, NumberSuppression, Tag
from contacts.phones import DEFAULT_REGION, normalize_phone
from contacts.selectors import (
    NUMBER_HELD,
    NUMBER_HELD_MESSAGE,
    contact_by_number,
    number_held_params,
    number_holder,
    tag_named,
)

# Fields a caller may set on a contact; phone_number is handled separately (it is the identity).
CONTACT_TEXT_FIELDS = ("email", "first_name", "last_name", "timezone", "carrier")
# The merge rule of `contact_upsert`: each of these takes the incoming value when it is not blank
# and differs; a blank keeps the stored value. The import's SQL writer derives its ON CONFLICT
# clause from this tuple (`sendinglists.imports.writers`).
UPSERT_MERGED_FIELDS = CONTACT_TEXT_FIELDS


def phone_or_error(raw: object, *, region: str | None = DEFAULT_REGION, field: str = "phone_number"):
    """The normalized PhoneResult, or a ValidationError naming the field and the reason."""
    result = normalize_phone(raw if isinstance(raw, str) or raw is None else str(raw), region)
    if not result.is_valid:
        raise ValidationError({field: f"{raw!s:.40} is not a valid phone number: {result.error}."})
    return result


def region_or_error(region: object, *, field: str = "region") -> str:
    """The country code national numbers are read in (ISO 3166, upper-cased), or a ValidationError
    naming the field. Every surface that takes a region (lists, imports, the admin) asks this."""
    code = str(region or "").strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError({field: [f"{code!r} is not a known country code (use e.g. US, GB, DE)."]})
    return code


def number_is_blocked(phone_number: str) -> bool:
    """Whether the number carries a block in the consent ledger (it outlives any contact row).
    # Uses index: suppression_global_phone_unique
    """
    return NumberSuppression.objects.filter(
        phone_number=phone_number, sending_list_id__isnull=True, kind=SuppressionKind.BLOCK
    ).exists()


def _clean_values(values: dict) -> dict:
    unknown = set(values) - set(CONTACT_TEXT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown contact fields: {', '.join(sorted(unknown))}.")
    return {key: ("" if value is None else str(value).strip()) for key, value in values.items()}


def _validate_contact(contact: Contact, fields: Iterable[str]) -> None:
    contact.full_clean(
        exclude=[f.name for f in Contact._meta.fields if f.name not in fields], validate_unique=False
    )


@transaction.atomic
def contact_upsert(
    *, phone_number: str, region: str | None = DEFAULT_REGION, values: dict | None = None
) -> tuple[Contact, bool]:
    """Find the contact holding the number (any format; its primary phone or one of its phone
    channels) or create it; merge `values` without blanking.

    A known value is never overwritten with a blank one: an import row with an empty email
    leaves the stored email alone. A new contact whose number is blocked in the consent ledger (a
    blocked contact deleted and re-created) is blocked from the start. Returns (contact, created). Safe against a concurrent insert of
    the same number (the unique constraint decides, the loser updates).
    """
    phone = phone_or_error(phone_number, region=region)
    values = {
        key: value
        for key, value in _clean_values(values or {}).items()
        if key in UPSERT_MERGED_FIELDS and value
    }
    contact = contact_by_number(phone.e164, for_update=True)
    if contact is None:
        contact = Contact(
            phone_number=phone.e164,
            line_type=phone.line_type,
            is_valid=True,
            blocked=number_is_blocked(phone.e164),
            **values,
        )
        _validate_contact(contact, values)
        try:
            with transaction.atomic():
                contact.save()
            return contact, True
        except IntegrityError:
            # A concurrent insert of the number, as a contact's phone or as a channel.
            contact = contact_by_number(phone.e164, for_update=True)
            if contact is None:
                raise

    changed = [key for key, value in values.items() if getattr(contact, key) != value]
    if changed:
        for key in changed:
            setattr(contact, key, values[key])
        _validate_contact(contact, changed)
        contact.save(update_fields=[*changed, "updated_at"])
    return contact, False


@transaction.atomic
def contact_update(*, contact: Contact, values: dict) -> Contact:
    """Set exactly the given fields (an explicit edit may blank a field, unlike an upsert).

    The phone number is not one of them: a number carries consent, so it changes only through
    `sendinglists.subscriptions.consent.contact_change_phone`, which asks the consent ledger first.
    """
    values = _clean_values(values)
    changed = [key for key, value in values.items() if getattr(contact, key) != value]
    for key in changed:
        setattr(contact, key, values[key])
    if changed:
        _validate_contact(contact, changed)
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def contact_phone_set(*, contact: Contact, phone) -> Contact:
    """Give the contact another number (a normalized PhoneResult). Only
    `sendinglists.contacts.numbers.contact_change_phone` calls this, inside its transaction, after the
    consent checks; a number another contact holds (as its phone or a channel), or one of this
    contact's own channels, is a ValidationError naming the holder."""
    _refuse_held_number(phone.e164, contact=contact, field="phone_number")
    contact.phone_number = phone.e164
    contact.line_type = phone.line_type
    contact.is_valid = True
    try:
        with transaction.atomic():
            contact.save(update_fields=["phone_number", "line_type", "is_valid", "updated_at"])
    except IntegrityError:
        # A concurrent writer gave the number to someone between the check and the save: the
        # ContactNumber key refused it (its trigger runs in this UPDATE).
        _refuse_held_number(phone.e164, contact=contact, field="phone_number")
        raise
    return contact


def _refuse_held_number(phone_number: str, *, contact: Contact, field: str) -> None:
    """A ValidationError on `field` naming the contact that already holds the number (code
    NUMBER_HELD, the holder in its params: an API answer leaves it unnamed for a token that may not
    know that contact)."""
    row = number_holder(phone_number, except_contact_id=contact.pk)
    if row is not None:
        error = ValidationError(NUMBER_HELD_MESSAGE, code=NUMBER_HELD, params=number_held_params(row))
        raise ValidationError({field: error})


def _tag_names(names: Iterable[str]) -> list[str]:
    cleaned: dict[str, str] = {}
    for name in names:
        name = str(name).strip()
        if not name:
            continue
        if len(name) > 50:
            raise ValidationError({"tags": f"Tag {name[:20]!r}… is longer than 50 characters."})
        cleaned.setdefault(name.lower(), name)
    return list(cleaned.values())


def tags_get_or_create(names: Iterable[str]) -> list[Tag]:
    """Tags by name, case-insensitively; missing ones are created."""
    names = _tag_names(names)
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(tag_named(names))} if names else {}
    tags = []
    for name in names:
        tag = existing.get(name.lower())
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name)
            except IntegrityError:
                # Taken by a concurrent writer, or by a tag whose name only the database folds to
                # this one (the map above is keyed by Python's lower()).
                tag = Tag.objects.get(tag_named([name]))
        tags.append(tag)
    return tags


def _check_tag_limit(count: int) -> None:
    if count > MAX_TAGS_PER_CONTACT:
        raise ValidationError(
            {"tags": f"A contact can have at most {MAX_TAGS_PER_CONTACT} tags; this would give it {count}."}
        )


def contact_tags_check(*, names: Iterable[str]) -> list[str]:
    """The cleaned, de-duplicated tag names a contact would get; a ValidationError above the limit.

    Forms call this in `clean()` to show the error next to the field before anything is saved.
    """
    names = _tag_names(names)
    _check_tag_limit(len(names))
    return names


@transaction.atomic
def contact_set_tags(*, contact: Contact, names: Iterable[str]) -> list[Tag]:
    """Replace the contact's tags. More than five is a ValidationError and changes nothing."""
    names = contact_tags_check(names=names)
    tags = tags_get_or_create(names)
    contact.tags.set(tags)
    return tags


@transaction.atomic
def contact_add_tags(*, contact: Contact, names: Iterable[str]) -> list[Tag]:
    """Add tags to the contact's current ones, keeping the limit of five."""
    Contact.objects.select_for_update().filter(pk=contact.pk).first()  # serialize concurrent taggers
    current = {tag.name.lower(): tag.name for tag in contact.tags.all()}
    for name in _tag_names(names):
        current.setdefault(name.lower(), name)
    return contact_set_tags(contact=contact, names=current.values())


@transaction.atomic
def contact_channel_add(*, contact: Contact, kind: str, value: str, region=DEFAULT_REGION) -> ContactChannel:
    """Add a way to reach the contact; phones are normalized, emails validated and lower-cased."""
    if kind == ChannelKind.PHONE:
        value = phone_or_error(value, region=region, field="value").e164
    elif kind == ChannelKind.EMAIL:
        from django.core.validators import validate_email

        value = str(value).strip().lower()
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"value": f"{value!r} is not a valid email address."}) from None
    else:
        raise ValidationError({"kind": f"Unknown channel kind {kind!r}; use phone or email."})
    owner = ContactChannel.objects.filter(kind=kind, value=value).select_related("contact").first()
    if owner is not None and owner.contact_id == contact.pk:
        return owner
    if owner is not None and kind != ChannelKind.PHONE:
        raise ValidationError({"value": f"{value} is already a channel of another contact."})
    if kind != ChannelKind.PHONE:
        return ContactChannel.objects.create(contact=contact, kind=kind, value=value)
    # A number is one contact's primary phone or one contact's channel, never both: the
    # ContactNumber key (written by the channel's trigger) refuses the rest, this names the holder.
    _refuse_held_number(value, contact=Contact(pk=None), field="value")
    try:
        with transaction.atomic():
            return ContactChannel.objects.create(contact=contact, kind=kind, value=value)
    except IntegrityError:
        _refuse_held_number(value, contact=Contact(pk=None), field="value")
        raise


def contact_channel_remove(*, contact: Contact, channel_id: int) -> bool:
    """Remove one of the contact's channels; returns whether it existed (another contact's is untouched)."""
    deleted, _ = ContactChannel.objects.filter(pk=channel_id, contact=contact).delete()
    return bool(deleted)


def contact_mark_invalid(*, contact: Contact, line_type: str | None = None) -> None:
    """Record that the number cannot receive messages (carrier said so)."""
    fields = {"is_valid": False, "updated_at": timezone.now()}
    if line_type:
        fields["line_type"] = line_type
    Contact.objects.filter(pk=contact.pk).update(**fields)
    for key, value in fields.items():
        setattr(contact, key, value)
