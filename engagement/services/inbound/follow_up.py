"""The follow-up of an inbound message: its confirmation or HELP reply, sent once, after commit.

`receive` enqueues the task (engagement.tasks.inbound_follow_up) that runs `inbound_follow_up_run`;
a periodic sweep runs the follow-ups that never ran.
"""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from engagement.choices import Direction, KeywordKind
from engagement.models import Message
from engagement.services.outbound import SendRefused, message_send
from sendinglists.models import ListContact, SendingList

logger = logging.getLogger(__name__)

OPT_OUT_CONFIRMATION = (
    "{name}: You are unsubscribed and will receive no more messages. Reply START to resubscribe."
)
OPT_OUT_ALL_CONFIRMATION = (
    "{name}: You are unsubscribed from all our lists and will receive no more messages."
)
OPT_IN_CONFIRMATION = "{name}: You are subscribed again. Reply HELP for help, STOP to opt out."
DEFAULT_HELP = "{name}: Reply STOP to opt out, START to subscribe again."


def _membership(sending_list: SendingList | None, contact) -> ListContact | None:
    if sending_list is None:
        return None
    return ListContact.objects.filter(sending_list=sending_list, contact=contact).first()


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
