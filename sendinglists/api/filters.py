"""Filters for contacts and memberships (django-filter). Every filter is an indexed lookup or an
EXISTS on the membership table's (sending_list, contact) index; none counts or scans a whole table."""

import json

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from contacts.models import Contact
from contacts.phones import DEFAULT_REGION, normalize_phone
from sendinglists.api.permissions import allowed_list_ids, list_is_allowed
from sendinglists.choices import MembershipStatus, SignupMethod, UnsubReason, status_filter_kwargs
from sendinglists.models import CustomField, ListContact, SendingList
from sendinglists.services import clean_custom_fields


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


CONTACT_STATUS_CHOICES = [
    ("subscribed", "Subscribed to at least one list"),
    ("unsubscribed", "On lists, subscribed to none"),
    ("blocked", "Blocked: never messaged"),
    ("active", "Not blocked and on no list"),
]


def _phone(value: str, region: str, field: str = "phone") -> str:
    result = normalize_phone(value, region)
    if not result.is_valid:
        raise ValidationError({field: f"{value[:40]} is not a valid phone number: {result.error}."})
    return result.e164


def _custom_fields_value(raw: str, sending_list: SendingList) -> dict:
    try:
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not values:
        raise ValidationError(
            {"custom_fields": 'Expected a JSON object of field key (or id) to value, e.g. {"plan": "pro"}.'}
        )
    return clean_custom_fields(sending_list=sending_list, values=values)


def custom_fields_equal(queryset, cleaned: dict, prefix: str = ""):
    """Rows whose custom fields contain `cleaned` (typed values)."""
    if connection.vendor == "postgresql":
        # jsonb containment (@>), served by a GIN index on custom_fields where one exists.
        return queryset.filter(**{f"{prefix}custom_fields__contains": cleaned})
    for key, value in cleaned.items():  # SQLite has no containment lookup; key paths are equivalent
        queryset = queryset.filter(**{f"{prefix}custom_fields__{key}": value})
    return queryset


def _search(queryset, value: str, region: str, prefix: str = ""):
    value = value.strip()
    if not value:
        return queryset
    phone = normalize_phone(value, region)
    if phone.is_valid:
        return queryset.filter(**{f"{prefix}phone_number": phone.e164})
    if "@" in value:
        return queryset.alias(_email_lower=Lower(f"{prefix}email")).filter(_email_lower=value.lower())
    # Uses index: contact_first_name_lower / contact_name_lower (prefix match)
    return queryset.alias(
        _first_lower=Lower(f"{prefix}first_name"), _last_lower=Lower(f"{prefix}last_name")
    ).filter(Q(_first_lower__startswith=value.lower()) | Q(_last_lower__startswith=value.lower()))


class ContactFilter(django_filters.FilterSet):
    phone = django_filters.CharFilter(method="filter_phone", help_text="A phone number in any format.")
    email = django_filters.CharFilter(method="filter_email", help_text="Exact email, case-insensitive.")
    list = IdFilter(
        method="filter_noop", help_text="Members of this sending list (also narrows status, reason, method)."
    )
    status = django_filters.ChoiceFilter(choices=CONTACT_STATUS_CHOICES, method="filter_noop")
    unsub_reason = django_filters.ChoiceFilter(
        choices=UnsubReason.choices, method="filter_noop", help_text="Opted out (of `list`) for this reason."
    )
    signup_method = django_filters.ChoiceFilter(
        choices=SignupMethod.choices, method="filter_noop", help_text="Subscribed (to `list`) this way."
    )
    tag = django_filters.CharFilter(method="filter_tag", help_text="Has this tag (case-insensitive).")
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    custom_fields = django_filters.CharFilter(
        method="filter_noop",
        help_text='Needs `list`. A JSON object the membership\'s custom fields must contain, e.g. {"plan": "pro"}.',
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="A phone number, an email or a name prefix."
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_noop(self, queryset, name, value):
        return queryset  # applied together in filter_queryset: they all describe one membership

    def filter_phone(self, queryset, name, value):
        return queryset.filter(phone_number=_phone(value, DEFAULT_REGION))

    def filter_email(self, queryset, name, value):
        # Uses index: contact_email_lower
        return queryset.alias(_email_lower=Lower("email")).filter(_email_lower=value.strip().lower())

    def filter_tag(self, queryset, name, value):
        through = Contact.tags.through
        return queryset.filter(
            Exists(
                through.objects.alias(_name_lower=Lower("tag__name")).filter(
                    contact_id=OuterRef("pk"), _name_lower=value.strip().lower()
                )
            )
        )

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, DEFAULT_REGION)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        list_id = data.get("list")
        sending_list = None
        if list_id is not None:
            sending_list = SendingList.objects.filter(pk=list_id).first()
            if sending_list is None or not list_is_allowed(self.request, list_id):
                raise ValidationError({"list": f"No sending list {list_id}."})
        memberships = ListContact.objects.filter(contact_id=OuterRef("pk"))
        if sending_list is not None:
            memberships = memberships.filter(sending_list=sending_list)
        elif (ids := allowed_list_ids(self.request)) is not None:
            memberships = memberships.filter(sending_list_id__in=ids)
        conditions = {}
        if data.get("unsub_reason"):
            conditions.update(active=False, unsub_reason=data["unsub_reason"])
        if data.get("signup_method"):
            conditions["signup_method"] = data["signup_method"]
        membership_filter = memberships.filter(**conditions)
        if data.get("custom_fields"):
            if sending_list is None:
                raise ValidationError(
                    {"custom_fields": "Filtering by custom fields needs `list` (fields are per list)."}
                )
            membership_filter = custom_fields_equal(
                membership_filter, _custom_fields_value(data["custom_fields"], sending_list)
            )
        if conditions or data.get("custom_fields") or sending_list is not None:
            queryset = queryset.filter(Exists(membership_filter))
        status = data.get("status")
        if status == "blocked":
            queryset = queryset.filter(blocked=True)
        elif status == "subscribed":
            queryset = queryset.filter(Exists(membership_filter.filter(active=True)), blocked=False)
        elif status == "unsubscribed":
            queryset = queryset.filter(
                Exists(membership_filter.filter(active=False)),
                ~Exists(memberships.filter(active=True)),
                blocked=False,
            )
        elif status == "active":
            queryset = queryset.filter(~Exists(memberships), blocked=False)
        return queryset


class MembershipFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=MembershipStatus.choices, method="filter_status")
    unsub_reason = django_filters.ChoiceFilter(choices=UnsubReason.choices, method="filter_unsub_reason")
    signup_method = django_filters.ChoiceFilter(choices=SignupMethod.choices)
    in_workflow = django_filters.BooleanFilter()
    phone = django_filters.CharFilter(method="filter_phone", help_text="A phone number in any format.")
    email = django_filters.CharFilter(method="filter_email", help_text="Exact email, case-insensitive.")
    tag = django_filters.CharFilter(
        method="filter_tag", help_text="The contact has this tag (case-insensitive)."
    )
    created_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    subscribed_since = django_filters.IsoDateTimeFilter(field_name="subscribed_at", lookup_expr="gte")
    custom_fields = django_filters.CharFilter(
        method="filter_custom_fields",
        help_text='A JSON object the custom fields must contain, keyed by field key or id, e.g. {"plan": "pro"}.',
    )
    search = django_filters.CharFilter(
        method="filter_search", help_text="A phone number, an email or a name prefix."
    )

    class Meta:
        model = ListContact
        fields: list[str] = []

    @property
    def sending_list(self) -> SendingList:
        return self.request.parser_context["view"].sending_list

    def filter_status(self, queryset, name, value):
        # Uses index: listcontact_list_status
        return queryset.filter(**status_filter_kwargs(value))

    def filter_unsub_reason(self, queryset, name, value):
        return queryset.filter(active=False, unsub_reason=value)

    def filter_phone(self, queryset, name, value):
        return queryset.filter(contact__phone_number=_phone(value, self.sending_list.default_region))

    def filter_email(self, queryset, name, value):
        return queryset.alias(_email_lower=Lower("contact__email")).filter(_email_lower=value.strip().lower())

    def filter_tag(self, queryset, name, value):
        through = Contact.tags.through
        return queryset.filter(
            Exists(
                through.objects.alias(_name_lower=Lower("tag__name")).filter(
                    contact_id=OuterRef("contact_id"), _name_lower=value.strip().lower()
                )
            )
        )

    def filter_custom_fields(self, queryset, name, value):
        return custom_fields_equal(queryset, _custom_fields_value(value, self.sending_list))

    def filter_search(self, queryset, name, value):
        return _search(queryset, value, self.sending_list.default_region, prefix="contact__")


class CustomFieldFilter(django_filters.FilterSet):
    sending_list = IdFilter(field_name="sending_list_id", help_text="Fields of this sending list.")

    class Meta:
        model = CustomField
        fields: list[str] = []
