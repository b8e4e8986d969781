from django.db import models

from sendinglists.choices import (
    FieldType,
    MembershipStatus,
)


class SendingList(models.Model):
    """A sender number the business messages from; contacts subscribe to it."""

    phone_number = models.CharField(max_length=16, unique=True, help_text="The sender, E.164")
    name = models.CharField(max_length=200)
    default_region = models.CharField(
        max_length=2, default="US", help_text="ISO country for national numbers in imports (US, GB, …)"
    )
    help_text = models.CharField(
        max_length=320,
        blank=True,
        help_text="Reply to HELP/INFO. Name the business and how to opt out.",
    )
    opt_out_keywords = models.JSONField(default=list, blank=True, help_text="Extra STOP-like words")
    opt_in_keywords = models.JSONField(default=list, blank=True, help_text="Extra START-like words")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(phone_number__startswith="+"), name="list_phone_e164"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})"


class CustomField(models.Model):
    """A defined key per sending list, so imports validate and audiences compare typed values.

    Lives here rather than in `contacts` (DESIGN.md) because it belongs to a sending list and
    `contacts` must not depend on `sendinglists`.
    """

    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="custom_fields")
    key = models.SlugField(max_length=64, allow_unicode=False)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    choices = models.JSONField(default=list, blank=True, help_text="Allowed values of a choice field")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The column: "sending_list" would join the list, for the list's own ordering.
        ordering = ["sending_list_id", "key"]
        constraints = [
            models.UniqueConstraint(fields=["sending_list", "key"], name="customfield_list_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.field_type})"


class ListStatusCount(models.Model):
    """Membership counts per list and status, maintained as deltas instead of `COUNT(*)`.

    Every service that changes a membership's status inserts a +1/-1 row here in the same
    transaction (inserts never contend, unlike updating one counter row per list that every
    concurrent import chunk and webhook would queue on). `list_status_counts_squash` folds the
    rows periodically, so a read sums a handful of rows.
    """

    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="status_counts")
    status = models.CharField(max_length=20, choices=MembershipStatus.choices)
    count = models.BigIntegerField()
    is_squashed = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["sending_list", "status"], name="liststatuscount_list_status")]

    def __str__(self) -> str:
        return f"{self.sending_list_id} {self.status} {self.count:+d}"
