"""One small list whose members differ in every field a rule can test, so each rule type has an
exact expected member set. The same fixture runs on SQLite and on PostgreSQL."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from sendinglists.models import CustomField
from tests.browser.conftest import browser, page, screenshot  # noqa: F401 - the shared chromium fixtures
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory, TagFactory, opt_outs, send

UTC = dt.UTC
NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


MEMBERS = {
    "ana": {
        "contact": {"line_type": "mobile", "timezone": "America/New_York", "carrier": "Verizon Wireless"},
        "tags": ["vip"],
        "membership": {
            "signup_method": "import",
            "subscribed_at": at("2025-01-10"),
            "custom_fields": {
                "state": "CA",
                "score": 10,
                "signup_date": "2024-12-01",
                "vip": True,
                "plan": "pro",
            },
            "send_count": 12,
            "click_count": 3,
            "conversion_count": 1,
            "revenue_total": Decimal("75.50"),
            "last_sent_at": at("2025-06-14"),
            "last_clicked_at": at("2025-06-01"),
            "last_revenue_at": at("2025-06-01"),
            "in_workflow": True,
        },
    },
    "ben": {
        "contact": {"line_type": "landline", "timezone": "America/Los_Angeles", "carrier": "AT&T"},
        "tags": [],
        "membership": {
            "signup_method": "api",
            "subscribed_at": at("2025-03-01"),
            "custom_fields": {"state": "NY", "score": 5.5, "plan": "free"},
            "send_count": 20,
            "last_sent_at": at("2025-06-01"),
        },
    },
    "cleo": {
        "contact": {"line_type": "mobile", "timezone": "Europe/London", "carrier": "T-Mobile"},
        "tags": ["VIP", "beta"],
        "membership": {
            "active": False,
            "unsub_reason": "message",
            "opted_out_at": at("2025-05-01"),
            "signup_method": "import",
            "subscribed_at": at("2024-06-01"),
            "custom_fields": {
                "state": "ca",
                "score": 50,
                "signup_date": "2025-02-01",
                "vip": False,
                "plan": "business",
            },
            "send_count": 3,
            "click_count": 1,
            "revenue_total": Decimal("50.00"),
            "last_sent_at": at("2025-04-01"),
            "last_clicked_at": at("2025-01-01"),
        },
    },
    "dev": {
        "contact": {"line_type": "voip", "timezone": "", "carrier": "", "is_valid": False},
        "tags": [],
        "membership": {
            "active": False,
            "unsub_reason": "invalid_contact",
            "opted_out_at": at("2025-06-11"),
            "signup_method": "manual",
            "subscribed_at": at("2025-06-10"),
            "custom_fields": {},
        },
    },
    "eve": {
        "contact": {"line_type": "mobile", "timezone": "America/Chicago", "carrier": "", "blocked": True},
        "tags": ["beta"],
        "membership": {
            "signup_method": "journey",
            "subscribed_at": at("2025-06-15", hour=0),
            # Written by hand before typed fields existed: an empty text and a negative number.
            "custom_fields": {"state": "", "plan": "pro", "score": -3},
            "send_count": 40,
            "click_count": 10,
            "last_sent_at": at("2025-06-15", hour=8),
            "last_clicked_at": at("2025-06-14"),
        },
    },
    "fay": {
        "contact": {"line_type": "mobile", "timezone": "", "carrier": ""},
        "tags": [],
        "membership": {
            "active": False,
            "unsub_reason": "complaint",
            "opted_out_at": at("2025-05-20"),
            "signup_method": "inbound",
            "subscribed_at": at("2025-02-02"),
            "custom_fields": {"state": "TX", "vip": True, "notes": None},
            "send_count": 7,
            "last_sent_at": at("2025-05-01"),
        },
    },
}
ALL = set(MEMBERS)


@pytest.fixture
def audience_list(db):
    """The list, its custom fields, and a `members` dict label -> ListContact."""
    sending_list = SendingListFactory(name="Deals")
    for key, field_type, choices in (
        ("state", "text", []),
        ("score", "number", []),
        ("signup_date", "date", []),
        ("vip", "boolean", []),
        ("plan", "choice", ["free", "pro", "business"]),
        ("notes", "text", []),
    ):
        CustomField.objects.create(
            sending_list=sending_list,
            key=key,
            label=key.replace("_", " ").title(),
            field_type=field_type,
            choices=choices,
        )
    members = {}
    for label, spec in MEMBERS.items():
        contact = ContactFactory(first_name=label, **spec["contact"])
        for tag in spec["tags"]:
            contact.tags.add(TagFactory(name=tag.lower()))
        membership = dict(spec["membership"])
        membership.setdefault(
            "status_changed_at", membership.get("opted_out_at") or membership["subscribed_at"]
        )
        members[label] = ListContactFactory(sending_list=sending_list, contact=contact, **membership)
    # The same contact on another list, matching everything: never part of this list's audiences.
    other = SendingListFactory(name="Other")
    ListContactFactory(
        sending_list=other,
        contact=members["ana"].contact,
        custom_fields={"state": "CA"},
        send_count=99,
        last_clicked_at=NOW,
    )
    sending_list.members = members
    return sending_list


def labels(queryset) -> set[str]:
    return {membership.contact.first_name for membership in queryset.select_related("contact")}


# --- the opt-out watch (test_optout.py, test_charts.py) ---


def days_ago(days: int) -> dt.datetime:
    return timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=days)


@pytest.fixture
def watched_lists(db):
    noisy, quiet = SendingListFactory(name="Noisy"), SendingListFactory(name="Quiet")
    contact = ContactFactory()
    send(noisy, contact, 100, days_ago(3))
    opt_outs(noisy, contact, 3, days_ago(3))  # 3% that day
    opt_outs(noisy, contact, 5, days_ago(3), reason="manual")  # a clean-up, not the audience's choice
    send(noisy, contact, 40, days_ago(3), direction="inbound")  # replies are not sends
    send(noisy, contact, 200, days_ago(1))
    opt_outs(noisy, contact, 1, days_ago(1), reason="complaint")
    send(noisy, contact, 50, days_ago(40))  # outside the window
    opt_outs(noisy, contact, 9, days_ago(40))
    send(quiet, contact, 1000, days_ago(2))
    opt_outs(quiet, contact, 30, days_ago(2))  # 3% over 30 days
    return noisy, quiet
