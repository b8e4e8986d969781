from decimal import Decimal

from django.conf import settings
from django.db import models

from contacts.models import Contact
from engagement.choices import Direction, KeywordKind, MessageStatus
from sendinglists.models import ListContact, SendingList


def KEEP_AS_EVIDENCE(collector, field, sub_objs, using):
    """on_delete of a message's contact: the message stays, without the contact and without what it
    said. Its provider id keeps a replayed webhook out (a replayed START must not resubscribe the
    number), and its numbers, keyword and times are the evidence of who opted out of what."""
    collector.add_field_update(field, None, sub_objs)
    collector.add_field_update(Message._meta.get_field("body"), "", sub_objs)
    collector.add_field_update(Message._meta.get_field("needs_review"), False, sub_objs)


class Message(models.Model):
    """An outbound or inbound SMS. `provider_message_id` is unique so a replayed webhook is a no-op."""

    direction = models.CharField(max_length=8, choices=Direction.choices)
    sending_list = models.ForeignKey(
        SendingList, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=KEEP_AS_EVIDENCE,
        null=True,
        blank=True,
        related_name="messages",
        help_text="Empty once the contact is deleted (the message stays as consent evidence, its body erased)",
    )
    list_contact = models.ForeignKey(
        ListContact, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    from_number = models.CharField(max_length=32)
    to_number = models.CharField(max_length=32)
    body = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    error_code = models.CharField(max_length=16, blank=True)
    keyword = models.CharField(max_length=16, choices=KeywordKind.choices, blank=True)
    needs_review = models.BooleanField(
        default=False, help_text="Reads like an opt-out without being a keyword; an operator decides"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reply_to = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reply",
        help_text="The inbound message this outbound message answers (at most one reply each)",
    )
    follow_up_done_at = models.DateTimeField(
        null=True, blank=True, help_text="When the inbound message's follow-up (reply, fan-out) ran"
    )
    sent_at = models.DateTimeField(help_text="The provider's timestamp (received time for inbound)")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-sent_at", "-id"], name="message_contact_time"),
            models.Index(fields=["sending_list", "direction", "sent_at"], name="message_list_direction_time"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(direction="inbound", follow_up_done_at__isnull=True),
                name="message_follow_up_pending",
            ),
            models.Index(fields=["-id"], condition=models.Q(needs_review=True), name="message_needs_review"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.provider_message_id or self.pk}"


class Click(models.Model):
    list_contact = models.ForeignKey(ListContact, on_delete=models.CASCADE, related_name="clicks")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="clicks")
    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="clicks")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="clicks"
    )
    url = models.URLField(max_length=2000)
    clicked_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-clicked_at", "-id"]
        indexes = [models.Index(fields=["contact", "-clicked_at", "-id"], name="click_contact_time")]

    def __str__(self) -> str:
        return self.url


class Conversion(models.Model):
    list_contact = models.ForeignKey(ListContact, on_delete=models.CASCADE, related_name="conversions")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversions")
    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="conversions")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversions"
    )
    order_id = models.CharField(max_length=100)
    revenue = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    converted_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-converted_at", "-id"]
        constraints = [
            # A retried conversion webhook counts once.
            models.UniqueConstraint(fields=["sending_list", "order_id"], name="conversion_list_order_unique"),
            models.CheckConstraint(condition=models.Q(revenue__gte=0), name="conversion_revenue_gte_0"),
        ]
        indexes = [models.Index(fields=["contact", "-converted_at", "-id"], name="conversion_contact_time")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.revenue}"


class EarlyDeliveryReport(models.Model):
    """A delivery report or complaint for a provider id that no outbound message had yet.

    A provider calls back within milliseconds of accepting a message, which can be before the send
    that records its id has committed. The report waits here; the send applies it when it records
    the id, and the periodic sweep applies what a race left behind and drops reports whose id never
    turned up (a callback for a message sent elsewhere).
    """

    class Kind(models.TextChoices):
        STATUS = "status", "Status report"
        COMPLAINT = "complaint", "Spam complaint"

    provider_message_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, blank=True)
    error_code = models.CharField(max_length=16, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A replayed report is kept once (the webhook inserts with ON CONFLICT DO NOTHING).
            models.UniqueConstraint(
                fields=["provider_message_id", "kind", "status"], name="early_report_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["provider_message_id"], name="early_report_provider_id"),
            models.Index(fields=["received_at"], name="early_report_received"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} for {self.provider_message_id}"
