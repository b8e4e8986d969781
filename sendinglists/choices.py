from collections.abc import Iterable

from django.db import models


class UnsubReason(models.TextChoices):
    MESSAGE = "message", "Opted-out"
    BAD_RESPONSE = "bad_response", "Bad response"
    INVALID_CONTACT = "invalid_contact", "Invalid contact"
    MANUAL = "manual", "Manual"
    COMPLAINT = "complaint", "Complaint"


# The status a person reads; derived from `active` + `unsub_reason` (seed 000's table), and Blocked
# over any of them while the member's contact is blocked (`status_from`). Its opted-out values are
# UnsubReason's own (one source of the five reasons); seed 000 calls the STOP reason "Opted-out".
#
# The maintained counts (ListStatusCount) hold the statuses `active` + `unsub_reason` give, never
# BLOCKED: a block changes no membership; the blocked members are counted from the few blocked
# contacts when read (sendinglists.subscriptions.selectors.list_member_counts).
MembershipStatus = models.TextChoices(
    "MembershipStatus",
    [
        ("ACTIVE", ("active", "Active")),
        *(
            ("OPTED_OUT" if reason == UnsubReason.MESSAGE else reason.name, (reason.value, reason.label))
            for reason in UnsubReason
        ),
        ("BLOCKED", ("blocked", "Blocked")),
    ],
    module=__name__,
)


class ContactStatus(models.TextChoices):
    """Seed 001's status of a contact, "whether a contact can be messaged", read over the sending
    lists a reader can see (an API token's lists): `contact_status_from`."""

    ACTIVE = "active", "Active (on no list)"
    BLOCKED = "blocked", "Blocked"
    SUBSCRIBED = "subscribed", "Subscribed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


def contact_status_from(*, blocked: bool, memberships_active: Iterable[bool]) -> ContactStatus:
    """blocked (never messaged on any list) over everything; subscribed to at least one of the
    memberships; unsubscribed from all of them; active when there are none."""
    if blocked:
        return ContactStatus.BLOCKED
    actives = list(memberships_active)
    if any(actives):
        return ContactStatus.SUBSCRIBED
    return ContactStatus.UNSUBSCRIBED if actives else ContactStatus.ACTIVE


class SignupMethod(models.TextChoices):
    API = "api", "API"
    IMPORT = "import", "Import"
    JOURNEY = "journey", "Journey"
    INBOUND = "inbound", "Inbound message"
    MANUAL = "manual", "Manual"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes/no"
    CHOICE = "choice", "Choice"


class EventKind(models.TextChoices):
    SUBSCRIBED = "subscribed", "Subscribed"
    OPTED_OUT = "opted_out", "Unsubscribed"
    RESUBSCRIBED = "resubscribed", "Resubscribed"
    BLOCKED = "blocked", "Blocked"
    UNBLOCKED = "unblocked", "Unblocked"
    # Two contacts found to be one person became one (`sendinglists/contacts/merge.py`): recorded on
    # each list of the survivor, naming the actor and both contacts. Not a consent change: the
    # ledger ignores it (each number keeps its own suppressions).
    MERGED = "merged", "Merged"
    # A START from one of a contact's numbers while another of its numbers stands opted out of the
    # list on its own: this number's opt-outs (and what they carried) are lifted, and the membership
    # stays unsubscribed until that other number's START (`sendinglists/subscriptions/consent.py`).
    NUMBER_OPTED_IN = "number_opted_in", "Opted in (this number only)"


class ActorKind(models.TextChoices):
    """Who or what made a change: compliance evidence names the source."""

    USER = "user", "User"
    API_TOKEN = "api_token", "API token"
    IMPORT = "import", "Import"
    MESSAGE = "message", "Inbound message"
    DELIVERY = "delivery", "Delivery report"
    SYSTEM = "system", "System"


class ImportMode(models.TextChoices):
    """What an import does to the numbers in its file."""

    SUBSCRIBE = "subscribe", "Subscribe the contacts"
    OPT_OUT = "opt_out", "Opt-out file: numbers that opted out elsewhere"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def status_from(*, active: bool, unsub_reason: str, blocked: bool = False) -> MembershipStatus:
    """The one rule of what a membership reads as: Blocked whenever its contact is blocked (never
    messaged on any list, whatever the membership says), else its subscription status."""
    if blocked:
        return MembershipStatus.BLOCKED
    return MembershipStatus.ACTIVE if active else MembershipStatus(unsub_reason)


def status_label_from(*, active: bool, unsub_reason: str, blocked: bool = False) -> str:
    """`status_from`'s label; a blocked member that had also left the list keeps that status as a
    note: "Blocked (Opted-out)"."""
    status = status_from(active=active, unsub_reason=unsub_reason, blocked=blocked)
    if blocked and not active:
        return f"{status.label} ({MembershipStatus(unsub_reason).label})"
    return status.label
