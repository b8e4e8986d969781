import json
from decimal import Decimal

from django.conf import settings
from django.db import models

from contacts.models import Contact
from sendinglists.choices import (
    ActorKind,
    EventKind,
    FieldType,
    ImportMode,
    ImportStatus,
    MembershipStatus,
    SignupMethod,
    UnsubReason,
    status_from,
    status_label_from,
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


class ListContact(models.Model):
    """A contact's membership of a sending list: status, custom fields and engagement counters."""

    # No index of its own: listcontact_list_contact_unique and listcontact_list_id begin with it.
    sending_list = models.ForeignKey(
        SendingList, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships")
    active = models.BooleanField(default=True)
    unsub_reason = models.CharField(max_length=20, choices=UnsubReason.choices, blank=True)
    subscribed_at = models.DateTimeField()
    opted_out_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(
        help_text="When the latest status change took effect (a message's own timestamp for keywords)"
    )
    signup_method = models.CharField(max_length=16, choices=SignupMethod.choices)
    custom_fields = models.JSONField(default=dict, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    click_count = models.PositiveIntegerField(default=0)
    conversion_count = models.PositiveIntegerField(default=0)
    revenue_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_clicked_at = models.DateTimeField(null=True, blank=True)
    last_revenue_at = models.DateTimeField(null=True, blank=True)
    in_workflow = models.BooleanField(default=False)
    consecutive_failures = models.PositiveSmallIntegerField(
        default=0, help_text="Carrier rejections in a row; reset by a delivery"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_list", "contact"], name="listcontact_list_contact_unique"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(active=True, unsub_reason="", opted_out_at__isnull=True)
                    | (models.Q(active=False, opted_out_at__isnull=False) & ~models.Q(unsub_reason=""))
                ),
                name="listcontact_status_consistent",
            ),
            models.CheckConstraint(
                condition=models.Q(unsub_reason__in=["", *UnsubReason.values]),
                name="listcontact_unsub_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(signup_method__in=SignupMethod.values), name="listcontact_signup_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(revenue_total__gte=0), name="listcontact_revenue_gte_0"
            ),
        ]
        # Keyset pagination walks (sending_list, <sort column>, id); each index serves one column's
        # two orders the Contacts tab offers (descending ones scan it backwards), so a page deep in
        # a 1M-member list is an index range scan. The id is ascending, like new rows' ids: a new
        # row lands at the end of its group, where b-tree pages split 90/10, not in front of it
        # with 50/50 splits (measured: 800k inserts 6.9 s against 12.4 s, indexes 573 MB to 997).
        indexes = [
            models.Index(fields=["sending_list", "id"], name="listcontact_list_id"),
            models.Index(
                fields=["sending_list", "active", "unsub_reason", "id"], name="listcontact_list_status"
            ),
            models.Index(fields=["sending_list", "signup_method", "id"], name="listcontact_list_signup"),
            models.Index(fields=["sending_list", "send_count", "id"], name="listcontact_list_sends"),
            models.Index(fields=["sending_list", "click_count", "id"], name="listcontact_list_clicks"),
            models.Index(fields=["sending_list", "conversion_count", "id"], name="listcontact_list_convs"),
            models.Index(fields=["sending_list", "revenue_total", "id"], name="listcontact_list_revenue"),
            models.Index(fields=["sending_list", "last_sent_at", "id"], name="listcontact_list_last_sent"),
            models.Index(
                fields=["sending_list", "last_clicked_at", "id"], name="listcontact_list_last_click"
            ),
            models.Index(
                fields=["sending_list", "id"],
                condition=models.Q(in_workflow=True),
                name="listcontact_list_in_workflow",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} on {self.sending_list_id}"

    @property
    def status(self) -> MembershipStatus:
        return status_from(active=self.active, unsub_reason=self.unsub_reason)

    @property
    def status_label(self) -> str:
        return self.status.label

    # What the member reads as on the pages, the API and exports (`status_from`): Blocked while
    # its contact is blocked. These read `self.contact`: load it with the membership.
    @property
    def display_status(self) -> MembershipStatus:
        return status_from(active=self.active, unsub_reason=self.unsub_reason, blocked=self.contact.blocked)

    @property
    def display_status_label(self) -> str:
        return status_label_from(
            active=self.active, unsub_reason=self.unsub_reason, blocked=self.contact.blocked
        )


class ListContactFacet(models.Model):
    """One value a membership has, as a row of a b-tree an audience count reads without the heap.

    A facet is `c:<key>=<JSON value>` for each text, choice, date or boolean custom field value (up
    to FACET_MAX_BYTES) and `t:<tag id>` for each tag of the member's contact. Counting "state = CA"
    or "tag = vip" over a million members is then an index-only scan of one key range of the primary
    key, instead of a visit to every heap page that holds a match (issue 7 measured 140-230 ms for
    100,000 matches spread over a 1M-member list, with any index on `listcontact`).

    PostgreSQL only: triggers keep it in step with `sendinglists_listcontact` and the contact-tag
    table in the same transaction (migration 0013); the audience count reads it
    (`sendinglists/audiences/compiler.py`). On SQLite the table exists and stays empty. The ids
    are plain columns, not foreign keys: the triggers own the rows, and a foreign key would add
    two lookups to every imported row.
    """

    FACET_MAX_BYTES = 512

    pk = models.CompositePrimaryKey("sending_list_id", "facet", "list_contact_id")
    sending_list_id = models.BigIntegerField()
    facet = models.TextField()
    list_contact_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.list_contact_id} on {self.sending_list_id}: {self.facet}"

    @classmethod
    def for_custom(cls, key: str, value: str | bool) -> str | None:
        """The facet of custom field `key` = `value`, spelled as the trigger spells it (PostgreSQL's
        jsonb text of the value), or None when the value is too long to have one."""
        facet = f"c:{key}={json.dumps(value, ensure_ascii=False)}"
        return facet if len(facet.encode()) <= cls.FACET_MAX_BYTES else None

    @staticmethod
    def for_tag(tag_id: int) -> str:
        return f"t:{tag_id}"


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


class SubscriptionEvent(models.Model):
    """Append-only history of every subscribe / opt-out / resubscribe / block: compliance evidence.

    The phone number and list are copied onto the event and the links to the contact and membership
    are SET_NULL, so the evidence of an opt-out outlives the deletion of the contact.

    The links are enforced by Django (PROTECT, SET_NULL: deletions go through the ORM and the
    services), not by database foreign keys: an import writes an event per new membership, and
    the database checked three keys per event at every commit, a fifth of an import's database
    time. Their single-column indexes are gone too: the composite indexes below begin with them.
    """

    sending_list = models.ForeignKey(
        SendingList,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subscription_events",
        db_constraint=False,
        db_index=False,
    )
    list_contact = models.ForeignKey(
        ListContact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        db_constraint=False,
        db_index=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscription_events",
        db_constraint=False,
        db_index=False,
    )
    phone_number = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    reason = models.CharField(max_length=20, choices=UnsubReason.choices, blank=True)
    signup_method = models.CharField(max_length=16, choices=SignupMethod.choices, blank=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True, help_text="The user, token, import or message id")
    actor_label = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    note = models.TextField(blank=True)
    occurred_at = models.DateTimeField(help_text="When the change took effect")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["list_contact", "-occurred_at", "-id"], name="subevent_membership_time"),
            models.Index(fields=["contact", "-occurred_at", "-id"], name="subevent_contact_time"),
            # Opt-out history of a number on a list, consulted before any new subscription.
            models.Index(fields=["sending_list", "phone_number", "-occurred_at"], name="subevent_list_phone"),
            # The opt-out rate chart: opt-outs per list per day.
            # Only opt-outs: an import's subscribed events (one per new member) stay out of it.
            models.Index(
                fields=["sending_list", "occurred_at"],
                condition=models.Q(kind="opted_out"),
                name="subevent_list_optout_time",
            ),
            # Deleting a user sets its events' user to NULL; imports and webhooks have no user.
            models.Index(fields=["user"], condition=models.Q(user__isnull=False), name="subevent_user"),
        ]

    def __str__(self) -> str:
        return f"{self.phone_number} {self.kind} {self.reason} by {self.actor_kind}:{self.actor_id}"


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


class ImportJob(models.Model):
    """One CSV import into one sending list, with its mapping, progress and final counts."""

    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_token = models.ForeignKey(
        "ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    header = models.JSONField(default=list, blank=True)
    has_header = models.BooleanField(default=True, help_text="False: the first row is data")
    rows_total = models.PositiveIntegerField(default=0, help_text="Data rows in the file, counted at upload")
    mapping = models.JSONField(default=dict, blank=True, help_text="column index -> field")
    region = models.CharField(max_length=2, blank=True)
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.SUBSCRIBE)
    consent_attestation = models.TextField(
        blank=True, help_text="The operator's statement that the contacts consented to texts from this sender"
    )
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attested_by_label = models.CharField(max_length=200, blank=True, help_text="Who attested (user or token)")
    attested_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    total_chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    contacts_created = models.PositiveIntegerField(default=0)
    contacts_updated = models.PositiveIntegerField(default=0)
    memberships_created = models.PositiveIntegerField(default=0)
    memberships_updated = models.PositiveIntegerField(default=0)
    skipped_opted_out = models.PositiveIntegerField(default=0)
    skipped_blocked = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField(default=0, help_text="Opt-out files: numbers opted out now")
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="When the latest chunk committed")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["sending_list", "-id"], name="importjob_list_id")]

    def __str__(self) -> str:
        return f"Import #{self.pk} of {self.original_filename}"


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


# List hygiene's job table lives with its code.
from sendinglists.audiences.models import HygieneJob  # noqa: E402, F401

# So do the import pipeline's own tables (chunks, seen phones, row errors).
from sendinglists.imports.models import (  # noqa: E402, F401
    ImportChunk,
    ImportChunkPart,
    ImportRowError,
    ImportSeenPhone,
)
