from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sendinglists.api.permissions import WITHHELD_FIELDS
from sendinglists.subscriptions.subscribe import Outcome


class SubscriptionOutcomeSerializer(serializers.Serializer):
    """What a subscribe did. `skipped_opted_out` / `skipped_blocked` changed nothing; `reason` says why."""

    outcome = serializers.ChoiceField(choices=[(o.value, o.value) for o in Outcome])
    reason = serializers.CharField(allow_blank=True)


def outcome_data(result) -> dict | None:
    if result is None:
        return None
    return {"outcome": result.outcome.value, "reason": result.reason}


MAX_CUSTOM_VALUES = 1000


class CustomFieldValuesField(serializers.DictField):
    """Custom field values keyed by field key or by field id (seed 001); validated against the
    list's fields by the service, which reports each bad value as `custom_fields.<key>`. At most
    MAX_CUSTOM_VALUES names in one object: the service looks every name up in one query."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            'Values keyed by field key or field id, e.g. {"plan": "pro"} or {"12": "pro"}. '
            "Unknown fields and values of the wrong type are a 400.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict) and len(data) > MAX_CUSTOM_VALUES:
            raise serializers.ValidationError(
                f"At most {MAX_CUSTOM_VALUES:,} custom values in one request ({len(data):,} given)."
            )
        return super().to_internal_value(data)


CONTACT_STATUS_HELP = (
    "Seed 001's contact status (whether the contact can be messaged), over the sending lists this "
    "token can see: blocked (never messaged, on any list); subscribed (subscribed to at least one of "
    "them); unsubscribed (on some of them, subscribed to none); active (on none of them, not blocked)."
)

WITHHELD_FIELDS_HELP = (
    "The personal fields withheld from this token, blank in this answer: a token limited to some "
    "sending lists neither sees nor changes the email, names, time zone, carrier, tags and channels "
    "of a contact that lists outside its scope also hold (values it sends for them are not applied). "
    "Empty otherwise, and always for a token with access to every list."
)


def withheld_fields_names(names) -> list[str]:
    """The withheld fields among a representation's field `names`, in WITHHELD_FIELDS order."""
    return [name for name in WITHHELD_FIELDS if name in names]


def withhold_personal_fields(data: dict, *, withheld: bool) -> dict:
    """A contact's representation as the token may see it: with `withheld`, its personal fields
    blanked, and `withheld_fields` naming them (empty otherwise)."""
    names = withheld_fields_names(data) if withheld else []
    for name in names:
        data[name] = [] if name in ("tags", "channels") else ""
    data["withheld_fields"] = names
    return data


@extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=WITHHELD_FIELDS)))
class WithheldFieldsField(serializers.Field):
    """`withheld_fields` as declared (the schema; the fast paths build it with
    withhold_personal_fields): reads the `fields_withheld` the view annotates on the contact
    (permissions.contact_held_outside_scope)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, help_text=WITHHELD_FIELDS_HELP, **kwargs)

    def to_representation(self, contact):
        withheld = getattr(contact, "fields_withheld", False)
        return withheld_fields_names(self.parent.fields) if withheld else []
