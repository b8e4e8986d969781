import json
from decimal import Decimal

from django.conf import settings
from django.db import models

from contacts.models import Contact
from sendinglists.choices import (
    ActorKind,
    EventKind,
    MembershipStatus,
    SignupMethod,
    UnsubReason,
    status_from,
    status_label_from,
)
from sendinglists.lists.models import SendingList

# A membership's columns in the order every surface shows them (the API, exports, the admin); each
# surface takes the groups it shows.
MEMBERSHIP_SUBSCRIPTION_FIELDS = ("unsub_reason", "signup_method", "subscribed_at", "opted_out_at")
MEMBERSHIP_COUNTER_FIELDS = ("send_count", "click_count", "conversion_count", "revenue_total")
MEMBERSHIP_ENGAGEMENT_FIELDS = (
    *MEMBERSHIP_COUNTER_FIELDS,
    "last_sent_at",
    "last_clicked_at",
    "last_revenue_at",
)


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
        # Names what is loaded already (the admin's inline selects both), ids otherwise: a title
        # costs no query.
        contact = (
            self.contact.phone_number
            if ListContact.contact.is_cached(self)
            else f"contact #{self.contact_id}"
        )
        sending_list = (
            self.sending_list.name
            if ListContact.sending_list.is_cached(self)
            else f"list #{self.sending_list_id}"
        )
        return f"{contact} on {sending_list}"

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
