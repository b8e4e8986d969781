"""Sending: the one place that decides whether a message may go to a contact."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact
from contacts.selectors import contact_by_number
from engagement.backends import OutgoingSms, SmsRejected, get_backend
from engagement.choices import Direction, KeywordKind, MessageStatus
from engagement.models import Message
from engagement.services.delivery import early_delivery_reports_apply, message_failure_apply
from engagement.services.events import list_contact_count_send
from engagement.services.provider_input import refuse_nul_characters
from sendinglists.models import ListContact, SendingList
from sendinglists.subscriptions.consent import contact_suppression_standing, suppression_text

MAX_BODY_CHARS = 1600  # providers split longer text into at most 10 segments and refuse beyond

# Replies an opted-out member still gets: the one confirmation of their STOP and the answer to HELP.
COMPLIANCE_REPLY_KEYWORDS = frozenset({KeywordKind.OPT_OUT, KeywordKind.OPT_OUT_ALL, KeywordKind.HELP})


class SendRefused(ValidationError):
    """The send service will not message this contact on this list (the reason says why)."""


def status_callback_url() -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('engagement:twilio-status')}"


def _is_compliance_reply(reply_to: Message | None, *, sending_list: SendingList, contact: Contact) -> bool:
    return (
        reply_to is not None
        and reply_to.direction == Direction.INBOUND
        and reply_to.contact_id == contact.pk
        and reply_to.sending_list_id == sending_list.pk
        and reply_to.keyword in COMPLIANCE_REPLY_KEYWORDS
    )


def send_refusal(*, contact: Contact, membership: ListContact | None, sending_list: SendingList) -> str:
    """Why a marketing message may not go to this contact on this list ("" when it may): asked at
    send time, of the contact, its membership and the consent ledger of its number."""
    if contact.blocked:
        return f"{contact.phone_number} is blocked: it is never messaged."
    if membership is None:
        return f"{contact.phone_number} is not subscribed to {sending_list.name}."
    if not membership.active:
        return (
            f"{contact.phone_number} is unsubscribed from {sending_list.name} ({membership.status_label}): "
            "nothing is sent to it."
        )
    if not contact.is_valid:
        return f"{contact.phone_number} is marked invalid (the carrier could not deliver to it)."
    suppression = contact_suppression_standing(sending_list_id=sending_list.pk, contact=contact)
    if suppression is not None:  # one of its numbers opted out, or was blocked, under another contact
        return suppression_text(suppression, list_name=sending_list.name)
    return ""


@transaction.atomic
def message_send(
    *, sending_list: SendingList, contact: Contact, body: str, reply_to: Message | None = None
) -> Message:
    """Send one SMS from a sending list through settings.SMS_BACKEND; returns the outbound Message.

    Refuses with SendRefused (nothing sent, nothing written) a blocked contact, a contact that is
    not an active member of the list, and a number marked invalid. The one exception is a reply to
    the person's own STOP/STOPALL or HELP message (`reply_to`): carriers require that confirmation,
    so an opted-out member still gets it; a blocked contact never does. The contact and membership
    rows stay locked while deciding and sending, so a STOP committing at the same moment either
    comes first (and this send is refused) or waits for it. A sent message adds to the membership's
    send_count and last_sent_at. A message the provider refuses for good (SmsRejected) is recorded
    as failed and its error code goes through the delivery failure rules (Twilio 21610 opts the
    membership out); a transient backend error (SmsBackendError) propagates and writes nothing.
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The message is empty."})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError({"body": f"At most {MAX_BODY_CHARS} characters; this is {len(body)}."})
    refuse_nul_characters(body=body)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    membership = (
        ListContact.objects.select_for_update().filter(sending_list=sending_list, contact=contact).first()
    )
    if _is_compliance_reply(reply_to, sending_list=sending_list, contact=contact):
        refusal = f"{contact.phone_number} is blocked: it is never messaged." if contact.blocked else ""
        if not refusal:
            suppression = contact_suppression_standing(sending_list_id=sending_list.pk, contact=contact)
            if suppression is not None and suppression.kind == SuppressionKind.BLOCK:
                refusal = suppression_text(suppression, list_name=sending_list.name)
    else:
        refusal = send_refusal(contact=contact, membership=membership, sending_list=sending_list)
    if refusal:
        raise SendRefused(refusal, code="send_refused")
    to_number = contact.phone_number
    if reply_to is not None and reply_to.from_number != to_number and reply_to.contact_id == contact.pk:
        # A reply goes to the number that wrote when it is still one of the contact's phone channels.
        holder = contact_by_number(reply_to.from_number)
        if holder is not None and holder.pk == contact.pk:
            to_number = reply_to.from_number
    sent_at = timezone.now()
    try:
        provider_message_id = get_backend().send(
            OutgoingSms(
                from_number=sending_list.phone_number,
                to_number=to_number,
                body=body,
                status_callback_url=status_callback_url(),
            )
        )
        status, error_code = MessageStatus.SENT, ""
    except SmsRejected as rejected:
        provider_message_id, status, error_code = None, MessageStatus.FAILED, rejected.code[:16]
    message = Message.objects.create(
        direction=Direction.OUTBOUND,
        sending_list=sending_list,
        contact=contact,
        list_contact=membership,
        from_number=sending_list.phone_number,
        to_number=to_number,
        body=body,
        provider_message_id=provider_message_id,
        status=status,
        error_code=error_code,
        sent_at=sent_at,
        reply_to=reply_to,
    )
    if status == MessageStatus.FAILED:
        # Refused outright (the person opted out at the carrier, a landline): same rules as a report.
        message_failure_apply(message=message, error_code=error_code, occurred_at=sent_at)
    elif membership is not None:
        list_contact_count_send(membership_id=membership.pk, sent_at=sent_at)
    if provider_message_id:
        # The provider may have called back before this commit: its report waited for the id.
        early_delivery_reports_apply(provider_message_ids=[provider_message_id])
    return message
