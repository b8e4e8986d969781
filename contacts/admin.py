"""Admin for contacts, and the building blocks every admin of a large table uses.

The Contact admin itself is registered in `sendinglists.admin`: blocking, deleting and the
memberships inline are subscription services, and `contacts` must not import `sendinglists`.
Here live the parts that depend only on `contacts`: the paginator that never counts a whole
table, the search (the pages' one rule), the contact form (phone in any format, at most five tags)
and the channels inline.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from import_export.admin import ExportActionMixin

from contacts.choices import ChannelKind
from contacts.models import Contact, ContactChannel, Tag
from contacts.resources import EXPORT_FORMATS
from contacts.selectors import (
    NUMBER_HELD_MESSAGE,
    SearchKind,
    contact_search,
    number_held_params,
    number_holder,
)
from contacts.services import (
    contact_channel_add,
    contact_channel_remove,
    contact_tags_check,
    phone_or_error,
)

# --- large tables ---------------------------------------------------------------------------------


class LargeTablePaginator(Paginator):
    """Counts at most `count_limit` rows, so a changelist never scans a million rows to count them.

    Past the limit, an unfiltered PostgreSQL table reports the planner's estimate
    (`pg_class.reltuples`) and anything else reports the limit; the pagination template then says
    "about N" or "N+" instead of an exact number.
    """

    count_limit = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        # A count over a LIMITed subquery: bounded work whatever the table size.
        capped = queryset.order_by()[: self.count_limit + 1].count()
        if capped <= self.count_limit:
            return capped
        estimate = self._estimate(queryset)
        if estimate is not None and estimate > self.count_limit:
            self.count_is_estimate = True
            return estimate
        self.count_is_capped = True
        return self.count_limit

    count_is_estimate = False
    count_is_capped = False

    @staticmethod
    def _estimate(queryset: QuerySet) -> int | None:
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or queryset.query.where:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        return row[0] if row and row[0] and row[0] > 0 else None


class LargeTableAdmin(admin.ModelAdmin):
    """Defaults for a table that may hold millions of rows: no full counts, no facet counts."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200


class ReadOnlyAdminMixin:
    """History and engagement rows are evidence: nobody adds, edits or deletes them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- search ---------------------------------------------------------------------------------------


def contact_search_results(queryset: QuerySet, term: str, *, through_contact: bool = False) -> QuerySet:
    """`queryset` narrowed by the search box's one rule (`contacts.selectors.contact_search`).

    A phone number in any format, an email, or a name prefix; in the admin, digits that are not a
    phone number are a contact id. With `through_contact` (memberships, events, messages) the
    matching contacts are found first, on the contact table's own indexes, and rows are then
    matched by `contact_id`: a join with an OR across two tables would scan the big one.
    """
    search = contact_search(term)
    if search is None:
        return queryset
    condition = search.condition
    if search.kind == SearchKind.NAME and term.strip().isdigit() and len(term.strip()) <= 18:
        condition = Q(pk=int(term.strip()))
    if through_contact:
        return queryset.filter(contact__in=Contact.objects.filter(condition).values("pk"))
    return queryset.filter(condition)


# --- tags -----------------------------------------------------------------------------------------


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    ordering = ("name",)


# --- contact form and channels --------------------------------------------------------------------


def number_held_error(phone_number: str, *, contact_id: int | None, channel: bool = False) -> str:
    """Why the form of contact `contact_id` (None on the add page) cannot take `phone_number` as its
    phone, or with `channel` as a new phone channel ("" when it can): the contact already holding
    it, named, with links to its page and, from a saved contact, to the merge preview of the two
    (this contact stays; the preview can swap them). Staff pages only: the API words the refusal
    for the token (`sendinglists.api.errors`)."""
    row = number_holder(phone_number, except_contact_id=None if channel else contact_id)
    if row is None:
        return ""
    text = NUMBER_HELD_MESSAGE % number_held_params(row)
    return _holder_links(text, holder_id=row.contact_id, contact_id=contact_id)


def _holder_links(text: str, *, holder_id: int, contact_id: int | None) -> str:
    """`text` with links to the holding contact's page and, from a saved contact, to the merge
    preview of the two (this contact stays; the preview can swap them)."""
    if holder_id == contact_id:
        return text  # this contact's own
    holder_url = reverse("contact_pages:detail", args=[holder_id])
    if contact_id is None:
        return format_html('{} <a href="{}">Open contact #{}</a>', text, holder_url, holder_id)
    merge_url = f"{reverse('contact_pages:merge', args=[contact_id])}?duplicate={holder_id}"
    return format_html(
        '{} <a href="{}">Open contact #{}</a> · <a href="{}">Merge them…</a>',
        text,
        holder_url,
        holder_id,
        merge_url,
    )


class ContactAdminForm(forms.ModelForm):
    # Wider than the stored E.164 value: people type "+1 (415) 555-1234".
    phone_number = forms.CharField(
        max_length=64, help_text="Any format: +14155551234, 14155551234, (415) 555-1234 (US)."
    )

    class Meta:
        model = Contact
        fields = ("phone_number", "email", "first_name", "last_name", "timezone", "carrier", "tags")

    def clean_phone_number(self) -> str:
        try:
            phone = phone_or_error(self.cleaned_data["phone_number"]).e164
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone_number"]) from None
        # Another contact's phone or a phone channel (of any contact, this one's too), named.
        if problem := number_held_error(phone, contact_id=self.instance.pk):
            raise ValidationError(problem)
        return phone

    def clean_tags(self):
        tags = self.cleaned_data.get("tags")
        if tags is None:
            return tags
        try:
            contact_tags_check(names=[tag.name for tag in tags])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["tags"]) from None
        return tags


class ContactChannelForm(forms.ModelForm):
    class Meta:
        model = ContactChannel
        fields = ("kind", "value")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # A channel is replaced (delete + add), never edited in place.
            for field in self.fields.values():
                field.disabled = True

    def clean(self):
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if self.instance.pk or not kind or not value:
            return cleaned
        if kind == ChannelKind.PHONE:
            try:
                cleaned["value"] = phone_or_error(value, field="value").e164
            except ValidationError as exc:
                raise ValidationError(exc.message_dict) from None
            # A number is one contact's phone or one contact's channel, never both. The inline's
            # `contact` is the contact form's instance, with the phone this save gives it (not saved).
            contact = cleaned.get("contact")
            if contact is not None and cleaned["value"] == contact.phone_number:
                self.add_error("value", "This is the contact's phone number: a channel is another number.")
            elif problem := number_held_error(
                cleaned["value"], contact_id=self.instance.contact_id, channel=True
            ):
                self.add_error("value", problem)
        else:
            cleaned["value"] = forms.EmailField().clean(value).lower()
            holder = (
                ContactChannel.objects.filter(kind=ChannelKind.EMAIL, value=cleaned["value"])
                .values_list("contact_id", flat=True)
                .first()
            )
            if holder is not None:
                self.add_error(
                    "value",
                    _holder_links(
                        f"{cleaned['value']} is already an email channel of contact #{holder}.",
                        holder_id=holder,
                        contact_id=self.instance.contact_id,
                    ),
                )
        return cleaned


class ContactChannelInline(admin.TabularInline):
    model = ContactChannel
    form = ContactChannelForm
    extra = 0
    verbose_name_plural = "Other channels (phones and emails)"


def channels_formset_save(formset, contact: Contact, *, channel_add=contact_channel_add) -> None:
    """Save the channels inline through the services (normalized values, one owner per value);
    `channel_add` is the service that adds one (the consent-checking one, from `sendinglists`)."""
    formset.save(commit=False)
    for channel in formset.deleted_objects:
        contact_channel_remove(contact=contact, channel_id=channel.pk)
    for channel in formset.new_objects:
        channel_add(contact=contact, kind=channel.kind, value=channel.value)


# --- exports --------------------------------------------------------------------------------------


class FormulaSafeExportMixin(ExportActionMixin):
    """django-import-export's export (button and action) in spreadsheet-safe text formats only."""

    export_formats = EXPORT_FORMATS
    # The admin builds the file in memory; larger exports belong to the streaming CSV export pages.
    max_export_rows = 50_000

    def get_export_data(self, file_format, request, queryset, **kwargs):
        if queryset.order_by()[: self.max_export_rows + 1].count() > self.max_export_rows:
            # export_action shows a ValueError as an error message above the form.
            raise ValueError(
                f"This export has more than {self.max_export_rows:,} rows. Narrow it with the filters or "
                "a search, or use the sending list's CSV export, which streams any size."
            )
        return super().get_export_data(file_format, request, queryset, **kwargs)

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_valid_export_item_pks(self, request):
        # The library's default lists every primary key of the table to validate the posted ones;
        # only the posted ones need checking.
        posted = [value for value in request.POST.getlist("export_items") if value.isdigit()]
        return self.get_queryset(request).filter(pk__in=posted).values_list("pk", flat=True)
