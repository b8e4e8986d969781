"""Merging two contacts from the contact pages: the possible duplicates, the side-by-side preview
and its confirm. The rule is `sendinglists.contacts.merge.contacts_merge`'s; the preview is its plan
(`merge_preview`), so the page shows what the merge will do.

A merge changes the survivor, its memberships and deletes the duplicate: it needs the permissions
to change contacts and memberships and to delete contacts. Looking at the duplicates needs only
the view permission; the merge links show to those who may merge.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from contacts.duplicates import InvalidDuplicatesCursor, duplicates_of, possible_duplicates_page
from contacts.models import Contact
from contacts.phones import DEFAULT_REGION, normalize_phone
from contacts.selectors import contact_by_number
from sendinglists.actors import Actor
from sendinglists.contacts.merge import contact_merge_record, contact_merged_as, contacts_merge, merge_preview

MERGE_PERMISSIONS = ("contacts.change_contact", "contacts.delete_contact", "sendinglists.change_listcontact")


def _find_contact(reference: str) -> Contact | None:
    """A contact by its v1 id or by one of its numbers (its phone or a phone channel) in any format."""
    reference = reference.strip()
    if reference.isdigit() and len(reference) <= 18:
        contact = Contact.objects.filter(pk=int(reference)).first()
        if contact is not None:
            return contact
    phone = normalize_phone(reference, DEFAULT_REGION)
    return contact_by_number(phone.e164) if phone.is_valid else None


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required(MERGE_PERMISSIONS, raise_exception=True)
def contact_merge(request, contact_id: int):
    """GET: choose the duplicate (`?duplicate=` an id or a number), then the side-by-side preview.
    POST: merge it (`duplicate` = its id) into this contact and go to this contact's page."""
    survivor = get_object_or_404(Contact.objects.prefetch_related("tags", "channels"), pk=contact_id)
    if request.method == "POST":
        return _merge(request, survivor)
    reference = request.GET.get("duplicate", "").strip()
    context = {"nav": "contacts", "contact": survivor, "reference": reference}
    if not reference:
        context["suggestions"] = duplicates_of(survivor)
        return render(request, "contacts/contact_merge.html", context)
    duplicate = _find_contact(reference)
    if duplicate is None or duplicate.pk == survivor.pk:
        context["suggestions"] = duplicates_of(survivor)
        merged = (
            contact_merged_as(int(reference))
            if duplicate is None and reference.isdigit() and len(reference) <= 18
            else None
        )
        if duplicate is not None:
            context["lookup_error"] = "That is this contact."
        elif merged is not None:  # a link of a merge already done (another tab, the back button)
            into = "this one" if merged.survivor_id == survivor.pk else f"contact #{merged.survivor_id}"
            context["lookup_error"] = (
                f"Contact #{reference} ({merged.duplicate_phone_number}) was already merged into {into} "
                f"on {merged.merged_at:%Y-%m-%d %H:%M} UTC."
            )
        else:
            context["lookup_error"] = f"No contact has the id or number “{reference}”."
        return render(request, "contacts/contact_merge.html", context, status=400 if duplicate else 404)
    return _render_preview(request, survivor, duplicate)


def _render_preview(request, survivor: Contact, duplicate: Contact, *, errors=(), status: int = 200):
    duplicate = Contact.objects.prefetch_related("tags", "channels").get(pk=duplicate.pk)
    plan = merge_preview(survivor=survivor, duplicate=duplicate)
    context = {
        "nav": "contacts",
        "contact": survivor,
        "duplicate": duplicate,
        "plan": plan,
        "errors": [*plan.problems, *errors],
    }
    return render(request, "contacts/contact_merge.html", context, status=status)


def _merge(request, survivor: Contact):
    reference = request.POST.get("duplicate", "")
    if not reference.isdigit() or len(reference) > 18:
        raise Http404("No such contact.")
    duplicate_id = int(reference)
    duplicate = Contact.objects.filter(pk=duplicate_id).first()
    if duplicate is None and contact_merge_record(survivor_id=survivor.pk, duplicate_id=duplicate_id) is None:
        raise Http404("No such contact.")
    try:
        result = contacts_merge(
            survivor=survivor, duplicate_id=duplicate_id, actor=Actor.for_user(request.user)
        )
    except ValidationError as exc:
        return _render_preview(request, survivor, duplicate, errors=exc.messages, status=400)
    except Contact.DoesNotExist:
        raise Http404("One of the contacts is gone (merged or deleted meanwhile).") from None
    if result.already_merged:
        messages.info(request, f"{result.duplicate_phone_number} was already merged into this contact.")
    else:
        dropped = (
            f" Tags over the limit of five, not kept: {', '.join(result.dropped_tags)}."
            if result.dropped_tags
            else ""
        )
        messages.success(
            request,
            f"Merged contact #{result.duplicate_id} ({result.duplicate_phone_number}) into this one; "
            f"its number is now one of this contact's channels.{dropped}",
        )
    return redirect("contact_pages:detail", contact_id=survivor.pk)


@require_GET
@staff_member_required
@permission_required("contacts.view_contact", raise_exception=True)
def contact_duplicates(request):
    """Pairs that look like one person, a bounded part of the contacts per page."""
    try:
        page = possible_duplicates_page(after=request.GET.get("after"))
    except InvalidDuplicatesCursor as exc:
        messages.warning(request, str(exc))
        page = possible_duplicates_page()
    can_merge = request.user.has_perms(MERGE_PERMISSIONS)
    rows = [
        {
            "pair": pair,
            "merge_url": f"{reverse('contact_pages:merge', args=[pair.contact.pk])}?duplicate={pair.duplicate.pk}"
            if can_merge
            else "",
        }
        for pair in page.pairs
    ]
    context = {"nav": "contacts", "rows": rows, "page": page, "first_page": not request.GET.get("after")}
    return render(request, "contacts/contact_duplicates.html", context)
