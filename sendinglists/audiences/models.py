"""List hygiene bookkeeping: one row per bulk action an operator runs, with its progress.

The memberships it removes are audited as SubscriptionEvents (one per membership, naming the
operator and this job); this row is the job's progress and its resume point.
"""

from django.conf import settings
from django.db import models

from sendinglists.lists.models import SendingList


class HygieneAction(models.TextChoices):
    INVALID_NUMBERS = "invalid_numbers", "Remove invalid numbers"
    NON_ENGAGERS = "non_engagers", "Remove long-term non-engagers"


class HygieneStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class HygieneJob(models.Model):
    """A bulk hygiene action on one sending list, run on Celery in chunks.

    `last_membership_id` moves forward in the same transaction as each chunk's opt-outs, so a task
    that runs again (retry, redelivery, a killed worker) resumes where the committed work ends.
    """

    sending_list = models.ForeignKey(
        "sendinglists.SendingList", on_delete=models.CASCADE, related_name="hygiene_jobs"
    )
    action = models.CharField(max_length=20, choices=HygieneAction.choices)
    no_click_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Non-engagers: no click in N days"
    )
    min_sends = models.PositiveIntegerField(null=True, blank=True, help_text="Non-engagers: at least M sends")
    status = models.CharField(max_length=16, choices=HygieneStatus.choices, default=HygieneStatus.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    previewed_count = models.PositiveIntegerField(default=0, help_text="Matching members when previewed")
    total = models.PositiveIntegerField(default=0, help_text="Matching members when the run started")
    processed = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    last_membership_id = models.BigIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "sendinglists"
        ordering = ["-id"]
        indexes = [models.Index(fields=["sending_list", "-id"], name="hygienejob_list_id")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action="invalid_numbers")
                | models.Q(action="non_engagers", no_click_days__isnull=False, min_sends__isnull=False),
                name="hygienejob_non_engagers_params",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (HygieneStatus.COMPLETED, HygieneStatus.FAILED)

    @property
    def percent(self) -> int:
        if self.status == HygieneStatus.COMPLETED:
            return 100
        return min(100, int(self.processed * 100 / self.total)) if self.total else 0

    @property
    def description(self) -> str:
        if self.action == HygieneAction.NON_ENGAGERS:
            return (
                f"Active members with no click in {self.no_click_days} days "
                f"and at least {self.min_sends} sends"
            )
        return "Active members whose number is invalid"


class Audience(models.Model):
    """A saved segment of one sending list: rules as JSON and as the equivalent text query."""

    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="audiences")
    name = models.CharField(max_length=200)
    query = models.TextField(blank=True)
    rules = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sending_list", "name"]
        constraints = [
            models.UniqueConstraint(fields=["sending_list", "name"], name="audience_list_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name
