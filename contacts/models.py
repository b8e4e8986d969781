import uuid

from django.db import models
from django.db.models.functions import Lower

from contacts.choices import ChannelKind, LineType

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
