"""Deciding what each distinct phone of a chunk becomes, and asking the writer or the services to
make it so: a subscribe file (`chunk_decide_subscribe`) or an opt-out file (`chunk_decide_opt_outs`).
`pipeline.py` stages the chunk and counts the outcomes these return.
"""

from collections import Counter

from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, MembershipStatus, SignupMethod, UnsubReason
from sendinglists.imports.models import ImportJob
from sendinglists.imports.writers import ChunkWriter
from sendinglists.lists.services import list_status_counts_add
from sendinglists.subscriptions.changes import event_record
from sendinglists.subscriptions.consent import holders_suppressions_standing, numbers_with_own_opt_out
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.opt_out import contact_opt_out_of_list, list_contacts_opt_out_bulk
from sendinglists.subscriptions.subscribe import Outcome, list_contact_subscribe, subscription_outcome

OPTED_OUT_NOW = "opted_out"  # an opt-out file's outcome for a number it opted out


def chunk_decide_subscribe(job: ImportJob, writer: ChunkWriter, records: dict, state: dict) -> dict:
    """What each distinct phone of the chunk becomes, and the writes that make it so."""
    sending_list = job.sending_list
    # The consent ledger, for every number of the chunk and every other number its contact holds.
    standing = _standing(sending_list.pk, state, writer)
    outcomes: dict[str, Outcome] = {}
    to_create, to_merge, one_by_one = [], [], []
    created_for: set[int] = set()
    for phone, record in records.items():
        contact_id, blocked, membership_id, active = state[phone]
        suppression = standing.get(phone)
        outcome = subscription_outcome(
            membership_active=active if membership_id is not None else None,
            contact_blocked=blocked
            or (suppression is not None and suppression.kind == SuppressionKind.BLOCK),
            suppressed=suppression is not None,
        )
        outcomes[phone] = outcome
        if outcome == Outcome.CREATED and contact_id in created_for:
            # Another phone of the chunk is this contact's too (its phone, or another channel): the
            # service merges this one's fields into the membership that one creates.
            one_by_one.append(phone)
        elif outcome == Outcome.CREATED:
            created_for.add(contact_id)
            to_create.append((contact_id, phone, record.custom))
        elif outcome == Outcome.UPDATED:
            if record.custom:
                to_merge.append((membership_id, record.custom))
        elif outcome == Outcome.SKIPPED_OPTED_OUT and (membership_id is None or active):
            # A number the ledger holds as opted out without an opted-out membership here (deleted
            # and re-created, given to another contact): the service gives it its opted-out one.
            one_by_one.append(phone)
    actor = Actor.for_import(job)
    note = consent_note(job)
    created = writer.memberships_create(to_create, actor=actor, note=note)
    list_status_counts_add(
        sending_list_id=sending_list.pk, deltas=Counter({MembershipStatus.ACTIVE: len(created)})
    )
    writer.custom_fields_merge(to_merge)
    # Memberships someone else created between our read and our insert, and restored opt-outs:
    # few, so the per-row service decides again against the rows as they are now.
    one_by_one.extend(phone for contact_id, phone, _ in to_create if contact_id not in created)
    for phone in one_by_one:
        result = list_contact_subscribe(
            sending_list=sending_list,
            contact=Contact.objects.get(pk=state[phone][0]),
            signup_method=SignupMethod.IMPORT,
            actor=actor,
            custom_fields=records[phone].custom,
            note=note,
        )
        outcomes[phone] = result.outcome
    return outcomes


def _standing(sending_list_id: int, state: dict, writer: ChunkWriter) -> dict:
    return holders_suppressions_standing(
        sending_list_id=sending_list_id,
        contact_id_by_phone={phone: contact_id for phone, (contact_id, *_) in state.items()},
        with_channels=writer.contacts_with_channels,
    )


def consent_note(job: ImportJob) -> str:
    """How a SUBSCRIBED event of the import names the consent the operator attested."""
    return f"Consent attested by {job.attested_by_label} on {job.attested_at:%Y-%m-%d %H:%M} UTC (import #{job.pk})."


def chunk_decide_opt_outs(job: ImportJob, writer: ChunkWriter, records: dict, state: dict) -> dict:
    """An opt-out file: every number gets the list's suppression in the consent ledger, known or
    not. Active members are opted out (one event each, naming the import); a number with no
    membership gets an opted-out one, as a STOP from a new number does; an opted-out member stays
    as it is (its number's opt-out recorded if the ledger lacked it)."""
    sending_list = job.sending_list
    actor = Actor.for_import(job)
    note = f"Opt-out file {job.original_filename[:120]} (import #{job.pk})."
    outcomes: dict[str, str] = {}

    def record_own(contact_id: int, membership_id: int, phone: str, reason: str, why: str) -> None:
        """The number's own opt-out of an already unsubscribed member (the ledger writes it)."""
        event_record(
            membership=ListContact(pk=membership_id, sending_list_id=sending_list.pk),
            contact=Contact(pk=contact_id, phone_number=phone),
            sending_list_id=sending_list.pk,
            kind=EventKind.OPTED_OUT,
            reason=reason,
            actor=actor,
            occurred_at=timezone.now(),
            note=f"{note} {why}",
        )

    active_by_reason: dict[str, list[int]] = {}
    opting_out: dict[int, str] = {}  # membership id -> the file's number that opts it out
    also: list[tuple[int, int, str, str]] = []
    inactive = [phone for phone in records if state[phone][2] is not None and not state[phone][3]]
    # An opted-out member's number from the file: its opt-out is recorded unless it stands as its
    # own (carried onto it from another number of its contact, it would go with that number's START).
    own = (
        numbers_with_own_opt_out(sending_list_id=sending_list.pk, phone_numbers=inactive)
        if inactive
        else set()
    )
    for phone, record in records.items():
        contact_id, _, membership_id, active = state[phone]
        reason = record.reason or UnsubReason.MESSAGE
        if active and membership_id in opting_out:
            also.append((contact_id, membership_id, phone, reason))  # another of the contact's numbers
            outcomes[phone] = OPTED_OUT_NOW
        elif active:
            opting_out[membership_id] = phone
            active_by_reason.setdefault(reason, []).append(membership_id)
            outcomes[phone] = OPTED_OUT_NOW
        elif membership_id is None:
            contact_opt_out_of_list(
                sending_list=sending_list,
                contact=Contact(pk=contact_id, phone_number=phone),
                reason=reason,
                actor=actor,
                note=note,
            )
            outcomes[phone] = OPTED_OUT_NOW
        else:
            if phone not in own:
                record_own(
                    contact_id,
                    membership_id,
                    phone,
                    reason,
                    "Already unsubscribed; the number's opt-out recorded.",
                )
            outcomes[phone] = Outcome.SKIPPED_OPTED_OUT
    for reason, membership_ids in sorted(active_by_reason.items()):
        for start in range(0, len(membership_ids), 5000):
            list_contacts_opt_out_bulk(
                sending_list_id=sending_list.pk,
                membership_ids=membership_ids[start : start + 5000],
                reason=reason,
                actor=actor,
                note=note,
                numbers=opting_out,
            )
    for contact_id, membership_id, phone, reason in also:
        # The contact's other number in the file: its opt-out is its own too, not only carried.
        record_own(
            contact_id,
            membership_id,
            phone,
            reason,
            "The number's own opt-out; its contact opted out by another number of the file.",
        )
    return outcomes
