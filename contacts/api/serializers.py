"""Contact serializers that need nothing from sending lists (contacts must not import them)."""

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable

from django.core.validators import validate_email
from django.utils import timezone as django_timezone
from rest_framework import serializers

from contacts.api.strict import StrictKeysMixin
from contacts.choices import ChannelKind
from contacts.models import Contact, ContactChannel
from contacts.phones import DEFAULT_REGION, NumberForm, normalize_phone, number_in_form

NUMBER_FORMS_HELP = (
    "Any common format in: +14155551234, 14155551234 (seed 001: E.164 digits without the plus), "
    "(415) 555-1234. Answered as E.164 digits without the plus (14155551234) on seed 001's paths "
    "(/api/v1/contact…, /api/v2/contact…), in E.164 with the plus (+14155551234) everywhere else."
)


class PhoneNumberField(serializers.CharField):
    """Any format in (`+14155551234`, seed 001's `14155551234`, `(415) 555-1234` in the region of
    the context, default US); E.164 with `+` out. An invalid number is a 400 that says why."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", NUMBER_FORMS_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        region = self.context.get("region") or DEFAULT_REGION
        result = normalize_phone(text, region)
        if not result.is_valid:
            raise serializers.ValidationError(f"{text[:40]} is not a valid phone number: {result.error}.")
        return result.e164


def validate_timezone_name(value: str) -> str:
    if not value:
        return value
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise serializers.ValidationError(
            f"{value[:64]!r} is not an IANA time zone name (e.g. America/New_York)."
        ) from None
    return value


_DATETIME = serializers.DateTimeField()


def datetime_formatter() -> Callable[[dt.datetime | None], str | None]:
    """`datetime_value` with the current time zone looked up once: a list page formats hundreds of
    datetimes, and the lookup (a context-local read) costs more than the formatting.

    Equal to DRF's DateTimeField output with the default ISO 8601 format (tests compare them).
    """
    zone = django_timezone.get_current_timezone()

    def format_datetime(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:  # never from an aware database; DRF's rules for naive values
            return _DATETIME.to_representation(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return format_datetime


def datetime_value(value: dt.datetime | None) -> str | None:
    """A datetime as DRF renders it (ISO 8601 in the current time zone, `Z` for UTC)."""
    return datetime_formatter()(value)


def contact_fields_data(contact) -> dict:
    """The contact's own fields, built directly: list pages render 50 of these per request and
    DRF's per-field machinery costs more than the query. Must equal ContactFieldsSerializer's
    output (tests/api/test_representations.py compares them)."""
    return {
        "phone_number": contact.phone_number,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "timezone": contact.timezone,
        "carrier": contact.carrier,
        "line_type": contact.line_type,
        "is_valid": contact.is_valid,
        "blocked": contact.blocked,
        "tags": contact_tag_list(contact),
        "created_at": datetime_value(contact.created_at),
        "updated_at": datetime_value(contact.updated_at),
    }


def contact_numbers_in_form(data: dict, form: NumberForm) -> dict:
    """A contact's representation with every number in it (its phone number, its phone channels)
    written in `form`: seed 001's paths answer digits without the plus. Changes `data` in place."""
    if form == NumberForm.E164:
        return data
    if data.get("phone_number"):
        data["phone_number"] = number_in_form(data["phone_number"], form)
    for channel in data.get("channels") or ():
        channel_numbers_in_form(channel, form)
    return data


def channel_numbers_in_form(data: dict, form: NumberForm) -> dict:
    """A channel's representation with its value in `form` when it is a phone number."""
    if data.get("kind") == ChannelKind.PHONE and data.get("value"):
        data["value"] = number_in_form(data["value"], form)
    return data


def channel_data(channel) -> dict:
    return {
        "id": channel.pk,
        "kind": channel.kind,
        "value": channel.value,
        "created_at": datetime_value(channel.created_at),
    }


def contact_tag_list(contact) -> list[str]:
    """The contact's sorted tag names: from `loaded_tag_names` when a view loaded them for a page
    (contacts.selectors.contact_tag_names, one query), else from its (prefetched) tags."""
    names = getattr(contact, "loaded_tag_names", None)
    return sorted_tag_names(names) if names is not None else tag_names(contact.tags.all())


def tag_names(tags) -> list[str]:
    return sorted_tag_names(tag.name for tag in tags)


def sorted_tag_names(names: Iterable[str]) -> list[str]:
    """Tag names in the order the API shows them: case-insensitively sorted."""
    return sorted(names, key=str.lower)


class TagNamesField(serializers.ListField):
    """Tag names in and out; reads the (prefetched) tags of the contact, sorted case-insensitively."""

    child = serializers.CharField(max_length=50)

    def to_representation(self, data):
        return tag_names(data.all())


class ContactChannelSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """A way to reach a contact (seed 001 v2): kind `phone` or `email`, and its value."""

    class Meta:
        model = ContactChannel
        fields = ["id", "kind", "value", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators: list = []  # uniqueness is decided (and worded) by contact_channel_add
        extra_kwargs = {
            "value": {
                "help_text": "An email address, or a phone number in any format; a phone number is "
                "answered like `phone_number` (digits without the plus on seed 001's paths)."
            }
        }

    def validate(self, attrs):
        # Normalization (E.164, lower-cased email) happens in contact_channel_add; here only the
        # shape, so that a bad value is a 400 naming the field before anything is written. (Inside
        # a PATCH the nested fields are partial too: a channel needs both all the same.)
        missing = {name: ["This field is required."] for name in ("kind", "value") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        if attrs["kind"] == ChannelKind.EMAIL:
            try:
                validate_email(attrs["value"].strip())
            except Exception:
                raise serializers.ValidationError(
                    {"value": f"{attrs['value'][:60]!r} is not a valid email address."}
                ) from None
        return attrs


class ContactFieldsSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """The contact's own fields, shared by v1 and v2 representations."""

    phone_number = PhoneNumberField()
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    timezone = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        validators=[validate_timezone_name],
        help_text="IANA name, e.g. America/New_York",
    )
    tags = TagNamesField(
        required=False,
        help_text="At most five tag names. On create they are added; on update they replace the tags.",
    )

    class Meta:
        model = Contact
        fields = [
            "phone_number",
            "email",
            "first_name",
            "last_name",
            "timezone",
            "carrier",
            "line_type",
            "is_valid",
            "blocked",
            "tags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["line_type", "is_valid", "blocked", "created_at", "updated_at"]
