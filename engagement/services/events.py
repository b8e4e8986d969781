"""Engagement events: a send, a click, a conversion, entering or leaving a journey.

Each event row and the membership's counters change in one transaction; counters move with
database-side `F()` updates (never read-modify-write), and `last_*_at` keeps the later of the stored
time and the event's time, so events that arrive out of order never move it backwards.
"""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from engagement.choices import Direction, MessageStatus
from engagement.models import Click, Conversion, Message
from sendinglists.models import ListContact

MAX_REVENUE = Decimal("9999999999.99")  # Conversion.revenue: 12 digits, 2 decimal places


def _later_of(field: str, at: dt.datetime):
    at_value = Value(at, output_field=DateTimeField())
    return Greatest(Coalesce(F(field), at_value), at_value)


def list_contact_count_send(*, membership_id: int, sent_at: dt.datetime) -> None:
    """Add one send to the membership's counters (the caller writes the Message in the same transaction)."""
    ListContact.objects.filter(pk=membership_id).update(
        send_count=F("send_count") + 1,
        last_sent_at=_later_of("last_sent_at", sent_at),
        updated_at=timezone.now(),
    )


def _message_for(membership: ListContact, provider_message_id: str | None) -> Message | None:
    if not provider_message_id:
        return None
    message = Message.objects.filter(provider_message_id=provider_message_id).first()
    # Another list's message to the same contact is no more this membership's than an unknown one.
    if message is None or (message.contact_id, message.sending_list_id) != (
        membership.contact_id,
        membership.sending_list_id,
    ):
        raise ValidationError(
            {"provider_message_id": f"No message {provider_message_id} was sent to this contact."}
        )
    return message


@dataclass(frozen=True, slots=True)
class RecordedSend:
    message: Message
    created: bool
    """False: a retry of a send already recorded (same provider_message_id); nothing counted."""


@transaction.atomic
def list_contact_record_send(
    *,
    membership: ListContact,
    body: str = "",
    provider_message_id: str = "",
    sent_at: dt.datetime | None = None,
    visible_list_ids: Collection[int] | None = None,
) -> RecordedSend:
    """Record a message sent to a member by another system (a campaign engine).

    Writes the outbound Message and adds to send_count/last_sent_at in one transaction. Idempotent
    by `provider_message_id`: a retried call returns the first message and counts nothing.

    With `visible_list_ids` (a caller limited to those lists), an id that a message of another list
    holds is treated as unknown, so that the answer does not tell that it exists: the send is
    recorded and counted without the id (which stays with that message, the one delivery reports
    find by it). Such a send is not idempotent by id.
    """
    provider_message_id = (provider_message_id or "").strip()
    if len(provider_message_id) > 64:
        raise ValidationError({"provider_message_id": "At most 64 characters."})
    sent_at = sent_at or timezone.now()
    membership = ListContact.objects.select_related("sending_list", "contact").get(pk=membership.pk)
    stored_provider_message_id = provider_message_id or None
    if provider_message_id:
        existing = Message.objects.filter(provider_message_id=provider_message_id).first()
        if existing is not None:
            if visible_list_ids is None or existing.sending_list_id in visible_list_ids:
                return _send_replay(existing, membership)
            stored_provider_message_id = None
    message = Message(
        direction=Direction.OUTBOUND,
        sending_list=membership.sending_list,
        contact=membership.contact,
        list_contact=membership,
        from_number=membership.sending_list.phone_number,
        to_number=membership.contact.phone_number,
        body=body,
        provider_message_id=stored_provider_message_id,
        status=MessageStatus.SENT,
        sent_at=sent_at,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # The same send recorded concurrently: that one counted.
        return _send_replay(Message.objects.get(provider_message_id=provider_message_id), membership)
    list_contact_count_send(membership_id=membership.pk, sent_at=sent_at)
    return RecordedSend(message, True)


def _send_replay(existing: Message, membership: ListContact) -> RecordedSend:
    if existing.direction != Direction.OUTBOUND or existing.list_contact_id != membership.pk:
        raise ValidationError(
            {
                "provider_message_id": (
                    f"Message {existing.provider_message_id} is already recorded for another membership."
                )
            }
        )
    return RecordedSend(existing, False)


@transaction.atomic
def list_contact_record_click(
    *,
    membership: ListContact,
    url: str,
    clicked_at: dt.datetime | None = None,
    provider_message_id: str | None = None,
) -> Click:
    """Record a link click: a Click row, click_count + 1 and last_clicked_at, in one transaction."""
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": f"{url[:60]!r} is not an http(s) URL."}) from None
    if len(url) > 2000:
        raise ValidationError({"url": "At most 2000 characters."})
    clicked_at = clicked_at or timezone.now()
    click = Click.objects.create(
        list_contact=membership,
        contact_id=membership.contact_id,
        sending_list_id=membership.sending_list_id,
        message=_message_for(membership, provider_message_id),
        url=url,
        clicked_at=clicked_at,
    )
    ListContact.objects.filter(pk=membership.pk).update(
        click_count=F("click_count") + 1,
        last_clicked_at=_later_of("last_clicked_at", clicked_at),
        updated_at=timezone.now(),
    )
    return click


def revenue_or_error(raw) -> Decimal:
    """A money amount: a non-negative decimal with at most two decimal places."""
    try:
        revenue = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"revenue": f"{str(raw)[:30]!r} is not a number."}) from None
    if not revenue.is_finite():
        raise ValidationError({"revenue": "Must be a finite number."})
    if revenue < 0:
        raise ValidationError({"revenue": "Must not be negative."})
    if revenue.as_tuple().exponent < -2:
        raise ValidationError({"revenue": "At most two decimal places."})
    if revenue > MAX_REVENUE:
        raise ValidationError({"revenue": f"At most {MAX_REVENUE}."})
    return revenue.quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class RecordedConversion:
    conversion: Conversion
    created: bool
    """False: the order was already recorded (a retry); counters did not change."""


@transaction.atomic
def list_contact_record_conversion(
    *,
    membership: ListContact,
    order_id: str,
    revenue,
    converted_at: dt.datetime | None = None,
    provider_message_id: str | None = None,
) -> RecordedConversion:
    """Record a conversion once per order: the order id is unique per sending list.

    The first call writes the Conversion and adds to conversion_count, revenue_total and
    last_revenue_at in the same transaction; a retry (same list and order id) returns the stored
    conversion and counts nothing. The same order id for another contact is a ValidationError.
    """
    order_id = str(order_id or "").strip()
    if not order_id:
        raise ValidationError({"order_id": "Required: the order's id, unique per sending list."})
    if len(order_id) > 100:
        raise ValidationError({"order_id": "At most 100 characters."})
    revenue = revenue_or_error(revenue)
    converted_at = converted_at or timezone.now()
    existing = Conversion.objects.filter(
        sending_list_id=membership.sending_list_id, order_id=order_id
    ).first()
    if existing is not None:
        return _conversion_replay(existing, membership)
    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(
                list_contact=membership,
                contact_id=membership.contact_id,
                sending_list_id=membership.sending_list_id,
                message=_message_for(membership, provider_message_id),
                order_id=order_id,
                revenue=revenue,
                converted_at=converted_at,
            )
    except IntegrityError:
        # A concurrent retry inserted it first (it waited on the unique constraint): count it once.
        existing = Conversion.objects.get(sending_list_id=membership.sending_list_id, order_id=order_id)
        return _conversion_replay(existing, membership)
    ListContact.objects.filter(pk=membership.pk).update(
        conversion_count=F("conversion_count") + 1,
        revenue_total=F("revenue_total") + revenue,
        last_revenue_at=_later_of("last_revenue_at", converted_at),
        updated_at=timezone.now(),
    )
    return RecordedConversion(conversion, True)


def _conversion_replay(existing: Conversion, membership: ListContact) -> RecordedConversion:
    if existing.list_contact_id != membership.pk:
        raise ValidationError(
            {"order_id": f"Order {existing.order_id} is already recorded for another contact of this list."}
        )
    return RecordedConversion(existing, False)


@transaction.atomic
def list_contact_set_in_workflow(*, membership: ListContact, in_workflow: bool) -> bool:
    """Mark a membership as in (or out of) an active journey; returns whether it changed.

    An opted-out membership cannot enter a journey (opting out takes it out of one).
    """
    now = timezone.now()
    if in_workflow:
        updated = ListContact.objects.filter(pk=membership.pk, active=True, in_workflow=False).update(
            in_workflow=True, updated_at=now
        )
        if not updated and not ListContact.objects.filter(pk=membership.pk, active=True).exists():
            raise ValidationError(
                {"in_workflow": "The membership is unsubscribed: it cannot enter a journey."}
            )
    else:
        updated = ListContact.objects.filter(pk=membership.pk, in_workflow=True).update(
            in_workflow=False, updated_at=now
        )
    membership.in_workflow = in_workflow
    return bool(updated)
