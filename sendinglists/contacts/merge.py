"""Merging two contacts that are one person: the duplicate's memberships, history and numbers go to
the survivor, and the duplicate's row goes.

One service (`contacts_merge`) for every surface (the contact page's preview and confirm, the admin
action, the API), and one read (`merge_preview`) that says beforehand what it will do, computed by
the same plan (`_plan`), so the preview cannot promise what the merge does not do.

Consent wins on either side, because consent belongs to the numbers and the merged contact holds
both: a list where either membership opted out, or where any of the two contacts' numbers stands
opted out in the ledger, ends opted out (the earliest opt-out's reason and time are kept as its
evidence), and a block of either contact or number blocks the survivor through the block service.
Nothing is reactivated. The merge writes no opt-out into the ledger for a number that did not opt
out: its MERGED event on each list is the evidence of why the membership reads as it does.

Rows of other apps that point at a contact or a membership (engagement's messages, clicks and
conversions; `sendinglists` may not import `engagement`) are found through the models' relations
and re-pointed, so a model added later is carried over rather than cascade-deleted with the
duplicate.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.choices import ChannelKind
from contacts.models import MAX_TAGS_PER_CONTACT, Contact, ContactChannel, ContactNumber
from contacts.services import (
    CONTACT_TEXT_FIELDS,
    contact_channel_add,
    contact_set_tags,
    contact_update,
    number_is_blocked,
)
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, MembershipStatus, UnsubReason, status_from
from sendinglists.contacts.models import ContactMerge
from sendinglists.contacts.services import contact_block
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import list_status_counts_add
from sendinglists.subscriptions.changes import event_record
from sendinglists.subscriptions.consent import NumbersLedger
from sendinglists.subscriptions.models import ListContact

SUMMED_COUNTERS = ("send_count", "click_count", "conversion_count", "revenue_total")
LATEST_TIMES = ("last_sent_at", "last_clicked_at", "last_revenue_at")


@dataclass(frozen=True, slots=True)
class FieldPlan:
    name: str
    label: str
    survivor_value: str
    duplicate_value: str
    result: str


@dataclass(slots=True)
class MembershipPlan:
    """What one list's membership becomes: the two sides (either may be None) and the result."""

    sending_list_id: int
    survivor: ListContact | None
    duplicate: ListContact | None
    active: bool
    unsub_reason: str
    opted_out_at: dt.datetime | None
    custom_fields: dict
    why: str = ""
    """Why the result is opted out when a side was active (words for the preview and the event)."""
    sending_list: SendingList | None = None

    @property
    def status(self) -> MembershipStatus:
        return status_from(active=self.active, unsub_reason=self.unsub_reason)

    @property
    def sides(self) -> list[ListContact]:
        return [m for m in (self.survivor, self.duplicate) if m is not None]

    def total(self, name: str):
        return sum((getattr(m, name) for m in self.sides), Decimal("0.00") if name == "revenue_total" else 0)

    def latest(self, name: str) -> dt.datetime | None:
        return max((t for m in self.sides if (t := getattr(m, name)) is not None), default=None)

    @property
    def counters(self) -> dict:
        return {name: self.total(name) for name in SUMMED_COUNTERS}


@dataclass(slots=True)
class MergePlan:
    survivor: Contact
    duplicate: Contact
    fields: list[FieldPlan]
    memberships: list[MembershipPlan]
    tags_kept: list[str]
    tags_dropped: list[str]
    blocked: bool
    channels_moved: list[str]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MergeResult:
    survivor: Contact
    duplicate_id: int
    duplicate_uuid: str
    duplicate_phone_number: str
    dropped_tags: list[str]
    already_merged: bool = False

    @classmethod
    def of(cls, record: ContactMerge, *, already_merged: bool) -> "MergeResult":
        return cls(
            survivor=record.survivor,
            duplicate_id=record.duplicate_id,
            duplicate_uuid=str(record.duplicate_uuid),
            duplicate_phone_number=record.duplicate_phone_number,
            dropped_tags=list(record.dropped_tags),
            already_merged=already_merged,
        )


# --- the plan (a read; the merge applies it to locked rows) -----------------------------------------


def merge_preview(*, survivor: Contact, duplicate: Contact) -> MergePlan:
    """What `contacts_merge` would do, without writing: both contacts' fields, memberships, tags and
    block side by side with the result, and the problems that would refuse it."""
    memberships = list(
        ListContact.objects.filter(contact_id__in=[survivor.pk, duplicate.pk])
        .select_related("sending_list")
        .order_by("sending_list__name", "sending_list_id", "contact_id")
    )
    plan = _plan(survivor=survivor, duplicate=duplicate, memberships=memberships)
    for membership_plan in plan.memberships:
        membership_plan.sending_list = membership_plan.sides[0].sending_list
    return plan


def _plan(*, survivor: Contact, duplicate: Contact, memberships: list[ListContact]) -> MergePlan:
    problems = []
    if survivor.pk == duplicate.pk:
        problems.append("A contact cannot be merged with itself.")
    survivor_channels = list(ContactChannel.objects.filter(contact=survivor))
    duplicate_channels = list(ContactChannel.objects.filter(contact=duplicate))
    numbers = {survivor.phone_number, duplicate.phone_number} | {
        channel.value
        for channel in (*survivor_channels, *duplicate_channels)
        if channel.kind == ChannelKind.PHONE
    }
    # Every number the merged contact will hold: an opt-out or a block of any of them wins.
    ledger = NumbersLedger.of(numbers)

    # The duplicate's number becomes a channel of the survivor: no other contact can hold it (the
    # database holds a number as one contact's, ContactNumber), so nothing is to be checked here.

    by_list: dict[int, list[ListContact | None]] = {}
    for membership in memberships:
        sides = by_list.setdefault(membership.sending_list_id, [None, None])
        sides[0 if membership.contact_id == survivor.pk else 1] = membership
    plans = [
        _membership_plan(list_id, survivor_side, duplicate_side, ledger)
        for list_id, (survivor_side, duplicate_side) in by_list.items()
    ]

    survivor_tags = sorted((tag.name for tag in survivor.tags.all()), key=str.lower)
    known = {name.lower() for name in survivor_tags}
    duplicate_tags = [
        name
        for name in sorted((t.name for t in duplicate.tags.all()), key=str.lower)
        if name.lower() not in known
    ]
    room = max(MAX_TAGS_PER_CONTACT - len(survivor_tags), 0)

    return MergePlan(
        survivor=survivor,
        duplicate=duplicate,
        fields=[
            FieldPlan(
                name=name,
                label=str(Contact._meta.get_field(name).verbose_name).capitalize(),
                survivor_value=getattr(survivor, name),
                duplicate_value=getattr(duplicate, name),
                result=getattr(survivor, name) or getattr(duplicate, name),
            )
            for name in CONTACT_TEXT_FIELDS
        ],
        memberships=plans,
        tags_kept=survivor_tags + duplicate_tags[:room],
        tags_dropped=duplicate_tags[room:],
        blocked=survivor.blocked or duplicate.blocked or ledger.blocked,
        channels_moved=[channel.value for channel in duplicate_channels],
        problems=problems,
    )


def _membership_plan(
    list_id: int,
    survivor_side: ListContact | None,
    duplicate_side: ListContact | None,
    ledger: NumbersLedger,
) -> MembershipPlan:
    sides = [m for m in (survivor_side, duplicate_side) if m is not None]
    custom_fields = dict(survivor_side.custom_fields) if survivor_side else {}
    if duplicate_side is not None:
        for key, value in duplicate_side.custom_fields.items():
            if custom_fields.get(key) in (None, ""):  # a known value of the survivor's is never overwritten
                custom_fields[key] = value
    common = {
        "sending_list_id": list_id,
        "survivor": survivor_side,
        "duplicate": duplicate_side,
        "custom_fields": custom_fields,
    }
    opted_out = [m for m in sides if not m.active]
    if opted_out:
        # Never reactivated: the earliest opt-out stands, with its reason and time as the evidence.
        evidence = min(opted_out, key=lambda m: (m.opted_out_at, m.pk))
        why = "" if len(opted_out) == len(sides) else "opted out on the other contact's side"
        return MembershipPlan(
            **common,
            active=False,
            unsub_reason=evidence.unsub_reason,
            opted_out_at=evidence.opted_out_at,
            why=why,
        )
    standing = ledger.opt_outs_on(sending_list_id=list_id)
    if standing:
        evidence = min(standing, key=lambda row: (row.occurred_at, row.phone_number))
        scope = "every list (STOPALL)" if evidence.sending_list_id is None else "this list"
        return MembershipPlan(
            **common,
            active=False,
            unsub_reason=evidence.reason or UnsubReason.MESSAGE,
            opted_out_at=evidence.occurred_at,
            why=f"{evidence.phone_number} opted out of {scope}",
        )
    return MembershipPlan(**common, active=True, unsub_reason="", opted_out_at=None)


# --- the merge --------------------------------------------------------------------------------------


def contact_merge_record(
    *, survivor_id: int, duplicate_id: int | None = None, duplicate_uuid=None
) -> ContactMerge | None:
    """The record of an earlier merge of the duplicate (by v1 id or v2 uuid) into this survivor."""
    lookup = (
        {"duplicate_id": duplicate_id} if duplicate_id is not None else {"duplicate_uuid": duplicate_uuid}
    )
    return ContactMerge.objects.select_related("survivor").filter(survivor_id=survivor_id, **lookup).first()


def contact_merged_as(duplicate_id: int) -> ContactMerge | None:
    """The record of the merge that took contact `duplicate_id` (v1 id), into whichever survivor."""
    return ContactMerge.objects.select_related("survivor").filter(duplicate_id=duplicate_id).first()


@transaction.atomic
def contacts_merge(*, survivor: Contact, duplicate_id: int, actor: Actor) -> MergeResult:
    """Merge contact `duplicate_id` into `survivor` and delete it. Atomic: a refusal or a failure
    changes nothing. Safe to retry: when the duplicate is already merged into this survivor, the
    first merge's result is answered (`already_merged`) and nothing is written.

    Refused with a ValidationError when the contacts are one; Contact.DoesNotExist when either
    contact is gone otherwise.
    Both rows are locked in id order, so two merges of the same pair cannot deadlock.
    """
    if survivor.pk == duplicate_id:
        raise ValidationError({"duplicate": "A contact cannot be merged with itself."})
    locked = {
        contact.pk: contact
        for contact in Contact.objects.select_for_update()
        .filter(pk__in=[survivor.pk, duplicate_id])
        .order_by("pk")
    }
    if survivor.pk not in locked:
        raise Contact.DoesNotExist(f"Contact {survivor.pk} does not exist.")
    if duplicate_id not in locked:
        record = contact_merge_record(survivor_id=survivor.pk, duplicate_id=duplicate_id)
        if record is None:
            raise Contact.DoesNotExist(f"Contact {duplicate_id} does not exist.")
        return MergeResult.of(record, already_merged=True)
    survivor, duplicate = locked[survivor.pk], locked[duplicate_id]
    memberships = list(
        ListContact.objects.select_for_update()
        .filter(contact_id__in=[survivor.pk, duplicate.pk])
        .order_by("pk")
    )
    plan = _plan(survivor=survivor, duplicate=duplicate, memberships=memberships)
    if plan.problems:
        raise ValidationError({"duplicate": plan.problems})
    now = timezone.now()
    label = (
        f"contact #{duplicate.pk} ({duplicate.phone_number}) into #{survivor.pk} ({survivor.phone_number})"
    )

    if plan.blocked:
        _merge_block(survivor=survivor, duplicate=duplicate, actor=actor, label=label)
    contact_update(
        contact=survivor,
        values={f.name: f.result for f in plan.fields if f.result != f.survivor_value},
    )
    contact_set_tags(contact=survivor, names=plan.tags_kept)
    for membership_plan in plan.memberships:
        _membership_apply(membership_plan, survivor=survivor, now=now)
    # ContactNumber is the database's (its triggers follow the channels moved below and the row
    # deleted): re-pointed here, the duplicate's number would stay held as the survivor's primary.
    _repoint(Contact, old=duplicate.pk, new=survivor.pk, handled=(ListContact, ContactChannel, ContactNumber))

    # The duplicate's channels are the survivor's now. Its number becomes one after its row is gone:
    # the database holds a number as one contact's primary or one contact's channel, never both,
    # within the transaction too.
    ContactChannel.objects.filter(contact=duplicate).update(contact=survivor)
    record = ContactMerge(
        survivor=survivor,
        duplicate_id=duplicate.pk,
        duplicate_uuid=duplicate.uuid,
        duplicate_phone_number=duplicate.phone_number,
        dropped_tags=plan.tags_dropped,
        actor_label=actor.label[:200],
        user=actor.user,
    )
    duplicate.delete()
    contact_channel_add(contact=survivor, kind=ChannelKind.PHONE, value=record.duplicate_phone_number)
    record.save()

    for membership_plan in plan.memberships:
        membership = ListContact.objects.get(
            sending_list_id=membership_plan.sending_list_id, contact=survivor
        )
        outcome = membership_plan.status.label
        if membership_plan.why:
            outcome += f" ({membership_plan.why})"
        event_record(
            membership=membership,
            contact=survivor,
            sending_list_id=membership.sending_list_id,
            kind=EventKind.MERGED,
            reason=membership.unsub_reason,
            actor=actor,
            occurred_at=now,
            note=f"Merged {label}: {outcome}.",
        )
    survivor.refresh_from_db()
    return MergeResult.of(record, already_merged=False)


def _merge_block(*, survivor: Contact, duplicate: Contact, actor: Actor, label: str) -> None:
    """A block on either side blocks the merged contact and both its numbers, in the ledger too."""
    note = f"Merged {label}; a block on either side blocks the merged contact."
    if not survivor.blocked:
        contact_block(contact=survivor, actor=actor, note=note)
        survivor.refresh_from_db()
    if not number_is_blocked(duplicate.phone_number):
        # The event names the duplicate until its history is re-pointed to the survivor below.
        event_record(
            membership=None,
            contact=duplicate,
            sending_list_id=None,
            kind=EventKind.BLOCKED,
            actor=actor,
            occurred_at=timezone.now(),
            note=note,
        )


def _membership_apply(plan: MembershipPlan, *, survivor: Contact, now: dt.datetime) -> None:
    """Write one list's result: one membership of the survivor, its count deltas kept right."""
    deltas: Counter = Counter()
    status_fields = {
        "active": plan.active,
        "unsub_reason": plan.unsub_reason,
        "opted_out_at": plan.opted_out_at,
    }
    if not plan.active:
        status_fields["in_workflow"] = False
    kept, gone = plan.survivor or plan.duplicate, plan.duplicate if plan.survivor else None
    values = {
        **status_fields,
        "custom_fields": plan.custom_fields,
        "contact_id": survivor.pk,
        "updated_at": now,
        "status_changed_at": max(m.status_changed_at for m in plan.sides),
    }
    if kept.status != plan.status:  # the merge decided this membership's status now
        values["status_changed_at"] = max(now, values["status_changed_at"])
    if gone is not None:
        # Both sides: the duplicate's counters are added to the survivor's in the database (its row
        # is locked, so the amounts read are the amounts it holds); its history moves, then it goes.
        values.update({name: F(name) + getattr(gone, name) for name in SUMMED_COUNTERS})
        values.update({name: plan.latest(name) for name in LATEST_TIMES})
        values["subscribed_at"] = min(m.subscribed_at for m in plan.sides)
        values["consecutive_failures"] = max(m.consecutive_failures for m in plan.sides)
        if plan.active:
            values["in_workflow"] = kept.in_workflow or gone.in_workflow
        _repoint(ListContact, old=gone.pk, new=kept.pk)
        ListContact.objects.filter(pk=gone.pk).delete()
        deltas[gone.status] -= 1
    ListContact.objects.filter(pk=kept.pk).update(**values)
    deltas[kept.status] -= 1
    deltas[plan.status] += 1
    list_status_counts_add(sending_list_id=plan.sending_list_id, deltas=deltas)


def _repoint(model, *, old: int, new: int, handled=()) -> None:
    """Every row of every model with a foreign key to `model` at `old` now points at `new` (the
    rows themselves, numbers and times of history included, are unchanged)."""
    for relation in model._meta.related_objects:
        if relation.many_to_many or relation.related_model in handled:
            continue
        name = relation.field.name
        relation.related_model._base_manager.filter(**{name: old}).update(**{name: new})
