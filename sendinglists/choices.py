from django.db import models


class UnsubReason(models.TextChoices):
    MESSAGE = "message", "Opted-out"
    BAD_RESPONSE = "bad_response", "Bad response"
    INVALID_CONTACT = "invalid_contact", "Invalid contact"
    MANUAL = "manual", "Manual"
    COMPLAINT = "complaint", "Complaint"


class MembershipStatus(models.TextChoices):
    """The status a person reads; derived from `active` + `unsub_reason` (seed 000's table)."""

    ACTIVE = "active", "Active"
    OPTED_OUT = "message", "Opted-out"
    BAD_RESPONSE = "bad_response", "Bad response"
    INVALID_CONTACT = "invalid_contact", "Invalid contact"
    MANUAL = "manual", "Manual"
    COMPLAINT = "complaint", "Complaint"


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


def status_from(*, active: bool, unsub_reason: str) -> MembershipStatus:
    return MembershipStatus.ACTIVE if active else MembershipStatus(unsub_reason)


def status_filter_kwargs(status: str) -> dict:
    """`status` (a MembershipStatus value) as field lookups on ListContact."""
    if status == MembershipStatus.ACTIVE:
        return {"active": True}
    return {"active": False, "unsub_reason": MembershipStatus(status).value}
