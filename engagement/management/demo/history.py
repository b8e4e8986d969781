"""The demo's subscription history: the events the services would have written for each story."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from engagement.management.demo.catalog import OPT_OUT_ACTORS, SIGNUP_ACTORS, STAFF
from engagement.models import Message
from sendinglists.actors import Actor
from sendinglists.choices import ActorKind, EventKind, SignupMethod, UnsubReason
from sendinglists.models import ListContact, SubscriptionEvent


@dataclass
class Plan:
    """One membership and the story the demo tells about it."""

    membership: ListContact
    spec: dict
    subscribed: dt.datetime
    reason: str
    opted_out: dt.datetime | None = None
    stop: dt.datetime | None = None  # an earlier STOP, undone by a START at `subscribed_again`
    subscribed_again: dt.datetime | None = None
    windows: list = field(default_factory=list)  # (start, end): when campaigns reached the member
    keyword_messages: dict = field(default_factory=dict)  # "start", "stop", "start_again" -> Message


def backdate(model, rows) -> None:
    """Set created_at (auto_now_add, so not settable on insert) to the story's date, a day at a time."""
    by_day = defaultdict(list)
    for pk, when in rows:
        by_day[when.replace(hour=12, minute=0, second=0, microsecond=0)].append(pk)
    for day, pks in by_day.items():
        model.objects.filter(pk__in=pks).update(created_at=day, updated_at=day)


def subscription_events(plans, contacts) -> list[SubscriptionEvent]:
    """Every subscribe / opt-out / resubscribe / block, naming the actor the services would name."""
    events = []

    def add(plan: Plan, kind: str, at, actor: dict, **extra) -> None:
        membership = plan.membership
        events.append(
            SubscriptionEvent(
                sending_list=membership.sending_list,
                list_contact=membership,
                contact=membership.contact,
                phone_number=membership.contact.phone_number,
                kind=kind,
                occurred_at=at,
                **actor,
                **extra,
            )
        )

    def by_message(message: Message) -> dict:
        actor = Actor.for_message(message)
        return {"actor_kind": actor.kind, "actor_id": actor.id, "actor_label": actor.label}

    for plan in plans:
        method = plan.membership.signup_method
        if method == SignupMethod.INBOUND:
            subscriber = by_message(plan.keyword_messages["start"])
        elif method == SignupMethod.IMPORT:
            subscriber = {
                "actor_kind": ActorKind.IMPORT,
                "actor_label": f"Import of {plan.spec['import_file']}",
            }
        else:
            subscriber = SIGNUP_ACTORS[method]
        add(plan, EventKind.SUBSCRIBED, plan.subscribed, subscriber, signup_method=method)
        if plan.stop:
            add(
                plan,
                EventKind.OPTED_OUT,
                plan.stop,
                by_message(plan.keyword_messages["stop"]),
                reason="message",
            )
            add(
                plan,
                EventKind.RESUBSCRIBED,
                plan.subscribed_again,
                by_message(plan.keyword_messages["start_again"]),
            )
        if plan.reason == UnsubReason.MESSAGE:
            add(
                plan,
                EventKind.OPTED_OUT,
                plan.opted_out,
                by_message(plan.keyword_messages["stop"]),
                reason="message",
            )
        elif plan.reason:
            add(plan, EventKind.OPTED_OUT, plan.opted_out, OPT_OUT_ACTORS[plan.reason], reason=plan.reason)
    for contact in contacts:
        if contact.blocked:
            events.append(
                SubscriptionEvent(
                    contact=contact,
                    phone_number=contact.phone_number,
                    kind=EventKind.BLOCKED,
                    actor_kind=ActorKind.USER,
                    actor_label=STAFF,
                    note="Asked never to be contacted again.",
                    occurred_at=contact.blocked_at,
                )
            )
    return events
