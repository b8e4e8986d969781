import datetime as dt
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import (
    EventKind,
    MembershipStatus,
)
from sendinglists.lists.services import list_status_counts_add
from sendinglists.subscriptions.consent import ledger_apply, number_opt_out_is_own
from sendinglists.subscriptions.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.rows import event_values

# --- events ---------------------------------------------------------------------------------------


def event_record(
    *,
    membership: ListContact | None,
    contact: Contact,
    sending_list_id: int | None,
    kind: EventKind,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    signup_method: str = "",
    note: str = "",
) -> SubscriptionEvent:
    event = event_build(
        membership=membership,
        contact=contact,
        sending_list_id=sending_list_id,
        kind=kind,
        actor=actor,
        occurred_at=occurred_at,
        reason=reason,
        signup_method=signup_method,
        note=note,
    )
    event.save()
    ledger_apply([event])
    return event


def event_build(
    *,
    membership: ListContact | None,
    contact: Contact,
    sending_list_id: int | None,
    kind: EventKind,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    signup_method: str = "",
    note: str = "",
) -> SubscriptionEvent:
    """An unsaved event row: `event_record` saves one, bulk services bulk_create many. A number that
    no contact holds any more is passed as an unsaved `Contact(phone_number=…)`: the event keeps the
    number and links no contact.

    The event's number is the one whose change it is: the number the person acted from (an inbound
    STOP or START from a phone channel is that channel's), else the contact's phone. The ledger
    writes it as that number's own, and as carried on the contact's other numbers (`ledger_apply`)."""
    return SubscriptionEvent(
        sending_list_id=sending_list_id,
        list_contact=membership,
        contact=contact if contact.pk is not None else None,
        phone_number=actor.number or contact.phone_number,
        **event_values(
            kind=kind,
            actor=actor,
            occurred_at=occurred_at,
            reason=reason,
            signup_method=signup_method,
            note=note,
        ),
    )


@dataclass(frozen=True, slots=True)
class StatusChange:
    changed: bool
    membership: ListContact
    reason: str = ""


@contextmanager
def membership_for_update(membership: ListContact, *, locked: bool):
    """The membership row to change, locked until commit, with its contact loaded.

    `locked=True` promises a row the caller read with select_for_update in its still-open
    transaction: it is used as it is (no second read, no savepoint) and the writes join the
    caller's transaction. Otherwise the row is read again, locked, in a transaction of its own.
    """
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise transaction.TransactionManagementError(
                f"Membership {membership.pk} passed as locked outside a transaction."
            )
        yield membership
        return
    with transaction.atomic():
        yield ListContact.objects.select_for_update().select_related("contact").get(pk=membership.pk)


LATER_CHANGE_STANDS = "A later change already decided this membership's status."


def status_change_time(membership: ListContact, occurred_at: dt.datetime | None) -> dt.datetime | None:
    """When a status change of `membership` applies, or None when a later change already decided
    its status. An act of now (an operator, the API, an import: no time of its own) applies after
    any change dated ahead of this clock (a provider's fast clock), never before it."""
    if occurred_at is None:
        return max(timezone.now(), membership.status_changed_at)
    return None if occurred_at < membership.status_changed_at else occurred_at


def status_change_record(
    membership: ListContact,
    *,
    old: MembershipStatus | None,
    kind: EventKind,
    actor: Actor,
    occurred_at,
    **event,
) -> None:
    """What every saved change of a membership's status writes beside it: the list's count delta and
    the consent event (which keeps the ledger in step)."""
    status_count_change(membership, old, membership.status)
    event_record(
        membership=membership,
        contact=membership.contact,
        sending_list_id=membership.sending_list_id,
        kind=kind,
        actor=actor,
        occurred_at=occurred_at,
        **event,
    )


def opt_out_locked(
    membership: ListContact, *, reason: str, actor: Actor, occurred_at: dt.datetime | None, note: str
) -> StatusChange:
    if not membership.active:
        if actor.number and not number_opt_out_is_own(
            sending_list_id=membership.sending_list_id, phone_number=actor.number
        ):
            # A number's own STOP while its contact is already unsubscribed (by another of its
            # numbers, or an operator): the ledger keeps it as this number's own, so that no START
            # but its own lifts it. The membership stays as it is.
            event_record(
                membership=membership,
                contact=membership.contact,
                sending_list_id=membership.sending_list_id,
                kind=EventKind.OPTED_OUT,
                reason=reason,
                actor=actor,
                occurred_at=occurred_at or timezone.now(),
                note=f"{actor.number} opted out too; the contact was already unsubscribed.",
            )
        return StatusChange(False, membership, f"Already unsubscribed ({membership.status_label}).")
    now = status_change_time(membership, occurred_at)
    if now is None:
        return StatusChange(False, membership, LATER_CHANGE_STANDS)
    old = membership.status
    changed = membership_set_opted_out(membership, reason=reason, at=now)
    membership.save(update_fields=[*changed, "updated_at"])
    status_change_record(
        membership, old=old, kind=EventKind.OPTED_OUT, reason=reason, actor=actor, occurred_at=now, note=note
    )
    return StatusChange(True, membership)


def membership_insert(
    membership: ListContact, *, kind: EventKind, actor: Actor, occurred_at, **event
) -> bool:
    """Insert a new membership with its count delta and its event, or return False (and write
    nothing) when a concurrent insert of the same (list, contact) won the unique constraint."""
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        return False
    status_change_record(membership, old=None, kind=kind, actor=actor, occurred_at=occurred_at, **event)
    return True


def opted_out_fields(*, reason: str, at: dt.datetime) -> dict:
    """What an opt-out sets on a membership, the one place that says so: the opt-out services save
    these fields (one row, or a chunk in one UPDATE), and the demo builds its memberships with them."""
    return {
        "active": False,
        "unsub_reason": reason,
        "opted_out_at": at,
        "status_changed_at": at,
        "in_workflow": False,
    }


def membership_set_opted_out(membership: ListContact, *, reason: str, at: dt.datetime) -> list[str]:
    """Set `opted_out_fields` on `membership` in memory; returns their names for the caller's save."""
    fields = opted_out_fields(reason=reason, at=at)
    for name, value in fields.items():
        setattr(membership, name, value)
    return list(fields)


def status_count_change(
    membership: ListContact, old: MembershipStatus | None, new: MembershipStatus | None
) -> None:
    deltas: Counter = Counter()
    if old is not None:
        deltas[old] -= 1
    if new is not None:
        deltas[new] += 1
    list_status_counts_add(sending_list_id=membership.sending_list_id, deltas=deltas)
