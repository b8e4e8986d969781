"""Delivery status reports and complaints: what the carrier tells us about an outbound message.

Error codes are Twilio's (https://www.twilio.com/docs/api/errors); other providers map theirs to
these in their webhook adapters.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.choices import LineType
from contacts.services import contact_mark_invalid
from engagement.choices import Direction, MessageStatus
from engagement.models import EarlyDeliveryReport, Message
from engagement.services.provider_input import provider_message_id_or_error, refuse_nul_characters
from sendinglists.actors import Actor
from sendinglists.choices import ActorKind, UnsubReason
from sendinglists.models import ListContact
from sendinglists.subscriptions.opt_out import list_contact_opt_out, number_opt_out_of_list

# Permanent: the number cannot receive SMS at all (value: what we learn about its line type).
INVALID_NUMBER_ERROR_CODES: dict[str, str] = {
    "21211": "",  # invalid 'To' phone number
    "21614": LineType.LANDLINE,  # 'To' is not a mobile number
    "30005": "",  # unknown destination handset: the number does not exist
    "30006": LineType.LANDLINE,  # landline or unreachable carrier
}
# The person replied STOP to the carrier; we learn of the opt-out from the failed send.
CARRIER_OPT_OUT_ERROR_CODES = frozenset({"21610"})

_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.UNDELIVERED: 2,
    MessageStatus.FAILED: 2,
}
DELIVERY_STATUSES = tuple(_RANK)
FAILED_STATUSES = frozenset({MessageStatus.UNDELIVERED, MessageStatus.FAILED})
# How long a report waits for its message before the sweep drops it.
EARLY_REPORT_KEEP = dt.timedelta(hours=24)
EARLY_REPORT_BATCH = 500


class UnknownMessage(ObjectDoesNotExist):
    """No outbound message has this provider id."""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    message: Message
    applied: bool
    """False: a replayed or stale report (the message already had this or a later status)."""
    membership_reason: str = ""
    """The unsub_reason this report set on the membership ("" when the membership did not change)."""


def delivery_actor(message: Message, detail: str = "") -> Actor:
    label = f"Delivery report for {message.provider_message_id or f'message #{message.pk}'}"
    label += f" ({detail})" if detail else ""
    # The number the message went to acted (its carrier's STOP, its spam complaint): an opt-out it
    # causes is that number's own, a phone channel's too (`sendinglists/subscriptions/consent.py`).
    return Actor(kind=ActorKind.DELIVERY, id=str(message.pk), label=label, number=message.to_number)


def _locked_outbound(provider_message_id: str) -> Message:
    message = (
        Message.objects.select_for_update()
        .filter(provider_message_id=provider_message_id, direction=Direction.OUTBOUND)
        .first()
    )
    if message is None:
        raise UnknownMessage(f"No outbound message has the provider id {provider_message_id!r}.")
    return message


def _membership_of(message: Message) -> ListContact | None:
    if message.list_contact_id:
        return ListContact.objects.filter(pk=message.list_contact_id).first()
    if message.sending_list_id:
        return ListContact.objects.filter(
            sending_list_id=message.sending_list_id, contact_id=message.contact_id
        ).first()
    return None


@transaction.atomic
def message_status_update(
    *, provider_message_id: str, status: str, error_code: str = "", occurred_at: dt.datetime | None = None
) -> StatusUpdate:
    """Apply a delivery status report to an outbound message; idempotent and order-tolerant.

    Statuses only move forward (queued → sent → delivered/undelivered/failed), so a replayed or
    late report changes nothing and a failure is counted once. On a failure:
    - 21610 (the person opted out at the carrier): the membership opts out with reason message;
    - a permanent invalid/landline code: the contact is marked invalid (with its line type) and
      every active membership of it gets invalid_contact;
    - any other failure adds one to the membership's consecutive_failures (an F() update); at
      settings.BAD_RESPONSE_FAILURE_LIMIT in a row it gets bad_response.
    A delivery resets consecutive_failures. Raises UnknownMessage for an unknown provider id.
    """
    if status not in _RANK:
        raise ValueError(f"Unknown delivery status {status!r}.")
    occurred_at = occurred_at or timezone.now()
    message = _locked_outbound(provider_message_id)
    if _RANK[status] <= _RANK.get(message.status, 0):
        return StatusUpdate(message, False)
    message.status = status
    message.error_code = (error_code or "")[:16] if status in FAILED_STATUSES else message.error_code
    message.save(update_fields=["status", "error_code", "updated_at"])
    membership = _membership_of(message)
    if status == MessageStatus.DELIVERED:
        if membership is not None:
            ListContact.objects.filter(pk=membership.pk, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
        return StatusUpdate(message, True)
    if status not in FAILED_STATUSES:
        return StatusUpdate(message, True)
    return StatusUpdate(message, True, _apply_failure(message, membership, error_code or "", occurred_at))


def message_failure_apply(
    *, message: Message, error_code: str, occurred_at: dt.datetime | None = None
) -> str:
    """Apply the failure rules to an outbound message that failed (a status report, or a provider
    that refused it outright); returns the unsub_reason set on the membership, if any. Call it
    inside the transaction that recorded the failure."""
    return _apply_failure(message, _membership_of(message), error_code, occurred_at or timezone.now())


def _apply_failure(message: Message, membership: ListContact | None, error_code: str, occurred_at) -> str:
    actor = delivery_actor(message, f"{message.status} {error_code}".strip())
    if message.contact_id is None and (
        error_code in CARRIER_OPT_OUT_ERROR_CODES or error_code in INVALID_NUMBER_ERROR_CODES
    ):
        # The contact was deleted after the send: the number still opts out (consent is the number's).
        reason = (
            UnsubReason.MESSAGE if error_code in CARRIER_OPT_OUT_ERROR_CODES else UnsubReason.INVALID_CONTACT
        )
        return (
            reason
            if _number_opt_out(message, reason, actor, occurred_at, f"Carrier error {error_code}.")
            else ""
        )
    if error_code in CARRIER_OPT_OUT_ERROR_CODES:
        if membership is None:
            # The membership was removed after the send: the number still opts out of the list.
            note = f"The carrier reports that the recipient opted out (error {error_code})."
            return (
                UnsubReason.MESSAGE
                if _number_opt_out(message, UnsubReason.MESSAGE, actor, occurred_at, note)
                else ""
            )
        change = list_contact_opt_out(
            membership=membership,
            reason=UnsubReason.MESSAGE,
            actor=actor,
            occurred_at=occurred_at,
            note=f"The carrier reports that the recipient opted out (error {error_code}).",
        )
        return UnsubReason.MESSAGE if change.changed else ""
    if error_code in INVALID_NUMBER_ERROR_CODES:
        contact_mark_invalid(
            contact=message.contact, line_type=INVALID_NUMBER_ERROR_CODES[error_code] or None
        )
        changed = False
        for other in ListContact.objects.filter(contact_id=message.contact_id, active=True):
            changed |= list_contact_opt_out(
                membership=other,
                reason=UnsubReason.INVALID_CONTACT,
                actor=actor,
                occurred_at=occurred_at,
                note=f"The carrier cannot deliver to this number (error {error_code}).",
            ).changed
        return UnsubReason.INVALID_CONTACT if changed else ""
    if membership is None:
        return ""
    counted = ListContact.objects.filter(pk=membership.pk, active=True).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    if not counted:
        return ""
    failures = ListContact.objects.values_list("consecutive_failures", flat=True).get(pk=membership.pk)
    if failures < settings.BAD_RESPONSE_FAILURE_LIMIT:
        return ""
    change = list_contact_opt_out(
        membership=membership,
        reason=UnsubReason.BAD_RESPONSE,
        actor=actor,
        occurred_at=occurred_at,
        note=f"{failures} carrier rejections in a row (limit {settings.BAD_RESPONSE_FAILURE_LIMIT}).",
    )
    return UnsubReason.BAD_RESPONSE if change.changed else ""


@transaction.atomic
def message_complaint_record(
    *, provider_message_id: str, occurred_at: dt.datetime | None = None
) -> StatusUpdate:
    """A spam complaint about an outbound message: its membership opts out with reason complaint.

    Idempotent: a second complaint finds the membership already unsubscribed and changes nothing.
    Raises UnknownMessage for an unknown provider id.
    """
    message = _locked_outbound(provider_message_id)
    membership = _membership_of(message)
    if membership is None:
        # No membership any more (the contact was deleted, or the membership): the number opts out.
        changed = _number_opt_out(
            message,
            UnsubReason.COMPLAINT,
            delivery_actor(message, "spam complaint"),
            occurred_at or timezone.now(),
            "The recipient reported the message as spam.",
        )
        return StatusUpdate(message, changed, UnsubReason.COMPLAINT if changed else "")
    change = list_contact_opt_out(
        membership=membership,
        reason=UnsubReason.COMPLAINT,
        actor=delivery_actor(message, "spam complaint"),
        occurred_at=occurred_at or timezone.now(),
        note="The recipient reported the message as spam.",
    )
    return StatusUpdate(message, change.changed, UnsubReason.COMPLAINT if change.changed else "")


def _number_opt_out(message: Message, reason: str, actor, occurred_at, note: str) -> bool:
    if message.sending_list is None:
        return False
    return number_opt_out_of_list(
        phone_number=message.to_number,
        sending_list=message.sending_list,
        reason=reason,
        actor=actor,
        occurred_at=occurred_at,
        note=note,
    )


def delivery_report_receive(
    *,
    provider_message_id: str,
    kind: str = EarlyDeliveryReport.Kind.STATUS,
    status: str = "",
    error_code: str = "",
    occurred_at: dt.datetime | None = None,
) -> StatusUpdate | None:
    """A provider's report (a status or a complaint) as a webhook receives it: applied now, or kept
    for its message (None) when no outbound message has the provider id yet — the send that will
    record it may not have committed. Kept reports are applied by `early_delivery_reports_apply`.
    One report is kept per provider id, kind and status: a replay of a kept report changes nothing.
    A missing, over-long or NUL-holding id (or a NUL in the error code) is a ValidationError.
    """
    provider_message_id = provider_message_id_or_error(provider_message_id)
    refuse_nul_characters(error_code=error_code)
    occurred_at = occurred_at or timezone.now()
    try:  # an unknown status is refused (ValueError) before the message is looked for
        return _apply_report(provider_message_id, kind, status, error_code, occurred_at)
    except UnknownMessage:
        # Unique on (provider id, kind, status): a replay inserts nothing (ON CONFLICT DO NOTHING).
        EarlyDeliveryReport.objects.bulk_create(
            [
                EarlyDeliveryReport(
                    provider_message_id=provider_message_id,
                    kind=kind,
                    status=status if kind == EarlyDeliveryReport.Kind.STATUS else "",
                    error_code=(error_code or "")[:16],
                    occurred_at=occurred_at,
                )
            ],
            ignore_conflicts=True,
        )
        return None


def _apply_report(
    provider_message_id: str, kind: str, status: str, error_code: str, occurred_at
) -> StatusUpdate:
    if kind == EarlyDeliveryReport.Kind.COMPLAINT:
        return message_complaint_record(provider_message_id=provider_message_id, occurred_at=occurred_at)
    return message_status_update(
        provider_message_id=provider_message_id, status=status, error_code=error_code, occurred_at=occurred_at
    )


def early_delivery_reports_apply(
    *, provider_message_ids: list[str] | None = None, batch: int = EARLY_REPORT_BATCH
) -> int:
    """Apply kept reports whose message is known now, in the order they happened; returns how many.

    With `provider_message_ids` (a send that just recorded its id, inside its transaction) only
    theirs. Without (the periodic sweep), every kept report whose message exists, at most `batch`,
    and reports older than EARLY_REPORT_KEEP are dropped. Each report is applied and deleted in one
    transaction; applying twice is harmless (statuses only move forward, an opt-out happens once).
    """
    reports = EarlyDeliveryReport.objects.order_by("occurred_at", "id")
    if provider_message_ids is not None:
        reports = reports.filter(provider_message_id__in=provider_message_ids)
    else:
        known = Message.objects.filter(direction=Direction.OUTBOUND, provider_message_id__isnull=False)
        reports = reports.filter(provider_message_id__in=known.values("provider_message_id"))
    applied = 0
    for report_id in list(reports.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            report = (
                EarlyDeliveryReport.objects.select_for_update(skip_locked=True).filter(pk=report_id).first()
            )
            if report is None:
                continue  # another sweep has it
            try:
                _apply_report(
                    report.provider_message_id,
                    report.kind,
                    report.status,
                    report.error_code,
                    report.occurred_at,
                )
            except UnknownMessage:
                continue
            report.delete()
            applied += 1
    if provider_message_ids is None:
        EarlyDeliveryReport.objects.filter(received_at__lt=timezone.now() - EARLY_REPORT_KEEP).delete()
    return applied
