from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import (
    EventKind,
)
from sendinglists.subscriptions.changes import event_record, status_count_change
from sendinglists.subscriptions.models import ListContact

# --- contacts (writes that record subscription events) --------------------------------------------


def contact_block(*, contact: Contact, actor: Actor, note: str = "") -> bool:
    """Block a contact: never messaged on any list, and its number blocked in the consent ledger
    (a re-created contact with it is blocked too). Audited; returns whether anything changed."""
    return _contact_set_blocked(contact=contact, blocked=True, actor=actor, note=note)


def contact_unblock(*, contact: Contact, actor: Actor, note: str = "") -> bool:
    """Lift a block, from the contact and its current number. Memberships keep their status;
    opted-out ones stay opted out."""
    return _contact_set_blocked(contact=contact, blocked=False, actor=actor, note=note)


@transaction.atomic
def _contact_set_blocked(*, contact: Contact, blocked: bool, actor: Actor, note: str) -> bool:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)  # its number as it is now
    contact.blocked, contact.phone_number = blocked, locked.phone_number
    if locked.blocked == blocked:
        return False
    now = timezone.now()
    Contact.objects.filter(pk=locked.pk).update(blocked=blocked, updated_at=now)
    event_record(
        membership=None,
        contact=locked,
        sending_list_id=None,
        kind=EventKind.BLOCKED if blocked else EventKind.UNBLOCKED,
        actor=actor,
        occurred_at=now,
        note=note,
    )
    return True


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact and its memberships. Its consent stays: the subscription events (SET_NULL,
    with the number, list, reason, time and actor) and the ledger's suppressions of its number."""
    for membership in ListContact.objects.select_for_update().filter(contact=contact):
        status_count_change(membership, membership.status, None)
    contact.delete()
