"""Receiving an inbound message: store it, create the contact, apply the keyword — in one transaction.

The opt-out is written inside the webhook request, before it answers 2xx, so no lost task can
lose it; Celery only runs the follow-up (the confirmation reply, `follow_up`), idempotently, by
message id. The keyword's rules (which STOP or START wins) are in `keyword_apply`.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.celery import enqueue_on_commit
from contacts.models import Contact
from contacts.phones import DEFAULT_REGION, normalize_phone
from contacts.selectors import contact_by_number
from contacts.services import contact_upsert, phone_or_error
from engagement.choices import Direction, MessageStatus
from engagement.keywords import match_keyword
from engagement.models import Message
from engagement.services.inbound.keyword_apply import inbound_keyword_apply
from engagement.services.provider_input import provider_message_id_or_error, refuse_nul_characters
from sendinglists.models import ListContact, SendingList
from sendinglists.subscriptions.changes import StatusChange
from sendinglists.subscriptions.selectors import member_for_update

FOLLOW_UP_TASK = "engagement.tasks.inbound_follow_up"


@dataclass(frozen=True, slots=True)
class InboundResult:
    message: Message
    created: bool
    """False: a retried or replayed webhook for a message already stored; nothing changed."""
    changes: tuple[StatusChange, ...] = ()


def _list_number(number: str) -> str:
    """A sending list's sender number as stored, from `number` in any format."""
    phone = normalize_phone(number, None)
    return phone.e164 if phone.is_valid else number.strip()


def sending_list_for_number(number: str) -> SendingList | None:
    """The sending list whose sender number is `number` (any format), if any."""
    return SendingList.objects.filter(phone_number=_list_number(number)).first()


# The default region of each sending list seen by this process, by sender number: only a guess
# for reading a sender's number before the list row is read, which the query then checks.
_list_regions: dict[str, str] = {}


def _enqueue_follow_up(message_id: int) -> None:
    enqueue_on_commit(FOLLOW_UP_TASK, message_id)


def inbound_message_receive(
    *,
    provider_message_id: str,
    from_number: str,
    to_number: str,
    body: str,
    received_at: dt.datetime | None = None,
) -> InboundResult:
    """Store an inbound SMS and apply its keyword, in one transaction; idempotent by provider id.

    Creates the contact for a new number (signup method inbound where START subscribes it). STOP
    opts the contact out of the list the message was sent to (creating an opted-out membership for
    a number that never subscribed), STOPALL out of every list it belongs to, START resubscribes
    (or subscribes), each a SubscriptionEvent naming the message. A message that reads like an
    opt-out without being a keyword is flagged `needs_review` and changes nothing. The follow-up
    task is enqueued after commit. A replay returns the stored message with `created=False`.
    `received_at` is the provider's timestamp of the message (default: now).
    """
    provider_message_id = provider_message_id_or_error(provider_message_id)
    refuse_nul_characters(body=body, from_number=from_number, to_number=to_number)
    arguments = {
        "provider_message_id": provider_message_id,
        "from_number": from_number,
        "to_number": to_number or "",
        "body": body or "",
        "received_at": received_at,
    }
    try:
        # Most messages are new: no look-up first, the unique provider id decides.
        return _receive(**arguments, is_retry=False)
    except IntegrityError:
        # A replay (a concurrent copy committed first): this attempt rolled back as a whole, and
        # the second one finds the stored message.
        return _receive(**arguments, is_retry=True)


@transaction.atomic
def _receive(
    *, provider_message_id, from_number, to_number, body, received_at, is_retry: bool
) -> InboundResult:
    if is_retry:
        existing = Message.objects.filter(provider_message_id=provider_message_id).first()
        if existing is not None:
            return _replayed(existing)
    sending_list, contact, membership, sender_number = _locked_sender(from_number, to_number)
    match = match_keyword(
        body,
        list_opt_out=sending_list.opt_out_keywords if sending_list else (),
        list_opt_in=sending_list.opt_in_keywords if sending_list else (),
    )
    message = Message(
        direction=Direction.INBOUND,
        sending_list=sending_list,
        contact=contact,
        list_contact=membership,
        from_number=sender_number,  # the contact's phone or one of its phone channels
        to_number=sending_list.phone_number if sending_list else to_number[:32],
        body=body,
        provider_message_id=provider_message_id,
        status=MessageStatus.RECEIVED,
        keyword=match.kind,
        needs_review=match.needs_review,
        sent_at=received_at or timezone.now(),
    )
    message.save()
    changes = tuple(inbound_keyword_apply(message=message, membership=membership))
    if message.list_contact_id is None and sending_list is not None:
        # The keyword may have created the membership (a STOP or START from a new number).
        created = [c.membership for c in changes if c.membership.sending_list_id == sending_list.pk]
        if created:
            message.list_contact = created[0]
            message.save(update_fields=["list_contact", "updated_at"])
    _enqueue_follow_up(message.pk)
    return InboundResult(message, True, changes)


def _locked_sender(
    from_number: str, to_number: str
) -> tuple[SendingList | None, Contact, ListContact | None, str]:
    """The sending list at `to_number` (if any), the sender's contact (the contact holding the
    number as its phone or a phone channel; created for a new number), its membership of that list
    and the sender's E.164 number, the contact and membership rows locked until commit: one
    person's messages are processed one at a time, so their order checks see each other's results.

    A member writing to its list (most messages) costs one query, which reads the list and locks
    both rows. The sender's number is read with the list's default region, known only once the
    list is read: that query reads it with the region the list had last time and only matches if
    the list still has it. Otherwise the list is read, then the contact locked (or created), then
    its membership unless that query already found there is none.
    """
    list_number = _list_number(to_number)
    guessed_region = _list_regions.get(list_number, DEFAULT_REGION)
    guessed_phone = normalize_phone(from_number, guessed_region)
    if guessed_phone.is_valid:
        found = member_for_update(
            list_number=list_number, region=guessed_region, phone_number=guessed_phone.e164
        )
        if found is not None:
            return (*found, guessed_phone.e164)
    sending_list = SendingList.objects.filter(phone_number=list_number).first()
    if sending_list is None:
        region = DEFAULT_REGION
    else:
        region = _list_regions[list_number] = sending_list.default_region
    phone = phone_or_error(from_number, region=region)
    contact = contact_by_number(phone.e164, for_update=True)  # a phone channel is its contact's number too
    if contact is None:
        contact, _ = contact_upsert(phone_number=phone.e164, region=region)  # locks the new row too
        return sending_list, contact, None, phone.e164
    if sending_list is None or (guessed_phone.is_valid and region == guessed_region):
        # The first query looked for this membership and found none. One an import or the API
        # creates meanwhile is found by the keyword's service, which looks before it inserts.
        return sending_list, contact, None, phone.e164
    membership = (
        ListContact.objects.select_for_update().filter(sending_list=sending_list, contact=contact).first()
    )
    return sending_list, contact, membership, phone.e164


def _replayed(message: Message) -> InboundResult:
    if message.direction == Direction.INBOUND and message.follow_up_done_at is None:
        _enqueue_follow_up(message.pk)  # the follow-up is idempotent; this only speeds recovery
    return InboundResult(message, False)
