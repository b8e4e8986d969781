from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.serializers import (
    PhoneNumberField,
    TagNamesField,
    datetime_formatter,
    sorted_tag_names,
    tag_names,
)
from contacts.api.strict import StrictKeysMixin
from contacts.models import Contact
from sendinglists.api.fields import (
    CONTACT_STATUS_HELP,
    CustomFieldValuesField,
    SubscriptionOutcomeSerializer,
    WithheldFieldsField,
    withhold_personal_fields,
)
from sendinglists.choices import (
    ContactStatus,
    MembershipStatus,
    SignupMethod,
    UnsubReason,
    contact_status_from,
    status_from,
)
from sendinglists.subscriptions.models import (
    MEMBERSHIP_ENGAGEMENT_FIELDS,
    MEMBERSHIP_SUBSCRIPTION_FIELDS,
    ListContact,
)


class MembershipContactSerializer(serializers.ModelSerializer):
    tags = TagNamesField(read_only=True)
    status = serializers.SerializerMethodField(help_text=CONTACT_STATUS_HELP)
    withheld_fields = WithheldFieldsField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "uuid",
            "phone_number",
            "email",
            "first_name",
            "last_name",
            "blocked",
            "tags",
            "status",
            "withheld_fields",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ContactStatus.choices))
    def get_status(self, contact) -> str:
        # The declared output (the schema; the fast path is membership_data): over every list.
        return contact_status_from(
            blocked=contact.blocked,
            memberships_active=ListContact.objects.filter(contact=contact).values_list("active", flat=True),
        ).value


class MembershipStatusFields(serializers.Serializer):
    """A membership's status as a person reads it, and its opt-out reason (declared once for every
    serializer that shows a membership)."""

    status = serializers.ChoiceField(
        choices=MembershipStatus.choices,
        source="display_status",
        read_only=True,
        help_text="blocked while the contact is blocked (whatever `active` and `unsub_reason` say).",
    )
    unsub_reason = serializers.ChoiceField(
        choices=UnsubReason.choices, allow_blank=True, read_only=True, help_text="Empty while subscribed."
    )


class MembershipSerializer(MembershipStatusFields, serializers.ModelSerializer):
    """A contact's membership of a list: status, custom fields and engagement counters. The view
    annotates `contact_fields_withheld` (permissions.contact_held_outside_scope on "contact_id")."""

    contact = MembershipContactSerializer(read_only=True)
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
            *MEMBERSHIP_SUBSCRIPTION_FIELDS,
            "custom_fields",
            *MEMBERSHIP_ENGAGEMENT_FIELDS,
            "in_workflow",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, membership):
        return membership_data(
            membership_row(membership), tag_names(membership.contact.tags.all()), datetime_formatter()
        )


# What membership_data reads: the membership's columns and its contact's (through the join), as
# `ListContact.objects.values()` names them. A list page reads exactly these, as dicts: building
# model instances costs more than the query.
MEMBERSHIP_FIELDS = (
    "id",
    "contact_id",
    "sending_list_id",
    "active",
    *MEMBERSHIP_SUBSCRIPTION_FIELDS,
    "custom_fields",
    *MEMBERSHIP_ENGAGEMENT_FIELDS,
    "in_workflow",
    "created_at",
    "updated_at",
)
MEMBERSHIP_CONTACT_FIELDS = ("uuid", "phone_number", "email", "first_name", "last_name", "blocked")
# The annotations a view puts on its membership queryset (the fast list path reads them as columns):
# subscriptions.api.views.with_contact_fields_withheld.
CONTACT_FIELDS_WITHHELD = "contact_fields_withheld"
CONTACT_SUBSCRIBED_IN_SCOPE = "contact_subscribed_in_scope"
MEMBERSHIP_ROW_FIELDS = (
    *MEMBERSHIP_FIELDS,
    *(f"contact__{name}" for name in MEMBERSHIP_CONTACT_FIELDS),
    CONTACT_FIELDS_WITHHELD,
    CONTACT_SUBSCRIBED_IN_SCOPE,
)


def membership_row(membership: ListContact) -> dict:
    """A loaded membership (and its contact) as the row membership_data reads. Without the view's
    annotation nothing is withheld: only views serve list-scoped tokens."""
    contact = membership.contact
    row = {name: getattr(membership, name) for name in MEMBERSHIP_FIELDS}
    row.update({f"contact__{name}": getattr(contact, name) for name in MEMBERSHIP_CONTACT_FIELDS})
    row[CONTACT_FIELDS_WITHHELD] = getattr(membership, CONTACT_FIELDS_WITHHELD, False)
    subscribed = getattr(membership, CONTACT_SUBSCRIBED_IN_SCOPE, None)
    if subscribed is None:  # not annotated: over every list, like the declared output
        subscribed = ListContact.objects.filter(contact_id=membership.contact_id, active=True).exists()
    row[CONTACT_SUBSCRIBED_IN_SCOPE] = subscribed
    return row


def membership_data(row: dict, tags: list[str], format_datetime) -> dict:
    """MembershipSerializer's output, built directly from a row of MEMBERSHIP_ROW_FIELDS: a list
    page renders 50 of these (equal to the declared fields' output, see
    tests/api/test_representations.py). `tags` are sorted; `format_datetime` is a datetime_formatter()."""
    contact = {
        "id": row["contact_id"],
        "uuid": str(row["contact__uuid"]),
        "phone_number": row["contact__phone_number"],
        "email": row["contact__email"],
        "first_name": row["contact__first_name"],
        "last_name": row["contact__last_name"],
        "blocked": row["contact__blocked"],
        "tags": tags,
        # The membership is on one of the token's lists: the contact is subscribed or unsubscribed
        # as the token sees it, never "active" (on none of them).
        "status": contact_status_from(
            blocked=row["contact__blocked"], memberships_active=[row[CONTACT_SUBSCRIBED_IN_SCOPE]]
        ).value,
    }
    return {
        "contact": withhold_personal_fields(contact, withheld=row[CONTACT_FIELDS_WITHHELD]),
        "sending_list": row["sending_list_id"],
        "status": status_from(
            active=row["active"], unsub_reason=row["unsub_reason"], blocked=row["contact__blocked"]
        ).value,
        "active": row["active"],
        "unsub_reason": row["unsub_reason"],
        "signup_method": row["signup_method"],
        "subscribed_at": format_datetime(row["subscribed_at"]),
        "opted_out_at": format_datetime(row["opted_out_at"]),
        "custom_fields": row["custom_fields"],
        "send_count": row["send_count"],
        "click_count": row["click_count"],
        "conversion_count": row["conversion_count"],
        "revenue_total": float(row["revenue_total"]),
        "last_sent_at": format_datetime(row["last_sent_at"]),
        "last_clicked_at": format_datetime(row["last_clicked_at"]),
        "last_revenue_at": format_datetime(row["last_revenue_at"]),
        "in_workflow": row["in_workflow"],
        "created_at": format_datetime(row["created_at"]),
        "updated_at": format_datetime(row["updated_at"]),
    }


def memberships_data(rows: list[dict], tags_by_contact: dict[int, list[str]]) -> list[dict]:
    """A page of MEMBERSHIP_ROW_FIELDS rows as MembershipSerializer(many=True) renders them;
    `tags_by_contact` maps contact ids to tag names (contacts.selectors.contact_tag_names)."""
    format_datetime = datetime_formatter()
    return [
        membership_data(row, sorted_tag_names(tags_by_contact.get(row["contact_id"], ())), format_datetime)
        for row in rows
    ]


SIGNUP_METHOD_HELP = (
    "How the contact subscribed (recorded on the membership and its SUBSCRIBED event): "
    "api (the default), import, journey, inbound or manual. Anything else is a 400. It applies to a "
    "new membership only: an existing one keeps the method it was created with."
)


def signup_method_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=SignupMethod.choices, default=SignupMethod.API, help_text=SIGNUP_METHOD_HELP
    )


class SubscribeSerializer(StrictKeysMixin, serializers.Serializer):
    """Subscribe a contact (by phone, upserted; or by existing contact id) with its signup method."""

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
    signup_method = signup_method_field()

    def validate(self, attrs):
        if ("phone_number" in attrs) == ("contact_id" in attrs):
            raise serializers.ValidationError("Give either phone_number or contact_id (exactly one).")
        return attrs


class SubscribeResultSerializer(SubscriptionOutcomeSerializer):
    membership = MembershipSerializer(allow_null=True)


class MembershipUpdateSerializer(StrictKeysMixin, serializers.Serializer):
    custom_fields = CustomFieldValuesField()
    replace = serializers.BooleanField(
        default=False, help_text="Replace all values instead of merging (merging never blanks a value)."
    )


class UnsubscribeSerializer(StrictKeysMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class UnsubscribeResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when the membership was already unsubscribed.")
    reason = serializers.CharField(allow_blank=True)
    membership = MembershipSerializer()
