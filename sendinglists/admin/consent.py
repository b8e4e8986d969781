"""The consent ledger in the admin: read-only, searchable by number. It changes only through the
consent services (an opt-out, a START or audited resubscribe, a block or unblock)."""

from django.contrib import admin

from contacts.admin import LargeTableAdmin, ReadOnlyAdminMixin
from contacts.models import NumberSuppression
from contacts.phones import phone_search_candidates
from sendinglists.admin.common import admin_link
from sendinglists.models import SendingList, SubscriptionEvent


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
