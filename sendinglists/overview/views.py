"""Sending list pages: the lists, a list's Contacts tab and its custom fields tab.

Staff only (anonymous users go to the login page); Django's permissions decide who sees and who
may act. Counts come from maintained rows, pages from keyset cursors: a list of a million members
renders like a list of ten.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from contacts.pagination import KeysetPage, page_or_first
from sendinglists.audiences.charts import opt_out_chart
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import custom_field_create
from sendinglists.overview.forms import CustomFieldForm, ListContactFilterForm
from sendinglists.overview.selectors import sending_list_summaries, sending_list_summary
from sendinglists.subscriptions.selectors import (
    LIST_CONTACT_ORDERINGS,
    ListContactFilters,
    list_contacts_page,
)

# Column header -> the descending ordering a first click asks for.
SORTABLE_COLUMNS = {
    "sends": "send_count",
    "clicks": "click_count",
    "conversions": "conversion_count",
    "revenue": "revenue_total",
    "last_sent": "last_sent_at",
    "last_clicked": "last_clicked_at",
}


@require_GET
@staff_member_required
@permission_required("sendinglists.view_sendinglist", raise_exception=True)
def sending_list_index(request):
    return render(
        request, "sendinglists/list_index.html", {"nav": "lists", "summaries": sending_list_summaries()}
    )


def _sort_links(ordering: str) -> dict[str, dict]:
    """Per sortable column: the ordering its header link asks for and the current direction."""
    links = {}
    for column, field in SORTABLE_COLUMNS.items():
        if ordering == f"-{field}":
            links[column] = {"ordering": field, "direction": "desc"}
        elif ordering == field:
            links[column] = {"ordering": f"-{field}", "direction": "asc"}
        else:
            links[column] = {"ordering": f"-{field}", "direction": ""}
    return links


def _contacts_page(request, **query) -> KeysetPage:
    page, warning = page_or_first(
        lambda **cursor: list_contacts_page(**query, **cursor),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    if warning:
        messages.warning(request, warning)
    return page


@require_GET
@staff_member_required
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def sending_list_contacts(request, list_id: int):
    sending_list = get_object_or_404(SendingList, pk=list_id)
    custom_fields = list(sending_list.custom_fields.all())
    form = ListContactFilterForm(request.GET, sending_list=sending_list, custom_fields=custom_fields)
    filters_valid = form.is_valid()
    filters = form.filters() if filters_valid else ListContactFilters()
    ordering = form.sort_order
    if filters_valid:
        page = _contacts_page(request, sending_list=sending_list, filters=filters, ordering=ordering)
    else:  # the errors show in place, rather than contacts the filters did not ask for
        page = KeysetPage(rows=[], next_cursor=None, previous_cursor=None)
    return render(
        request,
        "sendinglists/list_contacts.html",
        {
            "nav": "lists",
            "tab": "contacts",
            "summary": sending_list_summary(sending_list),
            "optout_chart": opt_out_chart(sending_list=sending_list),
            "sending_list": sending_list,
            "form": form,
            "filters": filters,
            "filters_valid": filters_valid,
            "has_custom_fields": bool(custom_fields),
            "page": page,
            "ordering": ordering,
            "ordering_label": LIST_CONTACT_ORDERINGS[ordering],
            "sort_links": _sort_links(ordering),
        },
    )


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("sendinglists.view_customfield", raise_exception=True)
def sending_list_fields(request, list_id: int):
    sending_list = get_object_or_404(SendingList, pk=list_id)
    can_add = request.user.has_perm("sendinglists.add_customfield")
    form = CustomFieldForm(request.POST or None) if can_add else None
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied
        if form.is_valid():
            try:
                created = custom_field_create(sending_list=sending_list, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Custom field “{created.label}” ({created.key}) added.")
                return redirect("sendinglists:fields", list_id=sending_list.pk)
    return render(
        request,
        "sendinglists/list_fields.html",
        {
            "nav": "lists",
            "tab": "fields",
            "summary": sending_list_summary(sending_list),
            "sending_list": sending_list,
            "custom_fields": sending_list.custom_fields.all(),
            "form": form,
        },
        status=400 if request.method == "POST" else 200,
    )
