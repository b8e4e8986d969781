from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import (
    MembershipStatus,
    status_from,
)
from sendinglists.lists.customfields import custom_values_resolve
from sendinglists.lists.models import CustomField
from sendinglists.lists.services import clean_custom_fields
from sendinglists.subscriptions.changes import status_count_change
from sendinglists.subscriptions.models import ListContact


@transaction.atomic
def list_contact_update_custom_fields(
    *, membership: ListContact, values: dict, replace: bool = False
) -> ListContact:
    """Merge (or with `replace`, set) custom field values; validated against the list's fields."""
    cleaned = clean_custom_fields(sending_list=membership.sending_list, values=values)
    membership = ListContact.objects.select_for_update().get(pk=membership.pk)
    membership.custom_fields = cleaned if replace else {**membership.custom_fields, **cleaned}
    membership.save(update_fields=["custom_fields", "updated_at"])
    return membership


@transaction.atomic
def contact_custom_fields_set(
    *, contact: Contact, values: dict, list_ids: list[int] | None = None, clear_blanks: bool = False
) -> list[ListContact]:
    """Store custom values given on a contact (keyed by field key or id, custom_values_resolve's
    rule) on its memberships of the fields' lists; returns the memberships changed.

    Only the memberships of `list_ids` (None: every list; a list-scoped token's lists) are
    considered: a field of any other list reads as unknown, whether it exists or not. A field of a
    list the contact is not on, an unknown name or a value of the wrong type is a ValidationError
    naming it (`custom_fields.<name>`), and nothing is changed. A key that several of the contact's
    lists define is set on each of them. Blank values are dropped (a merge never blanks), or with
    `clear_blanks` (an explicit edit) remove the value. Any membership, active or not, holds values:
    this changes no subscription.
    """
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "Expected an object keyed by field key or field id."})
    if not values:
        return []
    memberships = ListContact.objects.select_for_update().filter(contact=contact).order_by("pk")
    if list_ids is not None:
        memberships = memberships.filter(sending_list_id__in=list_ids)
    by_list = {membership.sending_list_id: membership for membership in memberships}
    fields = CustomField.objects.filter(sending_list_id__in=list(by_list))
    resolved = custom_values_resolve(fields=fields, values=values, keep_blanks=clear_blanks)
    errors = dict(resolved.errors)
    errors.update(_unresolved_errors(resolved.unknown, list_ids=list_ids))
    if errors:
        raise ValidationError(errors)
    changed = []
    for list_id, given in resolved.by_list.items():
        membership = by_list[list_id]
        merged = {**membership.custom_fields, **{k: v for k, v in given.items() if v is not None}}
        for key in (k for k, v in given.items() if v is None):
            merged.pop(key, None)
        if merged != membership.custom_fields:
            membership.custom_fields = merged
            membership.save(update_fields=["custom_fields", "updated_at"])
            changed.append(membership)
    return changed


def _unresolved_errors(names: list[str], *, list_ids: list[int] | None) -> dict[str, list[str]]:
    """Why each of `names` matched no field of the contact's lists: a field of a list (among
    `list_ids`) the contact is not on, or no such field at all. Runs only on the error path."""
    if not names:
        return {}
    ids = [int(name) for name in names if name.isascii() and name.isdigit() and len(name) <= 18]
    fields = CustomField.objects.filter(Q(key__in=names) | Q(pk__in=ids)).order_by("sending_list_id")
    if list_ids is not None:
        fields = fields.filter(sending_list_id__in=list_ids)
    lists_of: dict[str, list[int]] = {}
    for field in fields:
        for name in (field.key, str(field.pk)):
            lists_of.setdefault(name, []).append(field.sending_list_id)
    errors = {}
    for name in names:
        list_numbers = sorted(set(lists_of.get(name, [])))
        if list_numbers:
            where = ("sending lists " if len(list_numbers) > 1 else "sending list ") + ", ".join(
                str(n) for n in list_numbers
            )
            errors[f"custom_fields.{name}"] = [
                f"Custom field {name!r} belongs to {where}, which this contact is not on: "
                "subscribe the contact to that list first (its values are stored per list)."
            ]
        else:
            errors[f"custom_fields.{name}"] = [
                f"No custom field {name!r}: use a field id or key of a sending list this contact is on."
            ]
    return errors


@transaction.atomic
def list_contact_delete(*, membership: ListContact, actor: Actor) -> None:
    """Remove a membership. Its events stay (SET_NULL), so an opt-out survives the deletion."""
    membership = ListContact.objects.select_for_update().get(pk=membership.pk)
    status_count_change(membership, membership.status, None)
    membership.delete()


def membership_status(membership: ListContact) -> MembershipStatus:
    return status_from(active=membership.active, unsub_reason=membership.unsub_reason)
