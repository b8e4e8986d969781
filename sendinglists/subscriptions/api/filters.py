import django_filters
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.db.models.query import EmptyQuerySet

from contacts.selectors import SearchKind, contact_search, holds_number
from contacts.services import phone_or_error
from sendinglists.api.filters import ApiFilterSet, SinceFilter, custom_fields_value, tag_filters
from sendinglists.api.permissions import without_withheld_channel_match, without_withheld_contacts
from sendinglists.choices import MembershipStatus, SignupMethod, UnsubReason
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.selectors import ListContactFilters, list_contacts


class MembershipFilter(ApiFilterSet):
    """The Contacts tab's filters (sendinglists.subscriptions.selectors.list_contacts), plus phone, email and dates."""

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
        # The member holding the number as its primary phone or as a phone channel.
        phone = phone_or_error(value, region=self.sending_list.default_region, field="phone")
        queryset = queryset.filter(holds_number(phone.e164, path="contact__"))
        return without_withheld_channel_match(queryset, self.request, phone.e164, "contact_id")

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
                custom_fields = custom_fields_value(data["custom_fields"], list_id)
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
        elif search is not None:  # a number: a shared member's channels are withheld too
            queryset = without_withheld_channel_match(queryset, self.request, search.term, "contact_id")
        filters = ListContactFilters(
            search=search,
            status=data.get("status") or "",
            unsub_reason=data.get("unsub_reason") or "",
            signup_method=data.get("signup_method") or "",
            in_workflow=data.get("in_workflow"),
            custom_fields=custom_fields,
            **(tag_filters(data["tag"]) if data.get("tag") else {}),
        )
        # The view's queryset says what to load with each row; list_contacts says which rows.
        # (A selection of nothing is an EmptyQuerySet, which `&` would return without the view's
        # annotations.)
        selected = list_contacts(sending_list=list_id, filters=filters)
        queryset = queryset.none() if isinstance(selected, EmptyQuerySet) else queryset & selected
        return super().filter_queryset(queryset)
