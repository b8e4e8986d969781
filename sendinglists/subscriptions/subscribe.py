import datetime as dt
import enum
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact, NumberSuppression
from contacts.services import number_is_blocked
from sendinglists.actors import Actor
from sendinglists.choices import (
    EventKind,
    SignupMethod,
    UnsubReason,
)
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import clean_custom_fields
from sendinglists.subscriptions.changes import (
    LATER_CHANGE_STANDS,
    StatusChange,
    event_record,
    membership_for_update,
    membership_insert,
    opt_out_locked,
    status_change_record,
    status_change_time,
)
from sendinglists.subscriptions.consent import (
    contact_suppression_standing,
    number_has_opt_out,
    suppression_text,
)
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.rows import new_membership_values


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
    standing = contact_suppression_standing(sending_list_id=sending_list.pk, contact=contact)
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
        inserted = membership_insert(
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
        opt_out_locked(
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
    inserted = membership_insert(
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


def list_contact_resubscribe(
    *,
    membership: ListContact,
    actor: Actor,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    locked: bool = False,
    start_from: str | None = None,
) -> StatusChange:
    """Explicitly turn an opted-out membership back on, recording who did it and why.

    The only way back from an opt-out. Refused for a blocked contact; a resubscribe older than
    the latest status change (a STOP sent after this START) does not apply. Atomic; `locked` as
    for `list_contact_opt_out`.

    `start_from`: the E.164 number whose inbound START this is. A START speaks for its own number
    only: while another number of the contact (a phone channel, or its phone when the START came
    from a channel) stands opted out of the list, it is refused. An operator's resubscribe (no
    `start_from`) is the explicit, audited decision for every number of the contact.
    """
    with membership_for_update(membership, locked=locked) as membership:
        return _resubscribe_locked(
            membership, actor=actor, occurred_at=occurred_at, note=note, start_from=start_from
        )


def _resubscribe_locked(
    membership: ListContact,
    *,
    actor: Actor,
    occurred_at: dt.datetime | None,
    note: str,
    start_from: str | None = None,
) -> StatusChange:
    blocked = "The contact is blocked; unblock it first."
    if membership.contact.blocked:
        return StatusChange(False, membership, blocked)
    if membership.active:
        return StatusChange(False, membership, "Already subscribed.")
    # The number's block in the ledger, asked only when the membership would turn on: a START from
    # an active member (most of them) costs no query for it.
    if number_is_blocked(membership.contact.phone_number):
        return StatusChange(False, membership, blocked)
    if start_from is not None:
        standing = contact_suppression_standing(
            sending_list_id=membership.sending_list_id, contact=membership.contact, opt_in_from=start_from
        )
        if standing is not None:
            # Another number of the contact stands opted out on its own: this number's START
            # still lifts its own opt-outs (the other number's START then brings the contact back).
            if number_has_opt_out(sending_list_id=membership.sending_list_id, phone_number=start_from):
                event_record(
                    membership=membership,
                    contact=membership.contact,
                    sending_list_id=membership.sending_list_id,
                    kind=EventKind.NUMBER_OPTED_IN,
                    actor=actor,
                    occurred_at=occurred_at or timezone.now(),
                    note=f"START from {start_from}; another number of the contact stays opted out.",
                )
            return StatusChange(False, membership, suppression_text(standing))
    now = status_change_time(membership, occurred_at)
    if now is None:
        return StatusChange(False, membership, LATER_CHANGE_STANDS)
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
    status_change_record(
        membership, old=old, kind=EventKind.RESUBSCRIBED, actor=actor, occurred_at=now, note=note
    )
    return StatusChange(True, membership)
