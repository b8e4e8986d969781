"""The review queue's actions: an operator decides whether a flagged inbound message was an opt-out."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from engagement.models import Message
from sendinglists.actors import Actor
from sendinglists.choices import UnsubReason
from sendinglists.subscriptions.changes import StatusChange
from sendinglists.subscriptions.opt_out import contact_opt_out_of_list


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
