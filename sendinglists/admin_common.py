"""Small helpers shared by the sendinglists admins."""

from urllib.parse import urlencode

from django.contrib import messages
from django.urls import reverse
from django.utils.html import format_html

from sendinglists.actors import Actor

# An admin action runs its service once per selected row inside the request; bigger batches belong
# to an import or the API.
MAX_ACTION_ROWS = 2_000


def actor_for(request) -> Actor:
    return Actor.for_user(request.user)


def selected_or_refuse(modeladmin, request, queryset) -> list | None:
    """The selected rows, or None (with an error message) when there are too many for one request."""
    rows = list(queryset[: MAX_ACTION_ROWS + 1])
    if len(rows) > MAX_ACTION_ROWS:
        modeladmin.message_user(
            request,
            f"Select at most {MAX_ACTION_ROWS:,} rows for this action (use filters to narrow the "
            "selection, or an import or the API for bulk changes). Nothing was changed.",
            messages.ERROR,
        )
        return None
    return rows


def admin_link(obj, text=None) -> str:
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else obj)


def changelist_link(app_label: str, model_name: str, text: str, **filters) -> str:
    """A link to a changelist filtered by `filters` (by name: `engagement` is not imported here)."""
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
