"""Subscription services: the one home of the rules about memberships.

The rule that matters most lives in `subscription_outcome`: a number the consent ledger
(`sendinglists/consent.py`) holds as opted out of a list, or blocked, is never made active on it by
an import or an upsert, whichever contact holds the number. Only `list_contact_resubscribe` (an
explicit, audited act: an inbound START, an operator, an API call that asks for it) lifts an
opt-out. Every event written here updates the ledger in the same transaction (`event_record`).
"""

import datetime as dt
import enum
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact, NumberSuppression
from contacts.phones import normalize_phone
from contacts.services import number_is_blocked
from sendinglists.actors import Actor
from sendinglists.choices import (
    EventKind,
    FieldType,
    MembershipStatus,
    SignupMethod,
    UnsubReason,
    status_from,
)
from sendinglists.consent import ledger_apply, suppression_standing, suppression_text
from sendinglists.customfields import custom_fields_clean
from sendinglists.models import CustomField, ListContact, ListStatusCount, SendingList, SubscriptionEvent
from sendinglists.subscriptions.rows import event_values, new_membership_values


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # already subscribed: custom fields merged
    SKIPPED_OPTED_OUT = "skipped_opted_out"
    SKIPPED_BLOCKED = "skipped_blocked"


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    outcome: Outcome
    membership: ListContact | None
    reason: str = ""
    """Why nothing changed, in words an API consumer or operator can read."""


def subscription_outcome(
    *, membership_active: bool | None, contact_blocked: bool, suppressed: bool
) -> Outcome:
    """What a subscribe request (API upsert, import row, journey) does to a membership.

    `membership_active` is None when there is no membership yet; `suppressed` says the consent
    ledger holds the number as opted out of the list (`suppressions_standing`). This is the single
    place that decides; the import pipeline calls it per row, `list_contact_subscribe` per request.
    """
    if contact_blocked:
        return Outcome.SKIPPED_BLOCKED
    if suppressed or membership_active is False:
        return Outcome.SKIPPED_OPTED_OUT
    return Outcome.CREATED if membership_active is None else Outcome.UPDATED


def skip_reason(outcome: Outcome, membership: ListContact | None) -> str:
    if outcome == Outcome.SKIPPED_BLOCKED:
        return "The contact is blocked and is never subscribed."
    if outcome == Outcome.SKIPPED_OPTED_OUT:
        label = membership.status_label if membership else "Opted-out"
        return (
            f"The contact opted out of this list ({label}); only the contact (START) or an explicit "
            "resubscribe can subscribe it again."
        )
    return ""


# --- counts ---------------------------------------------------------------------------------------


def list_status_counts_add(*, sending_list_id: int, deltas: Counter) -> None:
    """Record count changes per status (a Counter of status -> +n/-n); zero deltas write nothing."""
    rows = [
        ListStatusCount(sending_list_id=sending_list_id, status=status, count=count)
        for status, count in deltas.items()
        if count
    ]
    if rows:
        ListStatusCount.objects.bulk_create(rows)


def _count_change(
    membership: ListContact, old: MembershipStatus | None, new: MembershipStatus | None
) -> None:
    deltas: Counter = Counter()
    if old is not None:
        deltas[old] -= 1
    if new is not None:
        deltas[new] += 1
    list_status_counts_add(sending_list_id=membership.sending_list_id, deltas=deltas)


def list_status_counts(*, sending_list_ids: list[int]) -> dict[int, dict[str, int]]:
    """Members per list and status: {list_id: {status: count}} (every status present, maybe 0)."""
    counts = {list_id: dict.fromkeys(MembershipStatus.values, 0) for list_id in sending_list_ids}
    rows = (
        ListStatusCount.objects.filter(sending_list_id__in=sending_list_ids)
        .values("sending_list_id", "status")
        .annotate(total=Sum("count"))
    )
    for row in rows:
        counts[row["sending_list_id"]][row["status"]] = row["total"]
    return counts


def list_status_counts_squash() -> int:
    """Fold each list's count rows into one row per status; returns how many lists were squashed.

    Safe to run concurrently with writers: it sums and deletes exactly the rows it read, under a
    lock on the list row, and inserts their sum in the same transaction.
    """
    squashed = 0
    list_ids = (
        ListStatusCount.objects.filter(is_squashed=False).values_list("sending_list_id", flat=True).distinct()
    )
    for list_id in list(list_ids):
        with transaction.atomic():
            SendingList.objects.select_for_update().filter(pk=list_id).first()
            rows = list(ListStatusCount.objects.select_for_update().filter(sending_list_id=list_id))
            totals: Counter = Counter()
            for row in rows:
                totals[row.status] += row.count
            ListStatusCount.objects.filter(pk__in=[row.pk for row in rows]).delete()
            ListStatusCount.objects.bulk_create(
                ListStatusCount(sending_list_id=list_id, status=status, count=count, is_squashed=True)
                for status, count in totals.items()
                if count
            )
        squashed += 1
    return squashed


# --- events ---------------------------------------------------------------------------------------


def event_record(
    *,
    membership: ListContact | None,
    contact: Contact,
    sending_list_id: int | None,
    kind: EventKind,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    signup_method: str = "",
    note: str = "",
) -> SubscriptionEvent:
    event = _new_event(
        membership=membership,
        contact=contact,
        sending_list_id=sending_list_id,
        kind=kind,
        actor=actor,
        occurred_at=occurred_at,
        reason=reason,
        signup_method=signup_method,
        note=note,
    )
    event.save()
    ledger_apply([event])
    return event


def _new_event(
    *,
    membership: ListContact | None,
    contact: Contact,
    sending_list_id: int | None,
    kind: EventKind,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    signup_method: str = "",
    note: str = "",
) -> SubscriptionEvent:
    """An unsaved event row: `event_record` saves one, bulk services bulk_create many. A number that
    no contact holds any more is passed as an unsaved `Contact(phone_number=…)`: the event keeps the
    number and links no contact."""
    return SubscriptionEvent(
        sending_list_id=sending_list_id,
        list_contact=membership,
        contact=contact if contact.pk is not None else None,
        phone_number=contact.phone_number,
        **event_values(
            kind=kind,
            actor=actor,
            occurred_at=occurred_at,
            reason=reason,
            signup_method=signup_method,
            note=note,
        ),
    )


# --- custom fields --------------------------------------------------------------------------------


def custom_field_check(*, field_type: str, choices) -> None:
    """The rules of a field definition that the database cannot check; forms call it in `clean()`."""
    if field_type == FieldType.CHOICE and not choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})


@transaction.atomic
def custom_field_room_check(*, sending_list: SendingList, adding: int = 1) -> None:
    """ValidationError (not about one field) when `adding` more custom fields would put
    `sending_list` over CUSTOM_FIELDS_PER_LIST_MAX. The one rule: custom_field_create enforces it;
    the import start and the admin forms ask it first to refuse a whole mapping or formset at once."""
    limit = settings.CUSTOM_FIELDS_PER_LIST_MAX
    existing = CustomField.objects.filter(sending_list=sending_list).count() if sending_list.pk else 0
    if adding > 0 and existing + adding > limit:
        raise ValidationError(
            f"A list can have at most {limit:,} custom fields (CUSTOM_FIELDS_PER_LIST_MAX): "
            f"{sending_list.name!r} has {existing:,}, and {adding:,} more would make {existing + adding:,}.",
            code="custom_fields_limit",
        )


@transaction.atomic
def custom_field_create(
    *, sending_list: SendingList, key: str, label: str = "", field_type: str = FieldType.TEXT, choices=None
) -> CustomField:
    """Define a custom field on a list. The key is a slug; a duplicate key, or a field past
    CUSTOM_FIELDS_PER_LIST_MAX, is a ValidationError."""
    # The list row's lock serialises concurrent creates, so two cannot both take the last place.
    SendingList.objects.select_for_update().filter(pk=sending_list.pk).exists()
    custom_field_room_check(sending_list=sending_list)
    field = CustomField(
        sending_list=sending_list,
        key=key,
        label=label or key.replace("_", " ").title(),
        field_type=field_type,
        choices=list(choices or []),
    )
    field.full_clean(exclude=["sending_list"], validate_unique=False)
    custom_field_check(field_type=field_type, choices=field.choices)
    if CustomField.objects.filter(sending_list=sending_list, key=key).exists():
        raise ValidationError({"key": f"This list already has a custom field {key!r}."})
    field.save()
    return field


def clean_custom_fields(*, sending_list: SendingList | int, values: dict | None) -> dict:
    """`values` checked and typed against the custom fields of `sending_list` (a list or its id)."""
    if not values:
        return {}
    fields = _custom_field_definitions(getattr(sending_list, "pk", sending_list))
    return custom_fields_clean(fields=fields, values=values)


def _custom_field_definitions(sending_list_id: int) -> list[CustomField]:
    """A list's custom fields, by key. A raw query: a filtered API page and a subscribe with custom
    fields read them on every request, and compiling the ORM query cost as much again as running it
    (0.59 against 0.28 ms of CPU)."""
    meta = CustomField._meta
    quote = connection.ops.quote_name
    # Uses index: customfield_list_key_unique (sending_list, key)
    sql = (
        f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('sending_list').column)} = %s"
        f" ORDER BY {quote(meta.get_field('key').column)}"
    )
    return list(CustomField.objects.raw(sql, [sending_list_id]))


# --- memberships ----------------------------------------------------------------------------------


@transaction.atomic
def list_contact_subscribe(
    *,
    sending_list: SendingList,
    contact: Contact,
    signup_method: str,
    actor: Actor,
    custom_fields: dict | None = None,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> SubscribeResult:
    """Subscribe a contact to a list, or merge custom fields into an active membership.

    Never reactivates an opted-out membership and never subscribes a blocked contact: those
    come back as SKIPPED_* with a reason, and nothing changes. A new membership records a
    SUBSCRIBED event naming the actor. Custom fields are validated against the list's fields.
    """
    if signup_method not in SignupMethod.values:
        raise ValidationError({"signup_method": f"Unknown signup method {signup_method!r}."})
    cleaned = clean_custom_fields(sending_list=sending_list, values=custom_fields)
    now = occurred_at or timezone.now()
    # The contact row, locked: its number and block as they are now, and no phone change or
    # STOP of this person between this decision and the commit.
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    membership = (
        ListContact.objects.select_for_update().filter(sending_list=sending_list, contact=contact).first()
    )
    standing = suppression_standing(sending_list_id=sending_list.pk, phone_number=contact.phone_number)
    was_member_opted_out = membership is not None and not membership.active
    outcome = subscription_outcome(
        membership_active=None if membership is None else membership.active,
        contact_blocked=contact.blocked or (standing is not None and standing.kind == SuppressionKind.BLOCK),
        suppressed=standing is not None,
    )
    if outcome == Outcome.CREATED:
        membership = ListContact(
            sending_list=sending_list,
            contact=contact,
            custom_fields=cleaned,
            **new_membership_values(signup_method=signup_method, subscribed_at=now),
        )
        inserted = _membership_insert(
            membership,
            kind=EventKind.SUBSCRIBED,
            actor=actor,
            occurred_at=now,
            signup_method=signup_method,
            note=note,
        )
        if not inserted:
            # A concurrent request created it first; decide again against the row it wrote.
            return list_contact_subscribe(
                sending_list=sending_list,
                contact=contact,
                signup_method=signup_method,
                actor=actor,
                custom_fields=custom_fields,
                occurred_at=occurred_at,
                note=note,
            )
    elif outcome == Outcome.UPDATED:
        merged = {**membership.custom_fields, **cleaned}
        if merged != membership.custom_fields:
            membership.custom_fields = merged
            membership.save(update_fields=["custom_fields", "updated_at"])
    elif outcome == Outcome.SKIPPED_OPTED_OUT and membership is None:
        membership = _restore_prior_opt_out(
            sending_list=sending_list, contact=contact, prior=standing, now=now
        )
    elif outcome == Outcome.SKIPPED_OPTED_OUT and membership.active:
        # The ledger holds the number as opted out while its contact is active here (data from
        # before the ledger): the opt-out wins.
        _opt_out_locked(
            ListContact.objects.select_related("contact").get(pk=membership.pk),
            reason=standing.reason or UnsubReason.MANUAL,
            actor=Actor.system("consent ledger"),
            occurred_at=None,
            note=suppression_text(standing, list_name=sending_list.name),
        )
        membership.refresh_from_db()
    reason = skip_reason(outcome, membership)
    if outcome == Outcome.SKIPPED_OPTED_OUT and not was_member_opted_out:
        # Opted out under another contact, or before this membership: the ledger says when.
        reason = suppression_text(standing, list_name=sending_list.name)
    return SubscribeResult(outcome=outcome, membership=membership, reason=reason)


def _restore_prior_opt_out(*, sending_list, contact, prior: NumberSuppression, now) -> ListContact:
    """Give a number the ledger holds as opted out (a contact deleted and re-created, a number
    given to another contact, a STOPALL) its opted-out membership when it is subscribed again."""
    membership = ListContact(
        sending_list=sending_list,
        contact=contact,
        active=False,
        unsub_reason=prior.reason or UnsubReason.MANUAL,
        signup_method=SignupMethod.MANUAL,
        subscribed_at=now,
        opted_out_at=prior.occurred_at,
        status_changed_at=prior.occurred_at,
    )
    inserted = _membership_insert(
        membership,
        kind=EventKind.OPTED_OUT,
        reason=membership.unsub_reason,
        actor=Actor.system("consent ledger"),
        occurred_at=now,
        note=(
            f"The opt-out of {prior.phone_number} of {prior.occurred_at:%Y-%m-%d %H:%M} UTC "
            f"(event #{prior.event_id}) still stands."
        ),
    )
    if not inserted:  # a concurrent request created the membership: it decides
        return ListContact.objects.get(sending_list=sending_list, contact=contact)
    return membership


def _membership_insert(
    membership: ListContact, *, kind: EventKind, actor: Actor, occurred_at, **event
) -> bool:
    """Insert a new membership with its count delta and its event, or return False (and write
    nothing) when a concurrent insert of the same (list, contact) won the unique constraint."""
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError:
        return False
    _count_change(membership, None, membership.status)
    event_record(
        membership=membership,
        contact=membership.contact,
        sending_list_id=membership.sending_list_id,
        kind=kind,
        actor=actor,
        occurred_at=occurred_at,
        **event,
    )
    return True


@dataclass(frozen=True, slots=True)
class StatusChange:
    changed: bool
    membership: ListContact
    reason: str = ""


@contextmanager
def _membership_for_update(membership: ListContact, *, locked: bool):
    """The membership row to change, locked until commit, with its contact loaded.

    `locked=True` promises a row the caller read with select_for_update in its still-open
    transaction: it is used as it is (no second read, no savepoint) and the writes join the
    caller's transaction. Otherwise the row is read again, locked, in a transaction of its own.
    """
    if locked:
        if not transaction.get_connection().in_atomic_block:
            raise transaction.TransactionManagementError(
                f"Membership {membership.pk} passed as locked outside a transaction."
            )
        yield membership
        return
    with transaction.atomic():
        yield ListContact.objects.select_for_update().select_related("contact").get(pk=membership.pk)


def list_contact_opt_out(
    *,
    membership: ListContact,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    locked: bool = False,
) -> StatusChange:
    """Opt a membership out with `reason`; idempotent (an inactive membership stays as it is).

    `occurred_at` is when the opt-out happened (an inbound STOP's own timestamp): a change older
    than the membership's latest status change (a START sent after this STOP) does not apply.
    Atomic. `locked`: the caller already holds the membership's row lock in its open transaction
    (read with select_for_update, its contact loaded), so the row is not read again; the writes
    join the caller's transaction, which rolls back as a whole if they fail.
    """
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    with _membership_for_update(membership, locked=locked) as membership:
        return _opt_out_locked(membership, reason=reason, actor=actor, occurred_at=occurred_at, note=note)


def opted_out_fields(*, reason: str, at: dt.datetime) -> dict:
    """What an opt-out sets on a membership, the one place that says so: the opt-out services save
    these fields (one row, or a chunk in one UPDATE), and the demo builds its memberships with them."""
    return {
        "active": False,
        "unsub_reason": reason,
        "opted_out_at": at,
        "status_changed_at": at,
        "in_workflow": False,
    }


def membership_set_opted_out(membership: ListContact, *, reason: str, at: dt.datetime) -> list[str]:
    """Set `opted_out_fields` on `membership` in memory; returns their names for the caller's save."""
    fields = opted_out_fields(reason=reason, at=at)
    for name, value in fields.items():
        setattr(membership, name, value)
    return list(fields)


def _opt_out_locked(
    membership: ListContact, *, reason: str, actor: Actor, occurred_at: dt.datetime | None, note: str
) -> StatusChange:
    now = occurred_at or timezone.now()
    if not membership.active:
        return StatusChange(False, membership, f"Already unsubscribed ({membership.status_label}).")
    if occurred_at is None:
        # An act of now (an operator, the API, an import) applies after any change dated ahead of
        # this clock (a provider's fast clock), never before it.
        now = max(now, membership.status_changed_at)
    elif now < membership.status_changed_at:
        return StatusChange(False, membership, "A later change already decided this membership's status.")
    old = membership.status
    changed = membership_set_opted_out(membership, reason=reason, at=now)
    membership.save(update_fields=[*changed, "updated_at"])
    _count_change(membership, old, membership.status)
    event_record(
        membership=membership,
        contact=membership.contact,
        sending_list_id=membership.sending_list_id,
        kind=EventKind.OPTED_OUT,
        reason=reason,
        actor=actor,
        occurred_at=now,
        note=note,
    )
    return StatusChange(True, membership)


@transaction.atomic
def list_contacts_opt_out_bulk(
    *,
    sending_list_id: int,
    membership_ids: list[int],
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> int:
    """The set-based `list_contact_opt_out` for a chunk of one list's memberships (list hygiene).

    Writes what `list_contact_opt_out` writes for each membership (status, one OPTED_OUT event
    naming the actor, count deltas) in a handful of statements. Idempotent like it: inactive
    memberships and ones whose status changed after `occurred_at` are left alone. Returns how many
    memberships it opted out. Keep chunks to a few thousand ids.
    """
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    now = occurred_at or timezone.now()
    # Rows locked in id order, so two bulk runs over overlapping chunks cannot deadlock.
    # With no time of its own the opt-out is an act of now: it applies whatever change is dated ahead.
    later_changes_stand = {"status_changed_at__lte": now} if occurred_at is not None else {}
    memberships = list(
        ListContact.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(sending_list_id=sending_list_id, pk__in=membership_ids, active=True, **later_changes_stand)
        .order_by("pk")
    )
    if not memberships:
        return 0
    ListContact.objects.filter(pk__in=[m.pk for m in memberships]).update(
        **opted_out_fields(reason=reason, at=now), updated_at=now
    )
    list_status_counts_add(
        sending_list_id=sending_list_id,
        deltas=Counter(
            {MembershipStatus.ACTIVE: -len(memberships), MembershipStatus(reason): len(memberships)}
        ),
    )
    events = SubscriptionEvent.objects.bulk_create(
        _new_event(
            membership=m,
            contact=m.contact,
            sending_list_id=sending_list_id,
            kind=EventKind.OPTED_OUT,
            reason=reason,
            actor=actor,
            occurred_at=now,
            note=note,
        )
        for m in memberships
    )
    ledger_apply(events)
    return len(memberships)


@transaction.atomic
def contact_opt_out_of_list(
    *,
    sending_list: SendingList,
    contact: Contact,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> StatusChange:
    """Opt a contact out of a list whether or not it is a member.

    A member goes through `list_contact_opt_out`. A number that never subscribed (a STOP from a
    new number) gets an opted-out membership (signup method inbound) and an OPTED_OUT event, so
    the opt-out stands against any later import, upsert or out-of-order START.
    """
    membership = ListContact.objects.filter(sending_list=sending_list, contact=contact).first()
    if membership is not None:
        return list_contact_opt_out(
            membership=membership, reason=reason, actor=actor, occurred_at=occurred_at, note=note
        )
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    now = occurred_at or timezone.now()
    membership = ListContact(
        sending_list=sending_list,
        contact=contact,
        signup_method=SignupMethod.INBOUND,
        subscribed_at=now,
        **opted_out_fields(reason=reason, at=now),
    )
    if not _membership_insert(
        membership, kind=EventKind.OPTED_OUT, reason=reason, actor=actor, occurred_at=now, note=note
    ):
        # A concurrent request created the membership first; opt that one out.
        return contact_opt_out_of_list(
            sending_list=sending_list,
            contact=contact,
            reason=reason,
            actor=actor,
            occurred_at=occurred_at,
            note=note,
        )
    return StatusChange(True, membership)


def list_contact_resubscribe(
    *,
    membership: ListContact,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    locked: bool = False,
) -> StatusChange:
    """Explicitly turn an opted-out membership back on, recording who did it and why.

    The only way back from an opt-out. Refused for a blocked contact; a resubscribe older than
    the latest status change (a STOP sent after this START) does not apply. Atomic; `locked` as
    for `list_contact_opt_out`.
    """
    with _membership_for_update(membership, locked=locked) as membership:
        return _resubscribe_locked(membership, actor=actor, occurred_at=occurred_at, note=note)


def _resubscribe_locked(
    membership: ListContact, *, actor: Actor, occurred_at: dt.datetime | None, note: str
) -> StatusChange:
    now = occurred_at or timezone.now()
    if membership.contact.blocked or number_is_blocked(membership.contact.phone_number):
        return StatusChange(False, membership, "The contact is blocked; unblock it first.")
    if membership.active:
        return StatusChange(False, membership, "Already subscribed.")
    if occurred_at is None:
        now = max(now, membership.status_changed_at)  # as for an opt-out of now
    elif now < membership.status_changed_at:
        return StatusChange(False, membership, "A later change already decided this membership's status.")
    old = membership.status
    membership.active = True
    membership.unsub_reason = ""
    membership.opted_out_at = None
    membership.subscribed_at = now
    membership.status_changed_at = now
    membership.consecutive_failures = 0
    membership.save(
        update_fields=[
            "active",
            "unsub_reason",
            "opted_out_at",
            "subscribed_at",
            "status_changed_at",
            "consecutive_failures",
            "updated_at",
        ]
    )
    _count_change(membership, old, MembershipStatus.ACTIVE)
    event_record(
        membership=membership,
        contact=membership.contact,
        sending_list_id=membership.sending_list_id,
        kind=EventKind.RESUBSCRIBED,
        actor=actor,
        occurred_at=now,
        note=note,
    )
    return StatusChange(True, membership)


@transaction.atomic
def list_contact_update_custom_fields(
    *, membership: ListContact, values: dict, replace: bool = False
) -> ListContact:
    """Merge (or with `replace`, set) custom field values; validated against the list's fields."""
    cleaned = clean_custom_fields(sending_list=membership.sending_list, values=values)
    membership = ListContact.objects.select_for_update().get(pk=membership.pk)
    membership.custom_fields = cleaned if replace else {**membership.custom_fields, **cleaned}
    membership.save(update_fields=["custom_fields", "updated_at"])
    return membership


@transaction.atomic
def list_contact_delete(*, membership: ListContact, actor: Actor) -> None:
    """Remove a membership. Its events stay (SET_NULL), so an opt-out survives the deletion."""
    membership = ListContact.objects.select_for_update().get(pk=membership.pk)
    _count_change(membership, membership.status, None)
    membership.delete()


# --- contacts (writes that record subscription events) --------------------------------------------


def contact_block(*, contact: Contact, actor: Actor, note: str = "") -> bool:
    """Block a contact: never messaged on any list, and its number blocked in the consent ledger
    (a re-created contact with it is blocked too). Audited; returns whether anything changed."""
    return _contact_set_blocked(contact=contact, blocked=True, actor=actor, note=note)


def contact_unblock(*, contact: Contact, actor: Actor, note: str = "") -> bool:
    """Lift a block, from the contact and its current number. Memberships keep their status;
    opted-out ones stay opted out."""
    return _contact_set_blocked(contact=contact, blocked=False, actor=actor, note=note)


@transaction.atomic
def _contact_set_blocked(*, contact: Contact, blocked: bool, actor: Actor, note: str) -> bool:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)  # its number as it is now
    contact.blocked, contact.phone_number = blocked, locked.phone_number
    if locked.blocked == blocked:
        return False
    now = timezone.now()
    Contact.objects.filter(pk=locked.pk).update(blocked=blocked, updated_at=now)
    event_record(
        membership=None,
        contact=locked,
        sending_list_id=None,
        kind=EventKind.BLOCKED if blocked else EventKind.UNBLOCKED,
        actor=actor,
        occurred_at=now,
        note=note,
    )
    return True


@transaction.atomic
def number_opt_out_of_list(
    *,
    phone_number: str,
    sending_list: SendingList,
    reason: str,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
) -> bool:
    """Opt a number out of a list whoever holds it now: the contact that has it (a membership
    opted out or created opted out), or, when no contact has it (a complaint or carrier opt-out
    about a deleted contact's message), an event and the consent ledger's suppression alone.
    Returns whether anything changed."""
    if reason not in UnsubReason.values:
        raise ValidationError({"reason": f"Unknown opt-out reason {reason!r}."})
    contact = Contact.objects.select_for_update().filter(phone_number=phone_number).first()
    if contact is not None:
        return contact_opt_out_of_list(
            sending_list=sending_list,
            contact=contact,
            reason=reason,
            actor=actor,
            occurred_at=occurred_at,
            note=note,
        ).changed
    if suppression_standing(sending_list_id=sending_list.pk, phone_number=phone_number) is not None:
        return False
    event_record(
        membership=None,
        contact=Contact(phone_number=phone_number),
        sending_list_id=sending_list.pk,
        kind=EventKind.OPTED_OUT,
        reason=reason,
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
        note=note,
    )
    return True


@transaction.atomic
def number_opt_out_everywhere(
    *, contact: Contact, actor: Actor, occurred_at: dt.datetime | None = None, note: str = ""
) -> SubscriptionEvent:
    """Record a STOPALL against the contact's number: an opt-out of every list, present and future,
    kept in the consent ledger until a START or resubscribe lifts it list by list. The caller opts
    out the memberships themselves (`list_contact_opt_out`)."""
    return event_record(
        membership=None,
        contact=contact,
        sending_list_id=None,
        kind=EventKind.OPTED_OUT,
        reason=UnsubReason.MESSAGE,
        actor=actor,
        occurred_at=occurred_at or timezone.now(),
        note=note,
    )


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Delete a contact and its memberships. Its consent stays: the subscription events (SET_NULL,
    with the number, list, reason, time and actor) and the ledger's suppressions of its number."""
    for membership in ListContact.objects.select_for_update().filter(contact=contact):
        _count_change(membership, membership.status, None)
    contact.delete()


# --- sending lists --------------------------------------------------------------------------------


@transaction.atomic
def sending_list_create(
    *, phone_number: str, name: str, default_region: str = "US", help_text: str = ""
) -> SendingList:
    phone = normalize_phone(phone_number, default_region)
    if not phone.is_valid:
        raise ValidationError(
            {"phone_number": f"{phone_number} is not a valid sender number: {phone.error}."}
        )
    if SendingList.objects.filter(phone_number=phone.e164).exists():
        raise ValidationError({"phone_number": f"A sending list already uses {phone.e164}."})
    sending_list = SendingList(
        phone_number=phone.e164, name=name, default_region=default_region.upper(), help_text=help_text
    )
    sending_list.full_clean()
    sending_list.save()
    return sending_list


def membership_status(membership: ListContact) -> MembershipStatus:
    return status_from(active=membership.active, unsub_reason=membership.unsub_reason)
