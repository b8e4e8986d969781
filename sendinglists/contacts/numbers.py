"""Writes that change which numbers a contact holds: a phone change and a phone channel.

A number carries its own consent (`sendinglists/consent.py`), so giving a contact another number
must not make that number active where it opted out, nor unblock it. Every surface (API, admin,
pages) changes a phone or adds a phone channel through these, never through the `contacts`
services directly.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.choices import ChannelKind, SuppressionKind
from contacts.models import Contact, ContactChannel, NumberSuppression
from contacts.phones import DEFAULT_REGION
from contacts.services import (
    contact_channel_add,
    contact_phone_set,
    contact_update,
    number_is_blocked,
    phone_or_error,
)
from sendinglists.actors import Actor
from sendinglists.choices import EventKind
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.changes import event_record
from sendinglists.subscriptions.consent import standing_of
from sendinglists.subscriptions.models import ListContact


def number_consent_conflicts(*, contact: Contact, phone_number: str) -> list[str]:
    """Why `phone_number` may not become one of the contact's numbers: it is blocked (and the
    contact is not), or it opted out of a list (or of every list) on which the contact is active.
    Empty when it may.
    # Uses index: suppression_list_phone_unique, suppression_global_phone_unique
    """
    active_list_ids = sorted(
        ListContact.objects.filter(contact=contact, active=True).values_list("sending_list_id", flat=True)
    )
    rows = list(NumberSuppression.objects.filter(phone_number=phone_number))
    problems = []
    if any(row.kind == SuppressionKind.BLOCK for row in rows) and not contact.blocked:
        problems.append(f"{phone_number} is blocked; unblock it before giving it to this contact.")
    opted_out_of = [
        list_id
        for list_id in active_list_ids
        if (standing := standing_of(rows, sending_list_id=list_id)) is not None
        and standing.kind == SuppressionKind.OPT_OUT
    ]
    if opted_out_of:
        problems.append(
            f"{phone_number} opted out of {_list_names(opted_out_of)}, where this contact is subscribed; "
            "unsubscribe the contact there first, or have the number send START."
        )
    return problems


def _list_names(list_ids) -> str:
    lists = SendingList.objects.filter(pk__in=list_ids).order_by("name", "pk")
    return ", ".join(f"{sending_list.name} ({sending_list.phone_number})" for sending_list in lists)


@transaction.atomic
def contact_change_phone(
    *, contact: Contact, phone_number: str, actor: Actor, region: str | None = DEFAULT_REGION
) -> Contact:
    """Give the contact another number, refused (ValidationError on `phone_number`, naming the
    lists) when the consent ledger holds that number as opted out of a list where the contact is
    active, or as blocked. The old number keeps every suppression it had. A blocked contact's
    block goes with it: its new number is blocked too (audited)."""
    phone = phone_or_error(phone_number, region=region)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if phone.e164 == contact.phone_number:
        return contact
    problems = number_consent_conflicts(contact=contact, phone_number=phone.e164)
    if problems:
        raise ValidationError({"phone_number": problems})
    old_number = contact.phone_number
    contact_phone_set(contact=contact, phone=phone)
    if contact.blocked:
        event_record(
            membership=None,
            contact=contact,
            sending_list_id=None,
            kind=EventKind.BLOCKED,
            actor=actor,
            occurred_at=contact.updated_at,
            note=f"The contact's block, carried from {old_number} by a phone change.",
        )
    return contact


@transaction.atomic
def contact_edit(
    *,
    contact: Contact,
    values: dict,
    actor: Actor,
    phone_number: str | None = None,
    region: str | None = DEFAULT_REGION,
) -> Contact:
    """An explicit edit of a contact's own fields and, with `phone_number`, its number (through
    `contact_change_phone`). Atomic: a refused number changes nothing."""
    if phone_number is not None:
        contact = contact_change_phone(contact=contact, phone_number=phone_number, actor=actor, region=region)
    return contact_update(contact=contact, values=values)


@transaction.atomic
def contact_channel_add_checked(
    *,
    contact: Contact,
    kind: str,
    value: str,
    region: str | None = DEFAULT_REGION,
    actor: Actor | None = None,
) -> ContactChannel:
    """`contact_channel_add`, refusing a phone channel whose number the consent ledger holds as
    blocked or opted out of a list where the contact is active (a ValidationError on `value`). A
    blocked contact's block goes to its new phone channel too (audited), as to a new phone."""
    if kind != ChannelKind.PHONE:
        return contact_channel_add(contact=contact, kind=kind, value=value, region=region)
    phone = phone_or_error(value, region=region, field="value")
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    problems = number_consent_conflicts(contact=locked, phone_number=phone.e164)
    if problems:
        raise ValidationError({"value": problems})
    channel = contact_channel_add(contact=locked, kind=kind, value=phone.e164, region=region)
    if locked.blocked and not number_is_blocked(phone.e164):
        event_record(
            membership=None,
            contact=locked,  # the ledger row goes to every number it holds, the new channel too
            sending_list_id=None,
            kind=EventKind.BLOCKED,
            actor=actor or Actor.system("phone channel added"),
            occurred_at=timezone.now(),
            note=f"The contact's block, carried to its new phone channel {phone.e164}.",
        )
    return channel
