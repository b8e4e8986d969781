from rest_framework import serializers

from contacts.api.serializers import PhoneNumberField, TagNamesField, datetime_value, tag_names
from contacts.models import Contact
from sendinglists.api.serializers.common import CustomFieldValuesField, SubscriptionOutcomeSerializer
from sendinglists.choices import MembershipStatus, UnsubReason
from sendinglists.models import CustomField, ListContact, SendingList


class SendingListSerializer(serializers.ModelSerializer):
    """A sender number; `counts` are members per status (maintained counts, never a COUNT(*))."""

    phone_number = PhoneNumberField(help_text="The sender number, any format; returned in E.164.")
    counts = serializers.SerializerMethodField()

    class Meta:
        model = SendingList
        fields = ["id", "phone_number", "name", "default_region", "help_text", "created_at", "counts"]
        read_only_fields = ["id", "created_at", "counts"]

    def get_counts(self, sending_list) -> dict[str, int]:
        return self.context.get("counts", {}).get(sending_list.pk, dict.fromkeys(MembershipStatus.values, 0))


class CustomFieldSerializer(serializers.ModelSerializer):
    """A custom field of a sending list (seed 001's contact-fields): values are keyed by `key` or `id`."""

    sending_list = serializers.PrimaryKeyRelatedField(
        queryset=SendingList.objects.all(),
        error_messages={
            "does_not_exist": "No sending list {pk_value}.",
            "incorrect_type": "Expected a list id.",
        },
    )
    key = serializers.SlugField(max_length=64, help_text="Letters, digits, _ and -; unique per list.")
    choices = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="The allowed values of a choice field.",
    )

    class Meta:
        model = CustomField
        fields = ["id", "sending_list", "key", "label", "field_type", "choices", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"label": {"required": False}}
        validators: list = []  # uniqueness is the service's to decide and word

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = self.context.get("sending_lists")
        if queryset is not None:
            self.fields["sending_list"].queryset = queryset


class MembershipContactSerializer(serializers.ModelSerializer):
    tags = TagNamesField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "uuid", "phone_number", "email", "first_name", "last_name", "blocked", "tags"]
        read_only_fields = fields


class MembershipSerializer(serializers.ModelSerializer):
    """A contact's membership of a list: status, custom fields and engagement counters."""

    contact = MembershipContactSerializer(read_only=True)
    status = serializers.ChoiceField(choices=MembershipStatus.choices, read_only=True)
    unsub_reason = serializers.ChoiceField(
        choices=UnsubReason.choices, allow_blank=True, read_only=True, help_text="Empty while subscribed."
    )
    revenue_total = serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = ListContact
        fields = [
            "contact",
            "sending_list",
            "status",
            "active",
            "unsub_reason",
            "signup_method",
            "subscribed_at",
            "opted_out_at",
            "custom_fields",
            "send_count",
            "click_count",
            "conversion_count",
            "revenue_total",
            "last_sent_at",
            "last_clicked_at",
            "last_revenue_at",
            "in_workflow",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, membership):
        # Built directly: a list page renders 50 of these (equal to the declared fields' output,
        # see tests/api/test_representations.py).
        contact = membership.contact
        return {
            "contact": {
                "id": contact.pk,
                "uuid": str(contact.uuid),
                "phone_number": contact.phone_number,
                "email": contact.email,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "blocked": contact.blocked,
                "tags": tag_names(contact.tags.all()),
            },
            "sending_list": membership.sending_list_id,
            "status": membership.status.value,
            "active": membership.active,
            "unsub_reason": membership.unsub_reason,
            "signup_method": membership.signup_method,
            "subscribed_at": datetime_value(membership.subscribed_at),
            "opted_out_at": datetime_value(membership.opted_out_at),
            "custom_fields": membership.custom_fields,
            "send_count": membership.send_count,
            "click_count": membership.click_count,
            "conversion_count": membership.conversion_count,
            "revenue_total": float(membership.revenue_total),
            "last_sent_at": datetime_value(membership.last_sent_at),
            "last_clicked_at": datetime_value(membership.last_clicked_at),
            "last_revenue_at": datetime_value(membership.last_revenue_at),
            "in_workflow": membership.in_workflow,
            "created_at": datetime_value(membership.created_at),
            "updated_at": datetime_value(membership.updated_at),
        }


class SubscribeSerializer(serializers.Serializer):
    """Subscribe a contact (by phone, upserted; or by existing contact id) with signup method `api`."""

    phone_number = PhoneNumberField(required=False)
    contact_id = serializers.IntegerField(
        required=False, help_text="An existing contact, instead of phone_number."
    )
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    carrier = serializers.CharField(required=False, allow_blank=True, max_length=100)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    custom_fields = CustomFieldValuesField(required=False)

    def validate(self, attrs):
        if ("phone_number" in attrs) == ("contact_id" in attrs):
            raise serializers.ValidationError("Give either phone_number or contact_id (exactly one).")
        return attrs


class SubscribeResultSerializer(SubscriptionOutcomeSerializer):
    membership = MembershipSerializer(allow_null=True)


class MembershipUpdateSerializer(serializers.Serializer):
    custom_fields = CustomFieldValuesField()
    replace = serializers.BooleanField(
        default=False, help_text="Replace all values instead of merging (merging never blanks a value)."
    )


class UnsubscribeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class UnsubscribeResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when the membership was already unsubscribed.")
    reason = serializers.CharField(allow_blank=True)
    membership = MembershipSerializer()
