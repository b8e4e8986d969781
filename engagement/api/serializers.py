from rest_framework import serializers

from contacts.api.strict import StrictKeysMixin
from sendinglists.subscriptions.api.serializers import MembershipSerializer


class RecordSendSerializer(StrictKeysMixin, serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, max_length=1600)
    provider_message_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The provider's id of the message: a retry with the same id counts once.",
    )
    sent_at = serializers.DateTimeField(required=False, help_text="Default: now.")


class RecordClickSerializer(StrictKeysMixin, serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="The http(s) URL clicked.")
    clicked_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    provider_message_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="The message the link was in, if known."
    )


class RecordConversionSerializer(StrictKeysMixin, serializers.Serializer):
    order_id = serializers.CharField(
        max_length=100, help_text="Unique per sending list: a retried conversion counts once."
    )
    revenue = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, coerce_to_string=False, help_text="Money, 2 decimals."
    )
    converted_at = serializers.DateTimeField(required=False, help_text="Default: now.")
    provider_message_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="The message that led to it, if known."
    )


class WorkflowSerializer(StrictKeysMixin, serializers.Serializer):
    in_workflow = serializers.BooleanField(help_text="True: the member entered a journey; false: it left.")


class SentMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider_message_id = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    sent_at = serializers.DateTimeField()


class RecordSendResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: this provider_message_id was already recorded.")
    message = SentMessageSerializer()
    membership = MembershipSerializer()


class ClickSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    clicked_at = serializers.DateTimeField()


class RecordClickResultSerializer(serializers.Serializer):
    click = ClickSerializer()
    membership = MembershipSerializer()


class ConversionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=False)
    converted_at = serializers.DateTimeField()


class RecordConversionResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False: the order was already recorded; nothing counted.")
    conversion = ConversionSerializer()
    membership = MembershipSerializer()


class WorkflowResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    membership = MembershipSerializer()
