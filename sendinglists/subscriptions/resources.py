"""Export of memberships from the admin (export only), formula-safe like every export."""

import json

from import_export import fields

from contacts.resources import FormulaSafeResource
from sendinglists.subscriptions.models import (
    MEMBERSHIP_ENGAGEMENT_FIELDS,
    MEMBERSHIP_SUBSCRIPTION_FIELDS,
    ListContact,
)

MEMBERSHIP_EXPORT_FIELDS = (
    "id",
    "sending_list",
    "sender",
    "contact_id",
    "phone_number",
    "email",
    "first_name",
    "last_name",
    "status",
    *MEMBERSHIP_SUBSCRIPTION_FIELDS,
    "custom_fields",
    *MEMBERSHIP_ENGAGEMENT_FIELDS,
    "in_workflow",
)


class MembershipResource(FormulaSafeResource):
    sending_list = fields.Field(attribute="sending_list__name", column_name="sending_list")
    sender = fields.Field(attribute="sending_list__phone_number", column_name="sender")
    contact_id = fields.Field(attribute="contact_id", column_name="contact_id")
    phone_number = fields.Field(attribute="contact__phone_number", column_name="phone_number")
    email = fields.Field(attribute="contact__email", column_name="email")
    first_name = fields.Field(attribute="contact__first_name", column_name="first_name")
    last_name = fields.Field(attribute="contact__last_name", column_name="last_name")
    status = fields.Field(attribute="status_label", column_name="status")
    custom_fields = fields.Field(column_name="custom_fields")

    class Meta:
        model = ListContact
        name = "Memberships"
        fields = MEMBERSHIP_EXPORT_FIELDS
        export_order = MEMBERSHIP_EXPORT_FIELDS
        chunk_size = 2000

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("contact", "sending_list")

    def dehydrate_custom_fields(self, membership: ListContact) -> str:
        if not membership.custom_fields:
            return ""
        return json.dumps(membership.custom_fields, sort_keys=True, ensure_ascii=False)
