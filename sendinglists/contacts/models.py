from django.conf import settings
from django.db import models

from contacts.models import Contact


class ContactMerge(models.Model):
    """One merge of a duplicate contact into a survivor (`contacts_merge`): what a retry of the same
    merge answers once the duplicate is gone, and the record of who merged what.

    The duplicate is kept as plain values (its row is deleted by the merge). Deleting the survivor
    deletes these rows with it: they hold the duplicate's number, which is personal data.
    """

    survivor = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    duplicate_id = models.BigIntegerField(unique=True, help_text="The merged contact's v1 id")
    duplicate_uuid = models.UUIDField(unique=True, help_text="The merged contact's v2 id")
    duplicate_phone_number = models.CharField(max_length=16)
    dropped_tags = models.JSONField(default=list, blank=True, help_text="Tags over the limit of five")
    actor_label = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.duplicate_id} ({self.duplicate_phone_number}) merged into #{self.survivor_id}"
