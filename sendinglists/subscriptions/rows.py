"""The column values of the rows a subscription writes, defined once.

The subscription services (`sendinglists.subscriptions.changes`, `.subscribe`) build their model
instances from these, and the import's set-based writer (`sendinglists.imports.writers`) builds its
INSERT column lists and parameters from the same dicts, so a new membership or an event reads the same whichever path wrote it. Keys are model field names;
values are Python values (the writer prepares them for the database through the fields).
"""

import datetime as dt
from decimal import Decimal

from sendinglists.actors import Actor
from sendinglists.choices import EventKind


def new_membership_values(*, signup_method: str, subscribed_at: dt.datetime) -> dict:
    """What a fresh membership gets besides its list, contact and custom fields: active, subscribed
    now by `signup_method`, with zeroed counters and outside any workflow."""
    return {
        "active": True,
        "unsub_reason": "",
        "subscribed_at": subscribed_at,
        "opted_out_at": None,
        "status_changed_at": subscribed_at,
        "signup_method": signup_method,
        "send_count": 0,
        "click_count": 0,
        "conversion_count": 0,
        "revenue_total": Decimal("0.00"),
        "in_workflow": False,
        "consecutive_failures": 0,
    }


def event_values(
    *,
    kind: EventKind,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    signup_method: str = "",
    note: str = "",
) -> dict:
    """What a SubscriptionEvent records besides its list, membership, contact and number: the kind,
    the reason, the signup method, who did it (the actor's kind, id, label and user) and when."""
    return {
        "kind": kind,
        "reason": reason,
        "signup_method": signup_method,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label[:200],
        "user": actor.user,
        "note": note,
        "occurred_at": occurred_at,
    }
