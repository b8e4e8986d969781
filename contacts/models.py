import uuid

from django.db import models
from django.db.models.functions import Lower

from contacts.choices import ChannelKind, LineType, SuppressionKind

MAX_TAGS_PER_CONTACT = 5


class Tag(models.Model):
    name = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci"),
            models.CheckConstraint(condition=~models.Q(name=""), name="tag_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A phone number the business messages. `id` is the v1 identifier, `uuid` the v2 one."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    phone_number = models.CharField(max_length=16, unique=True, help_text="E.164 with a leading +")
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. America/New_York")
    carrier = models.CharField(max_length=100, blank=True)
    line_type = models.CharField(max_length=16, choices=LineType.choices, default=LineType.UNKNOWN)
    is_valid = models.BooleanField(default=True)
    blocked = models.BooleanField(default=False, help_text="Never messaged on any list.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phone_number__startswith="+"), name="contact_phone_e164_plus"
            ),
        ]
        indexes = [
            # Search by email and name is case-insensitive; these expression indexes serve
            # `Lower(field) = value` and prefix lookups.
            models.Index(Lower("email"), name="contact_email_lower"),
            models.Index(Lower("last_name"), Lower("first_name"), name="contact_name_lower"),
            models.Index(Lower("first_name"), name="contact_first_name_lower"),
            # Blocked contacts are few: "not blocked" and per-list blocked counts start from them.
            models.Index(fields=["id"], condition=models.Q(blocked=True), name="contact_blocked"),
        ]

    def __str__(self) -> str:
        return self.phone_number

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactChannel(models.Model):
    """Another way to reach a contact (seed 001 v2): a phone number or an email address."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=8, choices=ChannelKind.choices)
    value = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="channel_kind_value_unique"),
            models.CheckConstraint(condition=~models.Q(value=""), name="channel_value_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


class ContactNumber(models.Model):
    """Every phone number that identifies a contact: its primary `Contact.phone_number` and each of
    its phone channels, one row per number. The unique index is the rule "a number is one contact's
    primary phone or one contact's channel, never both and never two contacts'".

    Written only by the database: triggers on `contacts_contact` (insert, phone change, delete) and
    on `contacts_contactchannel` (kind phone) keep it in step in the writing statement (migration
    `0006_contact_numbers`), so no Python path (the ORM, bulk_create, the import's SQL writer) can
    forget it, and a write that would give a number to a second contact fails with an IntegrityError.
    Python reads it: "which contact holds this number" is one probe of its unique index
    (`contacts.selectors.contact_by_number`).
    """

    phone_number = models.CharField(max_length=254, primary_key=True)
    # The triggers remove a contact's rows with the contact and its channels (DO_NOTHING here). No
    # foreign key constraint and no index on every row: each would cost a big import a write (and
    # PostgreSQL's deferred check a row lock on the contact) per new contact, and the triggers, the
    # only writers, already keep the rows in step. A contact's primary row is found by its number.
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, related_name="numbers", db_constraint=False, db_index=False
    )
    is_primary = models.BooleanField(help_text="The contact's phone_number; otherwise a phone channel")

    class Meta:
        indexes = [
            # A contact's channel numbers: few rows, so the index is small.
            models.Index(
                fields=["contact"], condition=models.Q(is_primary=False), name="contactnumber_channels"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.phone_number} ({'primary' if self.is_primary else 'channel'} of contact {self.contact_id})"


class NumberSuppression(models.Model):
    """The consent ledger's current state: a phone number that may not be messaged, per sending list
    (an opt-out) or everywhere (`sending_list_id` NULL: a STOPALL, or a block).

    Consent belongs to the number, not to a Contact row: these rows are keyed by the E.164 number and
    nothing that happens to a contact (deletion, a phone change, a merge, a channel move) touches
    them. The history behind each row is the append-only `SubscriptionEvent` log (`event_id` is the
    event that put it here); only the consent service (`sendinglists/consent.py`) writes this table,
    from those events: an opt-out adds a row, a START or an audited resubscribe lifts its list's row
    (after a STOPALL it leaves a RESUMED row for that list: the STOPALL stands on every other list,
    present and future), a block adds the global block row and an unblock lifts it.

    It lives in `contacts` because the number-level facts (is this number blocked?) are read when a
    contact is created or renumbered, and `contacts` may not depend on `sendinglists`; the list is a
    plain id for the same reason (lists holding consent evidence cannot be deleted: their events
    PROTECT them).
    """

    phone_number = models.CharField(max_length=16)
    sending_list_id = models.BigIntegerField(null=True, blank=True, help_text="NULL: every list")
    kind = models.CharField(max_length=8, choices=SuppressionKind.choices)
    reason = models.CharField(max_length=20, blank=True, help_text="The opt-out reason (seed 000's five)")
    occurred_at = models.DateTimeField(help_text="When the opt-out or block took effect")
    event_id = models.BigIntegerField(null=True, blank=True, help_text="The SubscriptionEvent behind it")
    carried = models.BooleanField(
        default=False,
        help_text=(
            "Written because the contact holding this number changed its consent from another of its "
            "numbers (or for itself, from its phone): lifted with that number's START, never by a "
            "START of another. False: this number's own (it sent the STOP, or was the contact's phone)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Reads are "(list L or every list) and number in (…)": each partial index serves one half.
        constraints = [
            models.UniqueConstraint(
                fields=["phone_number", "sending_list_id"],
                condition=models.Q(sending_list_id__isnull=False, kind=SuppressionKind.OPT_OUT),
                name="suppression_list_phone_unique",
            ),
            # Beside a list opt-out, not instead of it: a STOP after a START adds its opt-out
            # without touching this row, and the opt-out wins while it stands (`standing_of`).
            models.UniqueConstraint(
                fields=["phone_number", "sending_list_id"],
                condition=models.Q(kind=SuppressionKind.RESUMED),
                name="suppression_resumed_phone_unique",
            ),
            models.UniqueConstraint(
                fields=["phone_number", "kind"],
                condition=models.Q(sending_list_id__isnull=True),
                name="suppression_global_phone_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(kind=SuppressionKind.BLOCK, sending_list_id__isnull=True)
                | models.Q(kind=SuppressionKind.RESUMED, sending_list_id__isnull=False)
                | models.Q(kind=SuppressionKind.OPT_OUT),
                name="suppression_kind_scope",
            ),
            models.CheckConstraint(
                condition=models.Q(phone_number__startswith="+"), name="suppression_phone_e164_plus"
            ),
        ]

    def __str__(self) -> str:
        where = f"list {self.sending_list_id}" if self.sending_list_id else "every list"
        return f"{self.phone_number} {self.kind} on {where}"
