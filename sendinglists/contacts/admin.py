"""The Contact admin: search by phone in any format, memberships and channels inline, block, export."""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html_join

from contacts.admin import (
    ContactAdminForm,
    ContactChannelForm,
    ContactChannelInline,
    FormulaSafeExportMixin,
    LargeTableAdmin,
    channels_formset_save,
    contact_search_results,
)
from contacts.models import Contact, ContactChannel
from contacts.resources import ContactResource
from contacts.services import CONTACT_TEXT_FIELDS, contact_set_tags, contact_upsert
from sendinglists.admin_common import actor_for, admin_link, changelist_link, plural, selected_or_refuse
from sendinglists.choices import SignupMethod
from sendinglists.contacts.numbers import contact_channel_add_checked, contact_edit, number_consent_conflicts
from sendinglists.contacts.services import contact_block, contact_delete, contact_unblock
from sendinglists.lists.services import clean_custom_fields
from sendinglists.subscriptions.memberships import list_contact_delete, list_contact_update_custom_fields
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.subscribe import list_contact_subscribe


class MembershipInlineForm(forms.ModelForm):
    class Meta:
        model = ListContact
        fields = ("sending_list", "custom_fields")
        # Narrow: the inline's row fits a laptop's width.
        widgets = {"custom_fields": forms.Textarea(attrs={"rows": 2, "cols": 24})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["sending_list"].disabled = True

    def clean(self):
        cleaned = super().clean()
        sending_list = cleaned.get("sending_list")
        if sending_list is not None and cleaned.get("custom_fields") is not None:
            try:
                cleaned["custom_fields"] = clean_custom_fields(
                    sending_list=sending_list, values=cleaned["custom_fields"]
                )
            except ValidationError as exc:
                self.add_error("custom_fields", exc.messages)
        return cleaned


class MembershipInline(admin.TabularInline):
    """A contact's memberships. New ones subscribe through the service (never reactivating an
    opt-out); status changes happen with the membership admin's audited actions."""

    model = ListContact
    form = MembershipInlineForm
    extra = 0
    autocomplete_fields = ("sending_list",)
    fields = (
        "sending_list",
        "status",
        "signup_method",
        "subscribed_at",
        "custom_fields",
        "activity",
        "details",
    )
    readonly_fields = ("status", "signup_method", "subscribed_at", "activity", "details")
    verbose_name_plural = "Memberships (new ones subscribe with signup method Manual)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sending_list", "contact")

    @admin.display(description="Status")
    def status(self, membership: ListContact) -> str:
        return membership.status_label if membership.pk else "-"

    @admin.display(description="Activity")
    def activity(self, membership: ListContact) -> str:
        # The four counters in one column: side by side they made the page scroll sideways.
        if not membership.pk:
            return "-"
        m = membership
        return (
            f"{m.send_count:,} sent · {m.click_count:,} clicked · {m.conversion_count:,} converted · "
            f"${m.revenue_total:,.2f}"
        )

    @admin.display(description="")
    def details(self, membership: ListContact) -> str:
        return admin_link(membership, "Open") if membership.pk else ""


def memberships_formset_save(request, formset, contact: Contact) -> None:
    """Save the memberships inline through the subscription services, reporting what was skipped."""
    formset.save(commit=False)
    actor = actor_for(request)
    for membership in formset.deleted_objects:
        list_contact_delete(membership=membership, actor=actor)
    for membership in formset.new_objects:
        result = list_contact_subscribe(
            sending_list=membership.sending_list,
            contact=contact,
            signup_method=SignupMethod.MANUAL,
            actor=actor,
            custom_fields=membership.custom_fields,
        )
        if result.reason:
            messages.warning(request, f"{membership.sending_list}: not subscribed. {result.reason}")
    for membership, changed_fields in formset.changed_objects:
        if "custom_fields" in changed_fields:
            list_contact_update_custom_fields(
                membership=membership, values=membership.custom_fields, replace=True
            )


class ConsentCheckedContactForm(ContactAdminForm):
    """Shows the consent ledger's refusal of a new number next to the field (the service that
    saves it, `contact_change_phone`, checks again in its transaction)."""

    def clean_phone_number(self) -> str:
        phone = super().clean_phone_number()
        if self.instance.pk and phone != self.instance.phone_number:
            problems = number_consent_conflicts(contact=self.instance, phone_number=phone)
            if problems:
                raise ValidationError(problems)
        return phone


class ConsentCheckedChannelForm(ContactChannelForm):
    def clean(self):
        cleaned = super().clean()
        contact = getattr(self.instance, "contact", None)
        is_new_phone = not self.instance.pk and cleaned.get("kind") == "phone" and cleaned.get("value")
        if is_new_phone and contact is not None and contact.pk:
            problems = number_consent_conflicts(contact=contact, phone_number=cleaned["value"])
            if problems:
                self.add_error("value", problems)
        return cleaned


class ConsentCheckedChannelInline(ContactChannelInline):
    form = ConsentCheckedChannelForm


@admin.register(Contact)
class ContactAdmin(FormulaSafeExportMixin, LargeTableAdmin):
    form = ConsentCheckedContactForm
    resource_classes = [ContactResource]
    inlines = [MembershipInline, ConsentCheckedChannelInline]
    list_display = (
        "phone_number",
        "first_name",
        "last_name",
        "email",
        "line_type",
        "is_valid",
        "blocked",
        "tag_list",
        "created_at",
    )
    list_display_links = ("phone_number",)
    list_filter = ("line_type", "is_valid", "blocked", "tags")
    # Only indexed columns sort: ordering a million rows by an unindexed column is a full sort.
    sortable_by = ("phone_number", "created_at")
    search_fields = ("phone_number",)  # shows the box; get_search_results does the work
    search_help_text = (
        "A phone number in any format, an exact email, the start of a name (“jane”, “jane sm”), or an id."
    )
    autocomplete_fields = ("tags",)
    readonly_fields = ("uuid", "line_type", "is_valid", "blocked", "created_at", "updated_at", "history")
    fieldsets = (
        (None, {"fields": ("phone_number", "line_type", "is_valid", "blocked")}),
        ("Person", {"fields": ("first_name", "last_name", "email", "timezone", "carrier", "tags")}),
        ("Record", {"fields": ("uuid", "created_at", "updated_at", "history")}),
    )
    actions = ["block_contacts", "unblock_contacts", "merge_contacts"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and context.get("errors"):
            # A refused save: the form's instance holds the values refused (its new phone); the
            # title and the breadcrumbs name the contact as it is saved.
            saved = Contact.objects.filter(pk=obj.pk).first()
            if saved is not None:
                context.update(original=saved, subtitle=str(saved))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_search_results(self, request, queryset, search_term):
        return contact_search_results(queryset, search_term), False

    @admin.display(description="Tags")
    def tag_list(self, contact: Contact) -> str:
        return ", ".join(tag.name for tag in contact.tags.all())

    @admin.display(description="History")
    def history(self, contact: Contact) -> str:
        if not contact.pk:
            return "-"
        links = [
            changelist_link(
                "sendinglists", "subscriptionevent", "Subscription events", contact__id__exact=contact.pk
            ),
            changelist_link("engagement", "message", "Messages", contact__id__exact=contact.pk),
            changelist_link("engagement", "click", "Clicks", contact__id__exact=contact.pk),
            changelist_link("engagement", "conversion", "Conversions", contact__id__exact=contact.pk),
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    # --- saving through the services ----------------------------------------------------------

    def save_model(self, request, obj, form, change):
        values = {key: form.cleaned_data.get(key, "") for key in CONTACT_TEXT_FIELDS}
        phone_number = form.cleaned_data["phone_number"]
        if change:
            current = Contact.objects.get(pk=obj.pk)
            contact = contact_edit(
                contact=current, values=values, phone_number=phone_number, actor=actor_for(request)
            )
        else:
            contact, _ = contact_upsert(phone_number=phone_number, values=values)
        # The form's instance is what the inlines and the redirect use: make it the saved row.
        obj.pk = contact.pk
        obj.refresh_from_db()
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        tags = form.cleaned_data.pop("tags", None)
        super().save_related(request, form, formsets, change)
        if tags is not None:
            contact_set_tags(contact=form.instance, names=[tag.name for tag in tags])

    def save_formset(self, request, form, formset, change):
        if formset.model is ListContact:
            memberships_formset_save(request, formset, form.instance)
        elif formset.model is ContactChannel:
            channel_add = partial(contact_channel_add_checked, actor=actor_for(request))
            channels_formset_save(formset, form.instance, channel_add=channel_add)
        else:
            super().save_formset(request, form, formset, change)

    def delete_model(self, request, obj):
        contact_delete(contact=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for contact in queryset:
                contact_delete(contact=contact)

    # --- actions ------------------------------------------------------------------------------

    @admin.action(description="Block selected contacts (never messaged on any list)", permissions=["change"])
    def block_contacts(self, request, queryset):
        contacts = selected_or_refuse(self, request, queryset)
        if contacts is None:
            return
        actor = actor_for(request)
        changed = sum(contact_block(contact=contact, actor=actor) for contact in contacts)
        self.message_user(
            request,
            f"Blocked {plural(changed, 'contact')}; {plural(len(contacts) - changed, 'contact')} "
            "already blocked.",
            messages.SUCCESS,
        )

    @admin.action(description="Unblock selected contacts", permissions=["change"])
    def unblock_contacts(self, request, queryset):
        contacts = selected_or_refuse(self, request, queryset)
        if contacts is None:
            return
        actor = actor_for(request)
        changed = sum(contact_unblock(contact=contact, actor=actor) for contact in contacts)
        self.message_user(
            request,
            f"Unblocked {plural(changed, 'contact')}; {plural(len(contacts) - changed, 'contact')} "
            "were not blocked. Opted-out memberships stay opted out.",
            messages.SUCCESS,
        )

    @admin.action(
        description="Merge the two selected contacts… (preview first)", permissions=["change", "delete"]
    )
    def merge_contacts(self, request, queryset):
        """To the contact pages' side-by-side preview (`contacts_merge` behind its confirm): the
        older contact stays, the newer one is merged into it (the preview can swap them)."""
        contacts = list(queryset.order_by("pk")[:3])
        if len(contacts) != 2:
            self.message_user(
                request, "Select exactly two contacts to merge. Nothing was changed.", messages.ERROR
            )
            return None
        survivor, duplicate = contacts
        return redirect(f"{reverse('contact_pages:merge', args=[survivor.pk])}?duplicate={duplicate.pk}")
