import datetime as dt
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import contact_by_number
from sendinglists.actors import Actor
from sendinglists.choices import (
    EventKind,
    MembershipStatus,
    SignupMethod,
    UnsubReason,
)
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import list_status_counts_add
from sendinglists.subscriptions.changes import (
    StatusChange,
    event_build,
    event_record,
    membership_for_update,
    membership_insert,
    opt_out_locked,
    opted_out_fields,
)
from sendinglists.subscriptions.consent import ledger_apply, suppression_standing
from sendinglists.subscriptions.models import ListContact, SubscriptionEvent


def list_contact_opt_out(
    *,
    membership: ListContact,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    locked: bool = False,
) -> StatusChange:
    """Opt a membership out with `reason`; idempotent (an inactive membership stays as it is).

    `occurred_at` is when the opt-out happened (an inbound STOP's own timestamp): a change older
    than the membership's latest status change (a START sent after this STOP) does not apply.
    Atomic. `locked`: the caller already holds the membership's row lock in its open transaction
    (read with select_for_update, its contact loaded), so the row is not read again; the writes
    join the caller's transaction, which rolls back as a whole if they fail.
    """
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    with membership_for_update(membership, locked=locked) as membership:
        return opt_out_locked(membership, reason=reason, actor=actor, occurred_at=occurred_at, note=note)


@transaction.atomic
def list_contacts_opt_out_bulk(
    *,
    sending_list_id: int,
    membership_ids: list[int],
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    numbers: dict[int, str] | None = None,
) -> int:
    """The set-based `list_contact_opt_out` for a chunk of one list's memberships (list hygiene).

    `numbers`: {membership id: the number that opted out} where it is not the contact's phone (an
    opt-out file naming a phone channel): the opt-out is that number's own, carried to the rest.

    Writes what `list_contact_opt_out` writes for each membership (status, one OPTED_OUT event
    naming the actor, count deltas) in a handful of statements. Idempotent like it: inactive
    memberships and ones whose status changed after `occurred_at` are left alone. Returns how many
    memberships it opted out. Keep chunks to a few thousand ids.
    """
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    now = occurred_at or timezone.now()
    # Rows locked in id order, so two bulk runs over overlapping chunks cannot deadlock.
    # With no time of its own the opt-out is an act of now: it applies whatever change is dated ahead.
    later_changes_stand = {"status_changed_at__lte": now} if occurred_at is not None else {}
    memberships = list(
        ListContact.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(sending_list_id=sending_list_id, pk__in=membership_ids, active=True, **later_changes_stand)
        .order_by("pk")
    )
    if not memberships:
        return 0
    ListContact.objects.filter(pk__in=[m.pk for m in memberships]).update(
        **opted_out_fields(reason=reason, at=now), updated_at=now
    )
    list_status_counts_add(
        sending_list_id=sending_list_id,
        deltas=Counter(
            {MembershipStatus.ACTIVE: -len(memberships), MembershipStatus(reason): len(memberships)}
        ),
    )
    events = SubscriptionEvent.objects.bulk_create(
        event_build(
            membership=m,
            contact=Contact(pk=m.contact_id, phone_number=numbers[m.pk])
            if numbers and m.pk in numbers
            else m.contact,
            sending_list_id=sending_list_id,
            kind=EventKind.OPTED_OUT,
            reason=reason,
            actor=actor,
            occurred_at=now,
            note=note,
        )
        for m in memberships
    )
    ledger_apply(events)
    return len(memberships)


@transaction.atomic
def contact_opt_out_of_list(
    *,
    sending_list: SendingList,
    contact: Contact,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> StatusChange:
    """Opt a contact out of a list whether or not it is a member.

    A member goes through `list_contact_opt_out`. A number that never subscribed (a STOP from a
    new number) gets an opted-out membership (signup method inbound) and an OPTED_OUT event, so
    the opt-out stands against any later import, upsert or out-of-order START.
    """
    membership = ListContact.objects.filter(sending_list=sending_list, contact=contact).first()
    if membership is not None:
        return list_contact_opt_out(
            membership=membership, reason=reason, actor=actor, occurred_at=occurred_at, note=note
        )
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    now = occurred_at or timezone.now()
    membership = ListContact(
        sending_list=sending_list,
        contact=contact,
        signup_method=SignupMethod.INBOUND,
        subscribed_at=now,
        **opted_out_fields(reason=reason, at=now),
    )
    if not membership_insert(
        membership, kind=EventKind.OPTED_OUT, reason=reason, actor=actor, occurred_at=now, note=note
    ):
        # A concurrent request created the membership first; opt that one out.
        return contact_opt_out_of_list(
            sending_list=sending_list,
            contact=contact,
            reason=reason,
            actor=actor,
            occurred_at=occurred_at,
            note=note,
        )
    return StatusChange(True, membership)


@transaction.atomic
def number_opt_out_of_list(
    *,
    phone_number: str,
    sending_list: SendingList,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> bool:
    """Opt a number out of a list whoever holds it now: the contact that has it as its phone or a
    phone channel (a membership
    opted out or created opted out), or, when no contact has it (a complaint or carrier opt-out
    about a deleted contact's message), an event and the consent ledger's suppression alone.
    Returns whether anything changed."""
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    contact = contact_by_number(phone_number, for_update=True)  # primary phone or phone channel
    if contact is not None:
        return contact_opt_out_of_list(
            sending_list=sending_list,
            contact=contact,
            reason=reason,
            actor=actor,
            occurred_at=occurred_at,
            note=note,
        ).changed
    if suppression_standing(sending_list_id=sending_list.pk, phone_number=phone_number) is not None:
        return False
    event_record(
        membership=None,
        contact=Contact(phone_number=phone_number),
        sending_list_id=sending_list.pk,
        kind=EventKind.OPTED_OUT,
        reason=reason,
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
        note=note,
    )
    return True


@transaction.atomic
def number_opt_out_everywhere(
    *, contact: Contact, actor: Actor, occurred_at: dt.datetime | None = None, note: str = ""
) -> SubscriptionEvent:
    """Record a STOPALL against the contact's number: an opt-out of every list, present and future,
    kept in the consent ledger until a START or resubscribe lifts it list by list. The caller opts
    out the memberships themselves (`list_contact_opt_out`)."""
    return event_record(
        membership=None,
        contact=contact,
        sending_list_id=None,
        kind=EventKind.OPTED_OUT,
        reason=UnsubReason.MESSAGE,
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
        note=note,
    )
