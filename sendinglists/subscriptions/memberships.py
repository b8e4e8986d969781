from django.db import transaction

from sendinglists.actors import Actor
from sendinglists.choices import (
    MembershipStatus,
    status_from,
)
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
def list_contact_delete(*, membership: ListContact, actor: Actor) -> None:
    """Remove a membership. Its events stay (SET_NULL), so an opt-out survives the deletion."""
    membership = ListContact.objects.select_for_update().get(pk=membership.pk)
    status_count_change(membership, membership.status, None)
    membership.delete()


def membership_status(membership: ListContact) -> MembershipStatus:
    return status_from(active=membership.active, unsub_reason=membership.unsub_reason)
