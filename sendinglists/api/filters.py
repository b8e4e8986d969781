"""Filters for contacts and memberships (django-filter). Every filter is an indexed lookup or an
EXISTS on the membership table's (sending_list, contact) index; none counts or scans a whole table."""

import copy
import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from contacts.jsonsafe import json_loads_bounded
from contacts.models import Contact, Tag
from contacts.phones import DEFAULT_REGION, normalize_phone
from contacts.selectors import SearchKind, contact_search, tag_named
from sendinglists.api.parsers import NUL_MESSAGE, nul_path
from sendinglists.api.permissions import allowed_list_ids, list_is_allowed, without_withheld_contacts
from sendinglists.choices import MembershipStatus, SignupMethod, UnsubReason
from sendinglists.models import CustomField, ListContact, SendingList
from sendinglists.selectors import ListContactFilters, custom_fields_equal, list_contacts
from sendinglists.services import clean_custom_fields


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)  # a larger id cannot exist (and overflows SQLite)
        super().__init__(*args, **kwargs)


MAX_FORM_CLASSES = 256  # per FilterSet: queries name few combinations of filters; odd ones start over


class ApiFilterSet(django_filters.FilterSet):
    """A FilterSet that does per request only what differs per request.

    django-filter deep-copies every filter (with its choices and arguments) and builds a new form
    class (a form field per filter) on every request. Filters here take no per-request choices or
    querysets: each request gets shallow copies that point at it (their `parent`, which a
    `method=` filter calls), and its form holds only the filters the query names, from a class
    built once per set of names (form fields are templates that every form instance deep-copies).
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, template in self.base_filters.items():
            filter_ = copy.copy(template)
            if template.method is not None:
                filter_.method = template.method  # a FilterMethod bound to this copy, not the template
            filter_.model = queryset.model
            filter_.parent = self
            self.filters[name] = filter_

    def get_form_class(self):
        """A form of just the filters the query names (the others hold no value), built once per
        set of names: every form instance deep-copies and cleans each of its fields."""
        names = tuple(name for name in self.filters if name in self.data)
        filterset_class = type(self)
        form_classes = filterset_class.__dict__.get("_api_form_classes")
        if form_classes is None or len(form_classes) > MAX_FORM_CLASSES:
            form_classes = filterset_class._api_form_classes = {}
        form_class = form_classes.get(names)
        if form_class is None:
            fields = {name: self.filters[name].field for name in names}
            form_class = type(f"{filterset_class.__name__}Form", (self._meta.form,), fields)
            form_classes[names] = form_class
        return form_class


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 in, converted to UTC: PostgreSQL refuses UTC offsets beyond ±15:59, which ISO 8601
    allows (such a value was a 500)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and value.tzinfo is not None:
            try:
                return value.astimezone(dt.UTC)
            except OverflowError:
                raise forms.ValidationError("Out of range once converted to UTC.", code="invalid") from None
        return value


class SinceFilter(django_filters.IsoDateTimeFilter):
    """Rows whose `field_name` is at or after an ISO 8601 date-time (any UTC offset)."""

    field_class = UtcIsoDateTimeField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


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


def _custom_fields_value(raw: str, sending_list: SendingList | int) -> dict:
    try:
        values = json_loads_bounded(raw)
    except ValueError:
        values = None
    if nul_path(values):
        raise ValidationError({"custom_fields": NUL_MESSAGE})
    if not isinstance(values, dict) or not values:
        raise ValidationError(
            {"custom_fields": 'Expected a JSON object of field key (or id) to value, e.g. {"plan": "pro"}.'}
        )
    return clean_custom_fields(sending_list=sending_list, values=values)


def _tag_filters(value: str) -> dict:
    tag = Tag.objects.filter(tag_named([value.strip()])).first()
    return {"tag": tag, "tag_missing": tag is None}


class ContactFilter(ApiFilterSet):
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
    created_since = SinceFilter(field_name="created_at")
    updated_since = SinceFilter(field_name="updated_at")
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
        queryset = queryset.filter(Exact(Lower("email"), value.strip().lower()))
        return without_withheld_contacts(queryset, self.request)

    def filter_tag(self, queryset, name, value):
        through = Contact.tags.through
        queryset = queryset.filter(
            Exists(
                through.objects.filter(tag_named([value.strip()], path="tag__"), contact_id=OuterRef("pk"))
            )
        )
        return without_withheld_contacts(queryset, self.request)

    def filter_search(self, queryset, name, value):
        search = contact_search(value, region=DEFAULT_REGION)
        if search is None:
            return queryset
        queryset = queryset.filter(search.condition)
        # The phone number is never withheld; an email or a name is.
        return (
            queryset if search.kind == SearchKind.PHONE else without_withheld_contacts(queryset, self.request)
        )

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
            membership_filter = membership_filter.filter(
                custom_fields_equal(_custom_fields_value(data["custom_fields"], sending_list))
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


class MembershipFilter(ApiFilterSet):
    """The Contacts tab's filters (sendinglists.selectors.list_contacts), plus phone, email and dates."""

    status = django_filters.ChoiceFilter(choices=MembershipStatus.choices, method="filter_noop")
    unsub_reason = django_filters.ChoiceFilter(choices=UnsubReason.choices, method="filter_noop")
    signup_method = django_filters.ChoiceFilter(choices=SignupMethod.choices, method="filter_noop")
    in_workflow = django_filters.BooleanFilter(method="filter_noop")
    tag = django_filters.CharFilter(
        method="filter_noop", help_text="The contact has this tag (case-insensitive)."
    )
    custom_fields = django_filters.CharFilter(
        method="filter_noop",
        help_text='A JSON object the custom fields must contain, keyed by field key or id, e.g. {"plan": "pro"}.',
    )
    search = django_filters.CharFilter(
        method="filter_noop", help_text="A phone number, an email or a name prefix."
    )
    phone = django_filters.CharFilter(method="filter_phone", help_text="A phone number in any format.")
    email = django_filters.CharFilter(method="filter_email", help_text="Exact email, case-insensitive.")
    created_since = SinceFilter(field_name="created_at")
    updated_since = SinceFilter(field_name="updated_at")
    subscribed_since = SinceFilter(field_name="subscribed_at")

    class Meta:
        model = ListContact
        fields: list[str] = []

    @property
    def sending_list(self) -> SendingList:
        return self.request.parser_context["view"].sending_list

    def filter_noop(self, queryset, name, value):
        return queryset  # the Contacts tab's filters, applied together by list_contacts

    def filter_phone(self, queryset, name, value):
        return queryset.filter(contact__phone_number=_phone(value, self.sending_list.default_region))

    def filter_email(self, queryset, name, value):
        queryset = queryset.filter(Exact(Lower("contact__email"), value.strip().lower()))
        return without_withheld_contacts(queryset, self.request, "contact_id")

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        # Only a search needs the list itself (its region); the rest needs its id. A list that does
        # not exist shows as an empty page, which the view answers with a 404.
        list_id = self.request.parser_context["view"].list_id
        custom_fields = {}
        if data.get("custom_fields"):
            try:
                custom_fields = _custom_fields_value(data["custom_fields"], list_id)
            except ValidationError:
                self.sending_list  # noqa: B018 - a missing list is a 404 before a bad field is a 400
                raise
        search = (
            contact_search(data["search"], region=self.sending_list.default_region, path="contact__")
            if data.get("search")
            else None
        )
        if data.get("tag") or (search is not None and search.kind != SearchKind.PHONE):
            # A filter on a field withheld from the token (permissions.WITHHELD_FIELDS).
            queryset = without_withheld_contacts(queryset, self.request, "contact_id")
        filters = ListContactFilters(
            search=search,
            status=data.get("status") or "",
            unsub_reason=data.get("unsub_reason") or "",
            signup_method=data.get("signup_method") or "",
            in_workflow=data.get("in_workflow"),
            custom_fields=custom_fields,
            **(_tag_filters(data["tag"]) if data.get("tag") else {}),
        )
        # The view's queryset says what to load with each row; list_contacts says which rows.
        queryset = queryset & list_contacts(sending_list=list_id, filters=filters)
        return super().filter_queryset(queryset)


class CustomFieldFilter(ApiFilterSet):
    sending_list = IdFilter(field_name="sending_list_id", help_text="Fields of this sending list.")

    class Meta:
        model = CustomField
        fields: list[str] = []
