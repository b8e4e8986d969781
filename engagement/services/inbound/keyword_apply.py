"""Applying an inbound message's keyword: STOP, STOPALL and START, in the order the person sent them.

Ordering. One person's messages are processed one at a time (the contact row is locked first,
`receive`), and STOP/START resolve by the messages' own timestamps: the person's latest keyword on a
list wins, whatever order the webhooks arrive in. A START is ignored when the same person sent a
later STOP (or STOPALL), and a STOP when they sent a later START. A STOP is never undone by a
subscription that was not the person's own (an import or operator acting after the STOP was sent
but before it arrived): it still applies.
"""

from django.db import connections

from engagement.choices import Direction, KeywordKind
from engagement.models import Message
from sendinglists.actors import Actor
from sendinglists.choices import SignupMethod, UnsubReason
from sendinglists.models import ListContact
from sendinglists.subscriptions.changes import StatusChange
from sendinglists.subscriptions.consent import ledger_lift_number
from sendinglists.subscriptions.opt_out import (
    contact_opt_out_of_list,
    list_contact_opt_out,
    number_opt_out_everywhere,
)
from sendinglists.subscriptions.subscribe import Outcome, list_contact_resubscribe, list_contact_subscribe

OPT_OUT_KINDS = (KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL)
KEYWORDS_OF_CONSENT = (KeywordKind.OPT_IN, *OPT_OUT_KINDS)


def _later_keyword(
    message: Message, sending_list_id: int, kinds, *, same_number: bool = False, last: bool = False
) -> Message | None:
    """The person's first keyword of `kinds` on this list sent after `message` (STOPALL counts on
    every list), or None; with `same_number`, only one sent from `message`'s own number; with
    `last`, the last one sent instead of the first. Raw SQL,
    like `member_for_update` (sendinglists.subscriptions.selectors), for its reason: every keyword
    checks this.

    A STOP yields only to a later START of its own number: another number's START does not lift it
    (`sendinglists/subscriptions/consent.py`), arriving first or not. A START yields to a later STOP
    from any of the contact's numbers.
    """
    kinds = list(kinds)
    meta = Message._meta
    quote = connections[Message.objects.db].ops.quote_name
    column = {
        name: quote(meta.get_field(name).column)
        for name in ("contact", "direction", "sent_at", "sending_list", "keyword", "from_number")
    }
    on_list = f"({column['sending_list']} = %s AND {column['keyword']} IN ({', '.join(['%s'] * len(kinds))}))"
    params = [message.contact_id, Direction.INBOUND, message.sent_at, sending_list_id, *kinds]
    if KeywordKind.OPT_OUT_ALL in kinds:
        on_list = f"({on_list} OR {column['keyword']} = %s)"
        params.append(KeywordKind.OPT_OUT_ALL)
    if same_number:
        on_list = f"{on_list} AND {column['from_number']} = %s"
        params.append(message.from_number)
    order = " DESC" if last else ""
    # Uses index: message_contact_time (contact, -sent_at, -id)
    sql = (
        f"SELECT * FROM {quote(meta.db_table)}"
        f" WHERE {column['contact']} = %s AND {column['direction']} = %s AND {column['sent_at']} > %s"
        f" AND {on_list} ORDER BY {column['sent_at']}{order}, {quote(meta.pk.column)}{order} LIMIT 1"
    )
    return next(iter(Message.objects.raw(sql, params)), None)


def inbound_keyword_apply(*, message: Message, membership: ListContact | None) -> list[StatusChange]:
    """Apply `message`'s keyword (inside `receive`'s transaction); returns the status changes.

    `membership` is the contact's (locked) membership of the list the message was sent to.

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
            # Resumed there when this number's last keyword on the list since is a START (not a STOP
            # it sent after that START).
            latest = _later_keyword(message, list_id, KEYWORDS_OF_CONSENT, same_number=True, last=True)
            if latest is not None and latest.keyword == KeywordKind.OPT_IN:
                ledger_lift_number(
                    contact=message.contact, phone_number=message.from_number, sending_list_id=list_id
                )
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
    if _later_keyword(message, sending_list_id, [KeywordKind.OPT_IN], same_number=True) is not None:
        return None  # this number's later START on this list stands
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
                membership=membership,
                actor=actor,
                occurred_at=message.sent_at,
                locked=True,
                start_from=message.from_number,
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
            list_contact_resubscribe(
                membership=membership,
                actor=actor,
                occurred_at=message.sent_at,
                start_from=message.from_number,
            )
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
