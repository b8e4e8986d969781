from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.serializers import (
    NUMBER_FORMS_HELP,
    ContactChannelSerializer,
    ContactFieldsSerializer,
    channel_data,
    contact_fields_data,
    contact_numbers_in_form,
    datetime_value,
)
from contacts.api.strict import StrictKeysMixin
from contacts.phones import NumberForm
from sendinglists.api.fields import (
    CONTACT_STATUS_HELP,
    WITHHELD_FIELDS_HELP,
    CustomFieldValuesField,
    WithheldFieldsField,
    withhold_personal_fields,
)
from sendinglists.choices import ContactStatus, contact_status_from, status_from
from sendinglists.subscriptions.api.serializers import MembershipStatusFields, signup_method_field
from sendinglists.subscriptions.models import MEMBERSHIP_SUBSCRIPTION_FIELDS, ListContact

BULK_ITEM_STATUSES = ["ok", "error"]
# The personal fields a bulk item can carry (it has no channels).
BULK_WITHHELD_FIELDS = ["email", "first_name", "last_name", "timezone", "carrier", "tags"]


def contact_status(contact) -> str:
    """Seed 001's contact status, over the memberships the token can see (`scoped_memberships`)."""
    memberships = getattr(contact, "scoped_memberships", [])
    return contact_status_from(
        blocked=contact.blocked, memberships_active=(membership.active for membership in memberships)
    ).value


def subscription_data(membership, *, blocked: bool) -> dict:
    """ContactSubscriptionSerializer's output; `blocked`: the contact's (the membership's status
    reads Blocked then, `status_from`)."""
    return {
        "sending_list": membership.sending_list_id,
        "status": status_from(
            active=membership.active, unsub_reason=membership.unsub_reason, blocked=blocked
        ).value,
        "active": membership.active,
        "unsub_reason": membership.unsub_reason,
        "signup_method": membership.signup_method,
        "subscribed_at": datetime_value(membership.subscribed_at),
        "opted_out_at": datetime_value(membership.opted_out_at),
        "custom_fields": membership.custom_fields,
    }


class ContactSubscriptionSerializer(MembershipStatusFields, serializers.ModelSerializer):
    """The contact's membership of one sending list, as seen on the contact."""

    custom_fields = serializers.DictField(
        read_only=True, help_text="This list's custom values, keyed by field key (types as the fields')."
    )

    class Meta:
        model = ListContact
        fields = [
            "sending_list",
            "status",
            "active",
            *MEMBERSHIP_SUBSCRIPTION_FIELDS,
            "custom_fields",
        ]
        read_only_fields = fields


CONTACT_CUSTOM_FIELDS_HELP = (
    'Custom values keyed by field id or field key (the ids and keys: /api/v1/contact-fields), e.g. {"12": "pro"}: '
    "each is stored on the contact's membership of that field's sending list (a key that several of "
    "its lists define, on each of them) and shown under `subscriptions[].custom_fields`. A field of a "
    "list the contact is not on, an unknown field or a value of the wrong type is a 400 naming it, and "
    "nothing is changed. On create, a blank value is ignored (a merge never blanks); on update, a blank "
    'value (null or "") clears the field.'
)


class ContactSerializer(ContactFieldsSerializer):
    """A contact (v1: integer `id`). `subscriptions` lists the memberships the token may see;
    `withheld_fields` the personal fields it may not (the view annotates `fields_withheld`)."""

    status = serializers.SerializerMethodField(help_text=CONTACT_STATUS_HELP)
    subscriptions = ContactSubscriptionSerializer(many=True, read_only=True, source="scoped_memberships")
    withheld_fields = WithheldFieldsField()
    custom_fields = CustomFieldValuesField(
        required=False, write_only=True, help_text=CONTACT_CUSTOM_FIELDS_HELP
    )

    class Meta(ContactFieldsSerializer.Meta):
        fields = [
            "id",
            "uuid",
            *ContactFieldsSerializer.Meta.fields,
            "status",
            "subscriptions",
            "withheld_fields",
            "custom_fields",
        ]
        read_only_fields = ["id", "uuid", *ContactFieldsSerializer.Meta.read_only_fields]

    @extend_schema_field(serializers.ChoiceField(choices=ContactStatus.choices))
    def get_status(self, contact) -> str:
        return contact_status(contact)

    def to_representation(self, contact):
        # Built directly for speed; equal to the declared fields' output (see test_representations).
        # Without the view's annotation nothing is withheld: only views serve list-scoped tokens.
        data = self.visible_data(contact)
        data = withhold_personal_fields(data, withheld=getattr(contact, "fields_withheld", False))
        return contact_numbers_in_form(data, self.context.get("number_form", NumberForm.E164))

    def visible_data(self, contact) -> dict:
        return {
            "id": contact.pk,
            "uuid": str(contact.uuid),
            **contact_fields_data(contact),
            "status": contact_status(contact),
            "subscriptions": [
                subscription_data(m, blocked=contact.blocked)
                for m in getattr(contact, "scoped_memberships", [])
            ],
        }


class ContactV2Serializer(ContactSerializer):
    """A contact (v2: the UUID is the `id`), with its contact channels (seed 001)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    channels = ContactChannelSerializer(
        many=True, required=False, help_text="Other ways to reach the contact; on create they are added."
    )

    class Meta(ContactSerializer.Meta):
        fields = [
            "id",
            *ContactFieldsSerializer.Meta.fields,
            "channels",
            "status",
            "subscriptions",
            "withheld_fields",
            "custom_fields",
        ]
        read_only_fields = ["id", *ContactFieldsSerializer.Meta.read_only_fields]

    def visible_data(self, contact) -> dict:
        data = super().visible_data(contact)
        del data["uuid"]
        return {
            **data,
            "id": str(contact.uuid),
            "channels": [channel_data(channel) for channel in contact.channels.all()],
        }


class TagsSerializer(StrictKeysMixin, serializers.Serializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), help_text="Tag names; a contact has at most five."
    )


class BulkContactSerializer(ContactFieldsSerializer):
    """One item of a bulk upsert: the contact, and optionally a list to subscribe it to."""

    sending_list = serializers.IntegerField(
        required=False, help_text="Subscribe the contact to this list (default: the request's sending_list)."
    )
    custom_fields = CustomFieldValuesField(
        required=False,
        help_text="Values keyed by field key or field id: of the item's sending_list; without one, of the "
        "lists the contact is already on (as on POST /contacts/).",
    )
    signup_method = signup_method_field()

    class Meta(ContactFieldsSerializer.Meta):
        fields = [*ContactFieldsSerializer.Meta.fields, "sending_list", "custom_fields", "signup_method"]


class BulkUpsertRequestSerializer(StrictKeysMixin, serializers.Serializer):
    sending_list = serializers.IntegerField(
        required=False, help_text="Subscribe every contact to this list unless an item names its own."
    )
    contacts = BulkContactSerializer(many=True, help_text="1 to 1,000 contacts.")


class BulkItemContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    phone_number = serializers.CharField(help_text=NUMBER_FORMS_HELP)
    created = serializers.BooleanField()
    status = serializers.ChoiceField(choices=ContactStatus.choices, help_text=CONTACT_STATUS_HELP)
    withheld_fields = serializers.ListField(
        child=serializers.ChoiceField(choices=BULK_WITHHELD_FIELDS), help_text=WITHHELD_FIELDS_HELP
    )


class BulkItemSubscriptionSerializer(serializers.Serializer):
    sending_list = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["created", "updated", "skipped_opted_out", "skipped_blocked"])
    reason = serializers.CharField(allow_blank=True)


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the request, from 0.")
    status = serializers.ChoiceField(choices=BULK_ITEM_STATUSES)
    contact = BulkItemContactSerializer(allow_null=True)
    subscription = BulkItemSubscriptionSerializer(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field path -> messages, for an item with status error.",
    )


class BulkUpsertResponseSerializer(serializers.Serializer):
    results = BulkItemResultSerializer(many=True)
    counts = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="ok, error, contacts_created, subscribed, updated, skipped_opted_out, skipped_blocked.",
    )
