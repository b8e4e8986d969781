"""Messages, clicks and conversions: read-only in the admin (they come from providers and webhooks)."""

import re

from django.contrib import admin
from django.db import models

from contacts.admin import LargeTableAdmin, ReadOnlyAdminMixin, contact_search_results
from engagement.models import Click, Conversion, Message

# A provider's message id (Twilio: SM + 32 hex digits); never a name, a phone number or an email.
PROVIDER_MESSAGE_ID = re.compile(r"(?=\D*\d)[A-Za-z]{2}[0-9A-Za-z]{16,62}")


class EngagementAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_select_related = ("contact", "sending_list")
    # Rows are appended in time order, so the primary key orders by recency through its own index.
    ordering = ("-id",)
    sortable_by = ()
    search_fields = ("contact__phone_number",)  # shows the box; get_search_results does the work
    search_help_text = (
        "The contact's phone number in any format, exact email, start of a name, or contact id."
    )

    def get_search_results(self, request, queryset, search_term):
        return contact_search_results(queryset, search_term, through_contact=True), False


@admin.register(Message)
class MessageAdmin(EngagementAdmin):
    list_display = (
        "sent_at",
        "direction",
        "contact",
        "sending_list",
        "status",
        "keyword",
        "short_body",
        "error_code",
        "needs_review",
    )
    list_filter = ("direction", "status", "keyword", "needs_review", "sending_list")
    search_help_text = (
        "The contact's phone number in any format, exact email, start of a name, contact id, "
        "or a provider message id (SM…)."
    )

    @admin.display(description="Body")
    def short_body(self, message: Message) -> str:
        return message.body if len(message.body) <= 60 else message.body[:59] + "…"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if PROVIDER_MESSAGE_ID.fullmatch(term):
            # Uses index: the unique provider_message_id
            return queryset.filter(provider_message_id=term), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Click)
class ClickAdmin(EngagementAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("clicked_at", "contact", "sending_list", "url", "message_id")
    list_filter = ("sending_list",)


@admin.register(Conversion)
class ConversionAdmin(EngagementAdmin):
    list_display = ("converted_at", "contact", "sending_list", "order_id", "revenue", "message_id")
    list_filter = ("sending_list",)
