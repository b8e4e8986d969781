"""Operator pages: the review queue of inbound messages that read like an opt-out.

Reading it shows message bodies (`view_message`); opting a contact out changes a membership
(`change_listcontact`, as on the contact page); dismissing decides a message (`change_message`).
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from contacts.pagination import id_param
from engagement.models import Message
from engagement.services import inbound_message_review_dismiss, inbound_message_review_opt_out

REVIEW_PAGE_SIZE = 50


@staff_member_required
@permission_required("engagement.view_message", raise_exception=True)
def review_queue(request):
    """Flagged inbound messages, newest first, keyset-paged by id (`?before=<id>`)."""
    # Uses index: message_needs_review (partial on needs_review, -id)
    queryset = (
        Message.objects.filter(needs_review=True)
        .select_related("contact", "sending_list", "list_contact")
        .order_by("-id")
    )
    before = id_param(request.GET.get("before"))
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset[: REVIEW_PAGE_SIZE + 1])
    has_more = len(rows) > REVIEW_PAGE_SIZE
    rows = rows[:REVIEW_PAGE_SIZE]
    return render(
        request,
        "engagement/review.html",
        {
            "nav": "review",
            "messages_to_review": rows,
            "next_before": rows[-1].pk if has_more else None,
            "is_first_page": not before,
        },
    )


@staff_member_required
@permission_required(["engagement.view_message", "sendinglists.change_listcontact"], raise_exception=True)
@require_POST
def review_opt_out(request, pk: int):
    message = get_object_or_404(Message, pk=pk)
    try:
        change = inbound_message_review_opt_out(message=message, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("engagement:review")
    if change is None:
        messages.info(request, f"Message #{pk} was already reviewed.")
    elif change.changed:
        messages.success(
            request, f"{message.contact.phone_number} is opted out of {message.sending_list.name}."
        )
    else:
        messages.info(request, f"{message.contact.phone_number}: nothing to change. {change.reason}")
    return redirect("engagement:review")


@staff_member_required
@permission_required(["engagement.view_message", "engagement.change_message"], raise_exception=True)
@require_POST
def review_dismiss(request, pk: int):
    message = get_object_or_404(Message, pk=pk)
    if inbound_message_review_dismiss(message=message, user=request.user):
        messages.success(request, f"Message #{pk} dismissed: no opt-out.")
    else:
        messages.info(request, f"Message #{pk} was already reviewed.")
    return redirect("engagement:review")
