"""Inbound messages: store, create the contact, apply the keyword — in one transaction.

The opt-out is written inside the webhook request, before it answers 2xx, so no lost task can
lose it; Celery only runs the follow-up (the confirmation reply), idempotently, by message id.

Ordering. One person's messages are processed one at a time (the contact row is locked first),
and STOP/START resolve by the messages' own timestamps: the person's latest keyword on a list
wins, whatever order the webhooks arrive in. A START is ignored when the same person sent a later
STOP (or STOPALL), and a STOP when they sent a later START. A STOP is never undone by a
subscription that was not the person's own (an import or operator acting after the STOP was sent
but before it arrived): it still applies.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.phones import DEFAULT_REGION, normalize_phone
from contacts.services import contact_upsert, phone_or_error
from engagement.choices import Direction, KeywordKind, MessageStatus
from engagement.keywords import match_keyword
from engagement.models import Message
from engagement.services.outbound import SendRefused, message_send
from engagement.services.provider_input import provider_message_id_or_error, refuse_nul_characters
from sendinglists.actors import Actor
from sendinglists.choices import SignupMethod, UnsubReason
from sendinglists.models import ListContact, SendingList
from sendinglists.subscriptions.changes import StatusChange
from sendinglists.subscriptions.consent import ledger_lift_list
from sendinglists.subscriptions.opt_out import (
    contact_opt_out_of_list,
    list_contact_opt_out,
    number_opt_out_everywhere,
)
from sendinglists.subscriptions.subscribe import Outcome, list_contact_resubscribe, list_contact_subscribe

logger = logging.getLogger(__name__)

OPT_OUT_KINDS = (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL)

OPT_OUT_CONFIRMATION = (
    "{name}: You are unsubscribed and will receive no more messages. Reply START to resubscribe."
)
OPT_OUT_ALL_CONFIRMATION = (
    "{name}: You are unsubscribed from all our lists and will receive no more messages."
)
OPT_IN_CONFIRMATION = "{name}: You are subscribed again. Reply HELP for help, STOP to opt out."
DEFAULT_HELP = "{name}: Reply STOP to opt out, START to subscribe again."


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
    from engagement.tasks import inbound_follow_up  # tasks import services: import at call time

    inbound_follow_up.delay_on_commit(message_id)


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
    sending_list, contact, membership = _locked_sender(from_number, to_number)
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
        from_number=contact.phone_number,
        to_number=sending_list.phone_number if sending_list else to_number[:32],
        body=body,
        provider_message_id=provider_message_id,
        status=MessageStatus.RECEIVED,
        keyword=match.kind,
        needs_review=match.needs_review,
        sent_at=received_at or timezone.now(),
    )
    message.save()
    changes = tuple(_apply_keyword(message, membership))
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
) -> tuple[SendingList | None, Contact, ListContact | None]:
    """The sending list at `to_number` (if any), the sender's contact (created for a new number)
    and its membership of that list, the contact and membership rows locked until commit: one
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
        found = _member_locked(list_number, guessed_region, guessed_phone.e164)
        if found is not None:
            return found
    sending_list = SendingList.objects.filter(phone_number=list_number).first()
    if sending_list is None:
        region = DEFAULT_REGION
    else:
        region = _list_regions[list_number] = sending_list.default_region
    phone = phone_or_error(from_number, region=region)
    contact = Contact.objects.select_for_update().filter(phone_number=phone.e164).first()
    if contact is None:
        contact, _ = contact_upsert(phone_number=phone.e164, region=region)  # locks the new row too
        return sending_list, contact, None
    if sending_list is None or (guessed_phone.is_valid and region == guessed_region):
        # The first query looked for this membership and found none. One an import or the API
        # creates meanwhile is found by the keyword's service, which looks before it inserts.
        return sending_list, contact, None
    membership = (
        ListContact.objects.select_for_update().filter(sending_list=sending_list, contact=contact).first()
    )
    return sending_list, contact, membership


class _Columns:
    """One model's concrete columns in a hand-written SELECT, read back into an instance the way
    the ORM would (`from_db`, with the field and backend converters, e.g. JSON text -> dict)."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self.columns = [field.get_col(alias) for field in self.fields]

    def select(self, connection) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def instance(self, connection, values):
        values = list(values)
        for index, column in enumerate(self.columns):
            for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


_MEMBER, _CONTACT, _LIST = _Columns(ListContact, "m"), _Columns(Contact, "c"), _Columns(SendingList, "l")


def _member_locked(
    list_number: str, region: str, phone: str
) -> tuple[SendingList, Contact, ListContact] | None:
    """The list at `list_number` (if its default region is `region`), the contact at `phone` and
    its membership of that list, contact and membership locked: one query, hand-written because
    this runs on every inbound message and compiling the same ORM query (select_related, select
    for update of two tables) cost more than running it.

    PostgreSQL locks the rows in the order OF names them: the contact first, as every other path
    of a person's messages does (the opposite order could deadlock with them).
    """
    connection = connections[ListContact.objects.db]
    quote = connection.ops.quote_name
    locking = " FOR UPDATE OF c, m" if connection.features.has_select_for_update_of else ""
    # Uses index: listcontact_list_contact_unique (and the unique phone numbers of both sides)
    sql = (
        f"SELECT {_MEMBER.select(connection)}, {_CONTACT.select(connection)}, {_LIST.select(connection)}"
        f" FROM {quote(ListContact._meta.db_table)} m"
        f" JOIN {quote(Contact._meta.db_table)} c ON c.id = m.contact_id"
        f" JOIN {quote(SendingList._meta.db_table)} l ON l.id = m.sending_list_id"
        f" WHERE l.phone_number = %s AND l.default_region = %s AND c.phone_number = %s{locking}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list_number, region, phone])
        row = cursor.fetchone()
    if row is None:
        return None
    member_end = len(_MEMBER.fields)
    contact_end = member_end + len(_CONTACT.fields)
    membership = _MEMBER.instance(connection, row[:member_end])
    contact = _CONTACT.instance(connection, row[member_end:contact_end])
    sending_list = _LIST.instance(connection, row[contact_end:])
    ListContact.contact.field.set_cached_value(membership, contact)
    ListContact.sending_list.field.set_cached_value(membership, sending_list)
    return sending_list, contact, membership


def _replayed(message: Message) -> InboundResult:
    if message.direction == Direction.INBOUND and message.follow_up_done_at is None:
        _enqueue_follow_up(message.pk)  # the follow-up is idempotent; this only speeds recovery
    return InboundResult(message, False)


def _membership(sending_list: SendingList | None, contact) -> ListContact | None:
    if sending_list is None:
        return None
    return ListContact.objects.filter(sending_list=sending_list, contact=contact).first()


def _later_keyword(message: Message, sending_list_id: int, kinds) -> Message | None:
    """The person's first keyword of `kinds` on this list sent after `message` (STOPALL counts on
    every list), or None. Raw SQL for the reason `_member_locked` gives: every keyword checks this.
    """
    kinds = list(kinds)
    meta = Message._meta
    quote = connections[Message.objects.db].ops.quote_name
    column = {
        name: quote(meta.get_field(name).column)
        for name in ("contact", "direction", "sent_at", "sending_list", "keyword")
    }
    on_list = f"({column['sending_list']} = %s AND {column['keyword']} IN ({', '.join(['%s'] * len(kinds))}))"
    params = [message.contact_id, Direction.INBOUND, message.sent_at, sending_list_id, *kinds]
    if KeywordKind.OPT_OUT_ALL in kinds:
        on_list = f"({on_list} OR {column['keyword']} = %s)"
        params.append(KeywordKind.OPT_OUT_ALL)
    # Uses index: message_contact_time (contact, -sent_at, -id)
    sql = (
        f"SELECT * FROM {quote(meta.db_table)}"
        f" WHERE {column['contact']} = %s AND {column['direction']} = %s AND {column['sent_at']} > %s"
        f" AND {on_list} ORDER BY {column['sent_at']}, {quote(meta.pk.column)} LIMIT 1"
    )
    return next(iter(Message.objects.raw(sql, params)), None)


def _apply_keyword(message: Message, membership: ListContact | None) -> list[StatusChange]:
    """`membership` is the contact's (locked) membership of the list the message was sent to.

    Every membership passed on to the opt-out and resubscribe services is locked in this
    transaction, so they write without reading it again."""
    if message.keyword == KeywordKind.OPT_OUT_ALL:
        memberships = {
            m.sending_list_id: m
            for m in ListContact.objects.select_for_update(of=("self",))
            .select_related("contact")
            .filter(contact_id=message.contact_id)
            .order_by("pk")
        }
        if message.sending_list_id and message.sending_list_id not in memberships:
            memberships[message.sending_list_id] = None  # opted out of, member or not
        changes = [
            change
            for list_id, target in sorted(memberships.items())
            if (change := _opt_out(message, list_id, target))
        ]
        # The number is opted out of every list, present and future, in the consent ledger; a
        # START the person sent after this STOPALL (and that arrived first) still stands on its list.
        number_opt_out_everywhere(
            contact=message.contact, actor=Actor.for_message(message), occurred_at=message.sent_at
        )
        for list_id in memberships:
            if _later_keyword(message, list_id, [KeywordKind.OPT_IN]) is not None:
                ledger_lift_list(phone_number=message.contact.phone_number, sending_list_id=list_id)
        return changes
    if message.sending_list is None:
        return []
    if message.keyword == KeywordKind.OPT_OUT:
        change = _opt_out(message, message.sending_list_id, membership)
        return [change] if change else []
    if message.keyword == KeywordKind.OPT_IN:
        return _opt_in(message, membership)
    return []


def _opt_out(message: Message, sending_list_id: int, membership: ListContact | None) -> StatusChange | None:
    """Opt out of one list; `membership` is None only for the list the message was sent to."""
    if _later_keyword(message, sending_list_id, [KeywordKind.OPT_IN]) is not None:
        return None  # the person's later START on this list stands
    occurred_at = message.sent_at
    note = ""
    if membership is not None and membership.active and membership.status_changed_at > occurred_at:
        # Subscribed after the STOP was sent, but not by the person: the STOP still applies.
        occurred_at = membership.status_changed_at
        note = f"STOP sent at {message.sent_at:%Y-%m-%d %H:%M:%S} UTC arrived after a later subscription."
    actor = Actor.for_message(message)
    if membership is None:
        return contact_opt_out_of_list(
            sending_list=message.sending_list,
            contact=message.contact,
            reason=UnsubReason.MESSAGE,
            actor=actor,
            occurred_at=occurred_at,
        )
    return list_contact_opt_out(
        membership=membership,
        reason=UnsubReason.MESSAGE,
        actor=actor,
        occurred_at=occurred_at,
        note=note,
        locked=True,
    )


def _opt_in(message: Message, membership: ListContact | None) -> list[StatusChange]:
    sending_list, contact = message.sending_list, message.contact
    actor = Actor.for_message(message)
    later_opt_out = _later_keyword(message, sending_list.pk, list(OPT_OUT_KINDS))
    if membership is not None:
        if later_opt_out is not None:
            return []  # the person's later STOP stands
        return [
            list_contact_resubscribe(
                membership=membership, actor=actor, occurred_at=message.sent_at, locked=True
            )
        ]
    result = list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method=SignupMethod.INBOUND,
        actor=actor,
        occurred_at=message.sent_at,
    )
    membership = result.membership
    if membership is None:
        return []  # blocked
    changes = [StatusChange(result.outcome == Outcome.CREATED, membership, result.reason)]
    if result.outcome == Outcome.SKIPPED_OPTED_OUT and later_opt_out is None:
        # The number opted out under an earlier (deleted) membership; START is its way back.
        changes.append(
            list_contact_resubscribe(membership=membership, actor=actor, occurred_at=message.sent_at)
        )
    elif later_opt_out is not None and membership.active:
        # This START arrived after the person's later STOPALL, which found no membership here to
        # opt out: apply it now, in the order the person sent them.
        changes.append(
            list_contact_opt_out(
                membership=membership,
                reason=UnsubReason.MESSAGE,
                actor=Actor.for_message(later_opt_out),
                occurred_at=later_opt_out.sent_at,
                note=f"Applied after the earlier START (message #{message.pk}) arrived late.",
            )
        )
    return changes


# --- follow-up ------------------------------------------------------------------------------------


def _reply_body(message: Message) -> str:
    sending_list = message.sending_list
    if sending_list is None:
        return ""
    name = sending_list.name
    if message.keyword == KeywordKind.HELP:
        return sending_list.help_text or DEFAULT_HELP.format(name=name)
    if message.keyword == KeywordKind.OPT_OUT_ALL:
        return OPT_OUT_ALL_CONFIRMATION.format(name=name)
    membership = _membership(sending_list, message.contact)
    if message.keyword == KeywordKind.OPT_OUT and membership is not None and not membership.active:
        return OPT_OUT_CONFIRMATION.format(name=name)
    if message.keyword == KeywordKind.OPT_IN and membership is not None and membership.active:
        return OPT_IN_CONFIRMATION.format(name=name)
    return ""  # no keyword, or a keyword the person's later message overrode: nothing to confirm


@transaction.atomic
def inbound_follow_up_run(*, message_id: int) -> bool:
    """Run an inbound message's follow-up (the confirmation or HELP reply) exactly once.

    Returns whether it ran now. The message row is locked and `follow_up_done_at` is set in the
    same transaction as the reply, so a redelivered task or the sweep running it again does
    nothing, and at most one reply exists per message (Message.reply_to is one-to-one). A reply
    the send service refuses (a blocked contact) is skipped; a backend error propagates so the
    task retries.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("sending_list", "contact")
        .filter(pk=message_id, direction=Direction.INBOUND)
        .first()
    )
    if message is None or message.follow_up_done_at is not None:
        return False
    body = _reply_body(message) if message.contact_id is not None else ""  # no reply once erased
    if body:
        try:
            message_send(
                sending_list=message.sending_list, contact=message.contact, body=body, reply_to=message
            )
        except SendRefused as refused:
            logger.info("No reply to inbound message %s: %s", message.pk, refused.message)
    message.follow_up_done_at = timezone.now()
    message.save(update_fields=["follow_up_done_at", "updated_at"])
    return True


def inbound_follow_ups_pending(*, older_than: dt.timedelta, limit: int) -> list[int]:
    """Ids of inbound messages whose follow-up has not run and that arrived before `older_than` ago."""
    # Uses index: message_follow_up_pending (partial: inbound, follow_up_done_at IS NULL)
    return list(
        Message.objects.filter(
            direction=Direction.INBOUND,
            follow_up_done_at__isnull=True,
            created_at__lte=timezone.now() - older_than,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- operator review ------------------------------------------------------------------------------


def _locked_for_review(message: Message) -> Message | None:
    return (
        Message.objects.select_for_update(of=("self",))
        .select_related("sending_list", "contact")
        .filter(pk=message.pk, needs_review=True)
        .first()
    )


def _mark_reviewed(message: Message, user) -> None:
    message.needs_review = False
    message.reviewed_at = timezone.now()
    message.reviewed_by = user
    message.save(update_fields=["needs_review", "reviewed_at", "reviewed_by", "updated_at"])


@transaction.atomic
def inbound_message_review_opt_out(*, message: Message, user) -> StatusChange | None:
    """An operator decides a flagged message was an opt-out: opt the contact out of the list.

    The opt-out has reason message and names the operator. Returns None when the message was
    already reviewed (a double click changes nothing).
    """
    message = _locked_for_review(message)
    if message is None:
        return None
    if message.sending_list is None:
        raise ValidationError(
            "The message was not sent to a sending list's number: there is no list to opt out of."
        )
    change = contact_opt_out_of_list(
        sending_list=message.sending_list,
        contact=message.contact,
        reason=UnsubReason.MESSAGE,
        actor=Actor.for_user(user),
        note=f"Operator review of inbound message #{message.pk}: {message.body[:120]!r}",
    )
    _mark_reviewed(message, user)
    return change


@transaction.atomic
def inbound_message_review_dismiss(*, message: Message, user) -> bool:
    """An operator decides a flagged message was not an opt-out; returns whether it was still flagged."""
    message = _locked_for_review(message)
    if message is None:
        return False
    _mark_reviewed(message, user)
    return True
