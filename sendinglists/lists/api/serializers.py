from rest_framework import serializers

from contacts.api.serializers import (
    PhoneNumberField,
)
from contacts.api.strict import StrictKeysMixin
from sendinglists.choices import MembershipStatus
from sendinglists.lists.models import CustomField, SendingList


class SendingListSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """A sender number; `counts` are members per status (maintained counts, never a COUNT(*)), the
    members of blocked contacts under `blocked`."""

    phone_number = PhoneNumberField(help_text="The sender number, any format; returned in E.164.")
    counts = serializers.SerializerMethodField()

    class Meta:
        model = SendingList
        fields = ["id", "phone_number", "name", "default_region", "help_text", "created_at", "counts"]
        read_only_fields = ["id", "created_at", "counts"]

    def get_counts(self, sending_list) -> dict[str, int]:
        return self.context.get("counts", {}).get(sending_list.pk, dict.fromkeys(MembershipStatus.values, 0))


class CustomFieldSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """A custom field of a sending list (seed 001's contact-fields): values are keyed by `key` or `id`.
    It is created under its list (POST /lists/{list_id}/contact-fields), which names `sending_list`."""

    sending_list = serializers.PrimaryKeyRelatedField(read_only=True)
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
