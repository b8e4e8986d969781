import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.db.models.lookups import Exact

from contacts.models import Contact
from contacts.phones import DEFAULT_REGION
from contacts.selectors import SearchKind, contact_search, holds_number, tag_named
from contacts.services import phone_or_error
from sendinglists.api.filters import ApiFilterSet, IdFilter, SinceFilter, custom_fields_value
from sendinglists.api.permissions import (
    allowed_list_ids,
    list_is_allowed,
    without_withheld_channel_match,
    without_withheld_contacts,
)
from sendinglists.choices import SignupMethod, UnsubReason
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.selectors import custom_fields_equal

CONTACT_STATUS_CHOICES = [
    ("subscribed", "Subscribed to at least one list"),
    ("unsubscribed", "On lists, subscribed to none"),
    ("blocked", "Blocked: never messaged"),
    ("active", "Not blocked and on no list"),
]


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
        # The contact holding the number as its primary phone or as a phone channel.
        e164 = phone_or_error(value, region=DEFAULT_REGION, field="phone").e164
        return without_withheld_channel_match(queryset.filter(holds_number(e164)), self.request, e164)

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
        # The primary phone is never withheld; a channel, an email or a name is.
        if search.kind == SearchKind.PHONE:
            return without_withheld_channel_match(queryset, self.request, search.term)
        return without_withheld_contacts(queryset, self.request)

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
                custom_fields_equal(custom_fields_value(data["custom_fields"], sending_list))
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


class ContactSearchFilter(ContactFilter):
    """GET …/contact/search?q=: the contacts filters, with `q` for `search` (seed 001's "search")."""

    q = django_filters.CharFilter(
        method="filter_search",
        required=True,
        help_text="A phone number (any format), an email or a name prefix.",
    )

    class Meta(ContactFilter.Meta):
        pass
