from django.conf import settings
from django.db import models

from sendinglists.lists.models import SendingList


class ApiToken(models.Model):
    """A per-consumer API token. Only a hash is stored; the token is shown once when created.

    A token `limited_to_lists` sees and changes only its `sending_lists` and their members (none once
    they are all deleted: the flag, not the rows, says it is limited, so a limit only ever narrows);
    a read-only token may not write anywhere.
    """

    name = models.CharField(max_length=100)
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    read_only = models.BooleanField(default=False)
    sending_lists = models.ManyToManyField(SendingList, blank=True, related_name="+")
    limited_to_lists = models.BooleanField(
        default=False,
        help_text="Sees only its sending lists (and nothing once they are all deleted); off: every list.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def scope_of(*, limited_to_lists: bool, list_ids: list[int]) -> list[int] | None:
        """The list ids a token is limited to (empty once they are all deleted), or None for every
        list. Lists alone also limit a token, so that no path can widen one."""
        return sorted(list_ids) if limited_to_lists or list_ids else None

    def list_scope(self) -> list[int] | None:
        return self.scope_of(
            limited_to_lists=self.limited_to_lists,
            list_ids=list(self.sending_lists.values_list("pk", flat=True)),
        )


class IdempotencyKey(models.Model):
    """The first response to an API POST sent with an `Idempotency-Key` header, per token.

    The row is inserted in the same transaction as the work it guards, so a concurrent duplicate
    waits on the unique constraint and then replays the committed response instead of acting.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotencykey_token_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"
