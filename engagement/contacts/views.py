"""The contact page is in engagement: it shows messages, clicks and conversions; only the top layer sees all.

The page (`/contacts/<id>/`) and its actions compose all three apps (the contact, its memberships
and their history, its messages, clicks and conversions); `engagement` is the app that may import
the other two. Every action calls the one service that owns the rule, with the acting user as the
Actor, and needs its Django permission: a view-only staff user sees no buttons and gets 403 on a POST.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from contacts.forms import ContactEditForm, ContactTagsForm
from contacts.models import Contact
from contacts.pagination import page_or_first
from contacts.services import contact_set_tags, contact_update
from engagement.selectors import contact_timeline_page
from sendinglists.actors import Actor
from sendinglists.choices import UnsubReason
from sendinglists.contacts.services import contact_block, contact_unblock
from sendinglists.subscriptions.forms import MembershipCustomFieldsForm, ResubscribeForm, UnsubscribeForm
from sendinglists.subscriptions.memberships import list_contact_update_custom_fields
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.selectors import contact_memberships, membership_of_contact
from sendinglists.subscriptions.subscribe import list_contact_resubscribe


def _contact(contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects.prefetch_related("tags", "channels"), pk=contact_id)


def _render(request, contact: Contact, *, status: int = 200, **bound_forms):
    """The contact page; `bound_forms` replace the blank forms with ones carrying errors."""
    # Lists (statuses, custom fields, counters) and messages are shown only to those who may read them.
    can_see_lists = request.user.has_perm("sendinglists.view_listcontact")
    memberships = contact_memberships(contact) if can_see_lists else None
    for detail in memberships.memberships if memberships else ():
        membership = detail.membership
        detail.unsubscribe_form = bound_forms.get(f"unsubscribe_{membership.pk}") or UnsubscribeForm(
            prefix=f"unsub{membership.pk}"
        )
        detail.resubscribe_form = bound_forms.get(f"resubscribe_{membership.pk}") or ResubscribeForm(
            prefix=f"resub{membership.pk}"
        )
        detail.custom_fields_form = bound_forms.get(f"fields_{membership.pk}") or MembershipCustomFieldsForm(
            prefix=f"fields{membership.pk}",
            custom_fields=detail.defined_fields,
            values=membership.custom_fields,
        )
    timeline = warning = None
    if request.user.has_perm("engagement.view_message"):
        timeline, warning = page_or_first(
            lambda **cursor: contact_timeline_page(contact=contact, **cursor),
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    if warning:
        messages.warning(request, warning)
    context = {
        "nav": "contacts",
        "contact": contact,
        "memberships": memberships,
        "timeline": timeline,
        "edit_form": bound_forms.get("edit") or ContactEditForm.for_contact(contact),
        "tags_form": bound_forms.get("tags") or ContactTagsForm.for_contact(contact),
    }
    return render(request, "contacts/contact_detail.html", context, status=status)


@require_GET
@staff_member_required
@permission_required("contacts.view_contact", raise_exception=True)
def contact_detail(request, contact_id: int):
    return _render(request, _contact(contact_id))


@require_POST
@staff_member_required
@permission_required("contacts.change_contact", raise_exception=True)
def contact_edit(request, contact_id: int):
    contact = _contact(contact_id)
    form = ContactEditForm.for_contact(contact, request.POST)
    if form.is_valid():
        try:
            contact_update(contact=contact, values=form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Contact details saved.")
            return redirect("contact_pages:detail", contact_id=contact.pk)
    return _render(request, contact, status=400, edit=form)


@require_POST
@staff_member_required
@permission_required("contacts.change_contact", raise_exception=True)
def contact_tags(request, contact_id: int):
    contact = _contact(contact_id)
    form = ContactTagsForm.for_contact(contact, request.POST)
    if form.is_valid():
        try:
            tags = contact_set_tags(contact=contact, names=form.names())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            names = ", ".join(tag.name for tag in tags) or "none"
            messages.success(request, f"Tags saved: {names}.")
            return redirect("contact_pages:detail", contact_id=contact.pk)
    return _render(request, contact, status=400, tags=form)


@require_POST
@staff_member_required
@permission_required("contacts.change_contact", raise_exception=True)
def contact_block_view(request, contact_id: int):
    contact = _contact(contact_id)
    if contact_block(contact=contact, actor=Actor.for_user(request.user)):
        messages.success(request, "Contact blocked: it will not be messaged on any list.")
    else:
        messages.info(request, "The contact was already blocked.")
    return redirect("contact_pages:detail", contact_id=contact.pk)


@require_POST
@staff_member_required
@permission_required("contacts.change_contact", raise_exception=True)
def contact_unblock_view(request, contact_id: int):
    contact = _contact(contact_id)
    if contact_unblock(contact=contact, actor=Actor.for_user(request.user)):
        messages.success(request, "Contact unblocked. Opted-out memberships stay opted out.")
    else:
        messages.info(request, "The contact was not blocked.")
    return redirect("contact_pages:detail", contact_id=contact.pk)


def _membership(contact: Contact, membership_id: int):
    membership = membership_of_contact(contact=contact, membership_id=membership_id)
    if membership is None:
        raise Http404("This contact has no such list membership.")
    return membership


@require_POST
@staff_member_required
@permission_required("sendinglists.change_listcontact", raise_exception=True)
def membership_unsubscribe(request, contact_id: int, membership_id: int):
    contact = _contact(contact_id)
    membership = _membership(contact, membership_id)
    form = UnsubscribeForm(request.POST, prefix=f"unsub{membership.pk}")
    if not form.is_valid():
        return _render(request, contact, status=400, **{f"unsubscribe_{membership.pk}": form})
    change = list_contact_opt_out(
        membership=membership,
        reason=UnsubReason.MANUAL,
        actor=Actor.for_user(request.user),
        note=form.cleaned_data["note"],
    )
    name = membership.sending_list.name
    if change.changed:
        messages.success(request, f"Unsubscribed from {name} (Manual).")
    else:
        messages.info(request, f"{name}: {change.reason}")
    return redirect("contact_pages:detail", contact_id=contact.pk)


@require_POST
@staff_member_required
@permission_required("sendinglists.change_listcontact", raise_exception=True)
def membership_resubscribe(request, contact_id: int, membership_id: int):
    contact = _contact(contact_id)
    membership = _membership(contact, membership_id)
    form = ResubscribeForm(request.POST, prefix=f"resub{membership.pk}")
    if not form.is_valid():
        return _render(request, contact, status=400, **{f"resubscribe_{membership.pk}": form})
    change = list_contact_resubscribe(
        membership=membership, actor=Actor.for_user(request.user), note=form.cleaned_data["note"]
    )
    name = membership.sending_list.name
    if change.changed:
        messages.success(request, f"Resubscribed to {name}; the reason is recorded in the history.")
    else:
        messages.error(request, f"{name}: {change.reason}")
    return redirect("contact_pages:detail", contact_id=contact.pk)


@require_POST
@staff_member_required
@permission_required("sendinglists.change_listcontact", raise_exception=True)
def membership_custom_fields(request, contact_id: int, membership_id: int):
    contact = _contact(contact_id)
    membership = _membership(contact, membership_id)
    form = MembershipCustomFieldsForm(
        request.POST,
        prefix=f"fields{membership.pk}",
        custom_fields=list(membership.sending_list.custom_fields.all()),
        values=membership.custom_fields,
    )
    if form.is_valid():
        try:
            list_contact_update_custom_fields(membership=membership, values=form.values())
        except ValidationError as exc:
            for key, errors in exc.message_dict.items():
                field_name = f"cf_{key.removeprefix('custom_fields.')}"
                form.add_error(field_name if field_name in form.fields else None, errors)
        else:
            messages.success(request, f"Custom fields on {membership.sending_list.name} saved.")
            return redirect("contact_pages:detail", contact_id=contact.pk)
    return _render(request, contact, status=400, **{f"fields_{membership.pk}": form})
