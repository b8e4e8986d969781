from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.html import format_html_join

from contacts.services import phone_or_error, region_or_error
from sendinglists.admin_common import changelist_link
from sendinglists.choices import MembershipStatus
from sendinglists.lists.models import CustomField, ListStatusCount, SendingList
from sendinglists.lists.services import (
    custom_field_check,
    custom_field_create,
    custom_field_room_check,
    sending_list_create,
)
from sendinglists.subscriptions.selectors import list_member_counts

# --- custom fields --------------------------------------------------------------------------------


class CustomFieldForm(forms.ModelForm):
    class Meta:
        model = CustomField
        fields = ("sending_list", "key", "label", "field_type", "choices")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Stored values are keyed and typed by these: changing them would orphan the values.
            for name in ("sending_list", "key", "field_type"):
                if name in self.fields:
                    self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("field_type"):
            try:
                custom_field_check(field_type=cleaned["field_type"], choices=cleaned.get("choices"))
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field, errors)
        # On the custom field's own page; the list page's inline checks its whole formset instead.
        standalone = isinstance(self.fields.get("sending_list"), forms.ModelChoiceField)
        if standalone and self.instance.pk is None and cleaned.get("sending_list"):
            try:
                custom_field_room_check(sending_list=cleaned["sending_list"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class CustomFieldInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """The list's custom field limit, for the fields this save adds and deletes together."""
        super().clean()
        if any(self.errors):
            return
        adding = sum(
            1
            for form in self.forms
            if form.instance.pk is None and form.has_changed() and not self._should_delete_form(form)
        )
        deleting = sum(1 for form in self.deleted_forms if form.instance.pk is not None)
        try:
            custom_field_room_check(sending_list=self.instance, adding=adding - deleting)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


def _custom_field_save(field: CustomField) -> None:
    if field.pk is None:
        created = custom_field_create(
            sending_list=field.sending_list,
            key=field.key,
            label=field.label,
            field_type=field.field_type,
            choices=field.choices,
        )
        field.pk = created.pk
        field._state.adding = False
    else:
        field.save(update_fields=["label", "choices"])


class CustomFieldInline(admin.TabularInline):
    model = CustomField
    form = CustomFieldForm
    formset = CustomFieldInlineFormSet
    extra = 0
    fields = ("key", "label", "field_type", "choices")


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldForm
    list_display = ("key", "label", "field_type", "sending_list", "created_at")
    list_filter = ("sending_list", "field_type")
    list_select_related = ("sending_list",)
    search_fields = ("key", "label")

    def save_model(self, request, obj, form, change):
        _custom_field_save(obj)


# --- sending lists --------------------------------------------------------------------------------


class SendingListForm(forms.ModelForm):
    phone_number = forms.CharField(max_length=64, help_text="The sender number, in any format.")

    class Meta:
        model = SendingList
        fields = (
            "name",
            "phone_number",
            "default_region",
            "help_text",
            "opt_out_keywords",
            "opt_in_keywords",
        )

    def clean_default_region(self) -> str:
        try:
            return region_or_error(self.cleaned_data["default_region"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["region"]) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("phone_number"):
            try:
                cleaned["phone_number"] = phone_or_error(
                    cleaned["phone_number"], region=cleaned.get("default_region") or "US"
                ).e164
            except ValidationError as exc:
                self.add_error("phone_number", exc.message_dict["phone_number"])
        return cleaned


def _count_subquery(status: str | None):
    rows = ListStatusCount.objects.filter(sending_list=OuterRef("pk"))
    if status:
        rows = rows.filter(status=status)
    total = rows.order_by().values("sending_list").annotate(total=Sum("count")).values("total")
    return Coalesce(Subquery(total), 0)


@admin.register(SendingList)
class SendingListAdmin(admin.ModelAdmin):
    form = SendingListForm
    inlines = [CustomFieldInline]
    list_display = ("name", "phone_number", "default_region", "active_members", "members", "created_at")
    search_fields = ("name", "phone_number")
    readonly_fields = ("created_at", "status_counts")

    def get_queryset(self, request):
        # Maintained counts (a handful of delta rows per list), never COUNT(*) over memberships.
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_members=_count_subquery(MembershipStatus.ACTIVE),
                members=_count_subquery(None),
            )
        )

    @admin.display(description="Active", ordering="active_members")
    def active_members(self, sending_list: SendingList) -> int:
        return sending_list.active_members

    @admin.display(description="Members", ordering="members")
    def members(self, sending_list: SendingList) -> int:
        return sending_list.members

    @admin.display(description="Members by status")
    def status_counts(self, sending_list: SendingList) -> str:
        if not sending_list.pk:
            return "-"
        counts = list_member_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
        links = [
            changelist_link(
                "sendinglists",
                "listcontact",
                f"{MembershipStatus(status).label}: {count:,}",
                sending_list__id__exact=sending_list.pk,
                status=status,
            )
            for status, count in counts.items()
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        created = sending_list_create(
            phone_number=obj.phone_number,
            name=obj.name,
            default_region=obj.default_region,
            help_text=obj.help_text,
        )
        obj.pk = created.pk
        obj.created_at = created.created_at
        obj._state.adding = False
        obj.save(update_fields=["opt_out_keywords", "opt_in_keywords"])

    def save_formset(self, request, form, formset, change):
        if formset.model is not CustomField:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)
        for field in formset.deleted_objects:
            field.delete()
        for field in [*formset.new_objects, *(obj for obj, _ in formset.changed_objects)]:
            _custom_field_save(field)
