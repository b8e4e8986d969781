"""Memberships (status filters, audited unsubscribe/resubscribe actions, export) and their history."""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.response import TemplateResponse

from contacts.admin import FormulaSafeExportMixin, LargeTableAdmin, ReadOnlyAdminMixin, contact_search_results
from contacts.models import Contact, NumberSuppression
from contacts.phones import phone_search_candidates
from contacts.selectors import holds_number
from sendinglists.admin_common import actor_for, admin_link, plural, selected_or_refuse
from sendinglists.choices import MembershipStatus, UnsubReason
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import clean_custom_fields
from sendinglists.subscriptions.memberships import list_contact_delete, list_contact_update_custom_fields
from sendinglists.subscriptions.models import (
    MEMBERSHIP_COUNTER_FIELDS,
    MEMBERSHIP_ENGAGEMENT_FIELDS,
    MEMBERSHIP_SUBSCRIPTION_FIELDS,
    ListContact,
    SubscriptionEvent,
)
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.resources import MembershipResource
from sendinglists.subscriptions.selectors import status_condition
from sendinglists.subscriptions.subscribe import list_contact_resubscribe


class MembershipStatusFilter(admin.SimpleListFilter):
    """The status a person reads (Active, Opted-out, Bad response, …, Blocked): `status_from`."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return MembershipStatus.choices

    def queryset(self, request, queryset):
        if self.value() in MembershipStatus.values:
            # Uses index: listcontact_list_status (with a list chosen)
            return queryset.filter(status_condition(self.value()))
        return queryset


class MembershipForm(forms.ModelForm):
    class Meta:
        model = ListContact
        fields = ("custom_fields",)

    def clean_custom_fields(self):
        try:
            return clean_custom_fields(
                sending_list=self.instance.sending_list, values=self.cleaned_data["custom_fields"]
            )
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


class ResubscribeForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=1000,
        help_text="Why these contacts may be messaged again (e.g. “asked by email on 2024-05-02”). "
        "It is kept with the subscription history as compliance evidence.",
    )


class SubscriptionEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SubscriptionEvent
    fk_name = "list_contact"
    extra = 0
    fields = ("occurred_at", "kind", "reason", "signup_method", "actor_kind", "actor_label", "note")
    readonly_fields = fields
    ordering = ("-occurred_at", "-id")
    verbose_name_plural = "Subscription history"


@admin.register(ListContact)
class ListContactAdmin(FormulaSafeExportMixin, LargeTableAdmin):
    """Memberships are created by subscribing (contact page, imports, API), so there is no Add here."""

    form = MembershipForm
    resource_classes = [MembershipResource]
    inlines = [SubscriptionEventInline]
    list_display = (
        "id",
        "contact",
        "contact_name",
        "sending_list",
        "status_label",
        "signup_method",
        "subscribed_at",
        *MEMBERSHIP_COUNTER_FIELDS,
        "in_workflow",
    )
    list_display_links = ("id",)
    list_select_related = ("contact", "sending_list")
    list_filter = (MembershipStatusFilter, "unsub_reason", "signup_method", "in_workflow", "sending_list")
    sortable_by = ("id",)
    raw_id_fields = ("contact",)
    search_fields = ("contact__phone_number",)  # shows the box; get_search_results does the work
    search_help_text = (
        "The contact's phone number in any format, exact email, start of a name, or contact id."
    )
    readonly_fields = (
        "contact_link",
        "sending_list",
        "status_label",
        "active",
        *MEMBERSHIP_SUBSCRIPTION_FIELDS,
        "status_changed_at",
        *MEMBERSHIP_ENGAGEMENT_FIELDS,
        "in_workflow",
        "consecutive_failures",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("contact_link", "sending_list", "custom_fields")}),
        (
            "Status (change it with the list's actions: they record who and why)",
            {
                "fields": (
                    "status_label",
                    "active",
                    "unsub_reason",
                    "signup_method",
                    "subscribed_at",
                    "opted_out_at",
                    "status_changed_at",
                    "in_workflow",
                    "consecutive_failures",
                )
            },
        ),
        (
            "Engagement",
            {
                "fields": (
                    "send_count",
                    "click_count",
                    "conversion_count",
                    "revenue_total",
                    "last_sent_at",
                    "last_clicked_at",
                    "last_revenue_at",
                )
            },
        ),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    actions = ["unsubscribe_manual", "resubscribe_audited"]

    def has_add_permission(self, request):
        return False

    def get_search_results(self, request, queryset, search_term):
        return contact_search_results(queryset, search_term, through_contact=True), False

    @admin.display(description="Name")
    def contact_name(self, membership: ListContact) -> str:
        return membership.contact.full_name

    @admin.display(description="Status")
    def status_label(self, membership: ListContact) -> str:
        return membership.display_status_label

    @admin.display(description="Contact")
    def contact_link(self, membership: ListContact) -> str:
        return admin_link(membership.contact)

    def save_model(self, request, obj, form, change):
        if "custom_fields" in form.changed_data:
            list_contact_update_custom_fields(
                membership=obj, values=form.cleaned_data["custom_fields"], replace=True
            )

    def delete_model(self, request, obj):
        list_contact_delete(membership=obj, actor=actor_for(request))

    def delete_queryset(self, request, queryset):
        actor = actor_for(request)
        with transaction.atomic():
            for membership in queryset:
                list_contact_delete(membership=membership, actor=actor)

    # --- actions ------------------------------------------------------------------------------

    @admin.action(description="Unsubscribe selected memberships (reason: Manual)", permissions=["change"])
    def unsubscribe_manual(self, request, queryset):
        memberships = selected_or_refuse(self, request, queryset)
        if memberships is None:
            return
        actor = actor_for(request)
        changed = sum(
            list_contact_opt_out(
                membership=membership, reason=UnsubReason.MANUAL, actor=actor, note="Admin action"
            ).changed
            for membership in memberships
        )
        self.message_user(
            request,
            f"Unsubscribed {plural(changed, 'membership')} (reason: Manual); "
            f"{plural(len(memberships) - changed, 'membership')} already unsubscribed.",
            messages.SUCCESS,
        )

    @admin.action(description="Resubscribe selected memberships (explicit, audited)…", permissions=["change"])
    def resubscribe_audited(self, request, queryset):
        memberships = selected_or_refuse(self, request, queryset)
        if memberships is None:
            return None
        form = ResubscribeForm(request.POST if "confirm" in request.POST else None)
        if form.is_bound and form.is_valid():
            actor = actor_for(request)
            refused: Counter = Counter()
            changed = 0
            for membership in memberships:
                result = list_contact_resubscribe(
                    membership=membership, actor=actor, note=form.cleaned_data["note"]
                )
                if result.changed:
                    changed += 1
                else:
                    refused[result.reason] += 1
            self.message_user(request, f"Resubscribed {plural(changed, 'membership')}.", messages.SUCCESS)
            for reason, count in refused.items():
                self.message_user(
                    request, f"{plural(count, 'membership')} not resubscribed: {reason}", messages.WARNING
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Resubscribe memberships?",
            "opts": self.opts,
            "form": form,
            "memberships": memberships[:100],
            "more": max(0, len(memberships) - 100),
            "count": len(memberships),
            "opted_out": sum(1 for membership in memberships if not membership.active),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "resubscribe_audited",
            "selected_pks": [membership.pk for membership in memberships],
        }
        return TemplateResponse(
            request, "admin/sendinglists/listcontact/resubscribe_confirmation.html", context
        )


@admin.register(SubscriptionEvent)
class SubscriptionEventAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    """Compliance evidence: read-only for everyone, newest first."""

    list_display = (
        "occurred_at",
        "phone_number",
        "kind",
        "reason",
        "sending_list",
        "signup_method",
        "actor_kind",
        "actor_label",
        "note",
    )
    list_filter = ("kind", "reason", "actor_kind", "sending_list")
    list_select_related = ("sending_list",)
    # Append-only, so the primary key orders by recency through its own index.
    ordering = ("-id",)
    sortable_by = ()
    search_fields = ("phone_number",)
    search_help_text = (
        "A phone number in any format. Choose a sending list first to also find events of deleted contacts."
    )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        e164 = phone_search_candidates(search_term)
        if not e164:
            return queryset.none(), False
        if request.GET.get("sending_list__id__exact"):
            # Uses index: subevent_list_phone (the event keeps the number after its contact is deleted)
            return queryset.filter(phone_number=e164), False
        # Uses index: subevent_contact_time, through the number's holder (primary phone or channel)
        return queryset.filter(contact__in=Contact.objects.filter(holds_number(e164)).values("pk")), False


@admin.register(NumberSuppression)
class NumberSuppressionAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = ("phone_number", "kind", "where", "reason", "occurred_at", "evidence")
    list_filter = ("kind", "reason")
    ordering = ("-id",)
    sortable_by = ()
    search_fields = ("phone_number",)
    search_help_text = "A phone number in any format: what stands against it, on which list and since when."

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        e164 = phone_search_candidates(search_term)
        # Uses index: suppression_list_phone_unique, suppression_global_phone_unique (phone first)
        return (queryset.filter(phone_number=e164) if e164 else queryset.none()), False

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        list_ids = {row.sending_list_id for row in changelist.result_list if row.sending_list_id}
        self._lists = SendingList.objects.in_bulk(list_ids)
        return changelist

    @admin.display(description="List")
    def where(self, row: NumberSuppression) -> str:
        if row.sending_list_id is None:
            return "Every list"
        sending_list = getattr(self, "_lists", {}).get(row.sending_list_id)
        return str(sending_list) if sending_list else f"Deleted list #{row.sending_list_id}"

    @admin.display(description="Evidence")
    def evidence(self, row: NumberSuppression) -> str:
        if row.event_id is None:
            return "-"
        return admin_link(SubscriptionEvent(pk=row.event_id), f"Event #{row.event_id}")
