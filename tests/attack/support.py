"""What the attack tests of the carried-opt-out ledger share: a contact with two numbers (its phone
and a phone channel), a list, and readings of the ledger."""

import pytest

from contacts.models import NumberSuppression
from sendinglists.actors import Actor
from sendinglists.subscriptions.subscribe import list_contact_subscribe

SYSTEM = Actor.system("attack")
PHONE = "+14155550123"  # the contact's phone: what the list messages
SECOND = "+14155550777"  # its phone channel


def open_problem(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"open: {reason}")


def subscribe(sending_list, contact, at=None):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM, occurred_at=at
    ).membership


def opted_out(number: str, sending_list) -> bool:
    """Whether the ledger holds the number as opted out of the list (its own, or carried)."""
    return NumberSuppression.objects.filter(
        phone_number=number, sending_list_id=sending_list.pk, kind="opt_out"
    ).exists()


def ledger() -> list[tuple]:
    rows = NumberSuppression.objects.values_list("phone_number", "sending_list_id", "kind", "carried")
    return sorted(rows, key=lambda row: (row[0], row[1] or 0, row[2]))
