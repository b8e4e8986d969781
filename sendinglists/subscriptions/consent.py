"""The consent ledger: which numbers may not be messaged from which list, whatever holds them now.

Consent belongs to the phone number, not to a Contact row. Every consent change is a
`SubscriptionEvent` (append-only, keyed by E.164 number and list, outliving the contact); this
module keeps the ledger's current state, `contacts.NumberSuppression`, in step with those events in
the same transaction (`ledger_apply`), and answers "may this number be active on this list?" from
its unique indexes (`suppressions_standing`). Every path that can subscribe or send asks it:
`list_contact_subscribe`, the import pipeline, the resubscribe service, phone changes and phone
channels (`sendinglists/numbers.py`) and the send service (`engagement/services/outbound.py`).

Why a table beside the event log rather than the log alone: the log answers "what stands now" only
as "the latest of several kinds of event per (list, number)", which is a sort per number, has no
list for STOPALL or a block, and gets harder with every new kind of event. The current state as
rows read by a unique key is one index probe per number (a batch of 20,000 numbers per import
chunk), and its unique constraints hold one row per (list, number).

What lifts what: an opt-out on a list (any of seed 000's five reasons) stands until that number's
START to that list or the operator's audited resubscribe (`RESUBSCRIBED`); a STOPALL (an opt-out
with no list) stands on every list, present and future, and a START or resubscribe on one list
lifts it there only (a RESUMED row for that list; a later STOPALL clears them); a block stands
everywhere until an unblock.

A contact's numbers: a consent change of a contact (its STOP, STOPALL, block, START, resubscribe,
unblock, from whichever of its numbers) applies to every number it holds at that moment, its phone
and its phone channels (`ledger_apply` writes or lifts the rows of each), and a contact's consent is
read over all of them (`contact_suppression_standing`): a STOP from its second phone stops the
contact, and the opt-out stays with both numbers whatever happens to the contact or its channels.
An opt-out row is its number's own (the number sent the STOP; an operator's or an import's opt-out
is the contact's phone's) or carried (written on the contact's other numbers). A START lifts its
own number's rows and what the same events carried; while another number's own opt-out stands, it
is refused: the person messaged at the contact's phone said STOP and only that number's START, or
the operator's audited resubscribe, brings it back.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact, ContactNumber, NumberSuppression
from contacts.selectors import contact_numbers, contacts_with_channels
from sendinglists.choices import EventKind
from sendinglists.subscriptions.models import SubscriptionEvent

LOOKUP_BATCH = 5000


def suppressions_standing(
    *, sending_list_id: int, phone_numbers: Iterable[str]
) -> dict[str, NumberSuppression]:
    """The suppression that stands for each number on the list (numbers with none are absent): a
    block first, then the list's own opt-out, then a STOPALL. Reads committed rows of the ledger.
    # Uses index: suppression_list_phone_unique, suppression_global_phone_unique
    """
    phone_numbers = list(dict.fromkeys(phone_numbers))
    rows_by_phone: dict[str, list[NumberSuppression]] = {}
    for start in range(0, len(phone_numbers), LOOKUP_BATCH):
        rows = NumberSuppression.objects.filter(
            Q(sending_list_id=sending_list_id) | Q(sending_list_id__isnull=True),
            phone_number__in=phone_numbers[start : start + LOOKUP_BATCH],
        )
        for row in rows:
            rows_by_phone.setdefault(row.phone_number, []).append(row)
    standing = {}
    for phone, rows in rows_by_phone.items():
        row = standing_of(rows, sending_list_id=sending_list_id)
        if row is not None:
            standing[phone] = row
    return standing


def number_opt_out_is_own(*, sending_list_id: int, phone_number: str) -> bool:
    """Whether the number's opt-out of the list stands as its own (not only carried onto it by its
    contact's change from another number)."""
    return phone_number in numbers_with_own_opt_out(
        sending_list_id=sending_list_id, phone_numbers=[phone_number]
    )


def numbers_with_own_opt_out(*, sending_list_id: int, phone_numbers: Iterable[str]) -> set[str]:
    """Those of the numbers whose opt-out of the list stands as their own (`number_opt_out_is_own`)."""
    phone_numbers = list(dict.fromkeys(phone_numbers))
    own: set[str] = set()
    for start in range(0, len(phone_numbers), LOOKUP_BATCH):
        # Uses index: suppression_list_phone_unique
        own.update(
            NumberSuppression.objects.filter(
                sending_list_id=sending_list_id,
                kind=SuppressionKind.OPT_OUT,
                carried=False,
                phone_number__in=phone_numbers[start : start + LOOKUP_BATCH],
            ).values_list("phone_number", flat=True)
        )
    return own


def suppression_standing(*, sending_list_id: int, phone_number: str) -> NumberSuppression | None:
    """`suppressions_standing` for one number."""
    return suppressions_standing(sending_list_id=sending_list_id, phone_numbers=[phone_number]).get(
        phone_number
    )


def contact_suppression_standing(
    *, sending_list_id: int, contact: Contact, opt_in_from: str | None = None
) -> NumberSuppression | None:
    """The suppression standing on the list against any number the contact holds now (its phone and
    its phone channels): a block first, then its phone's, then a channel's. One query.

    `opt_in_from`: the number whose START is being applied. The START lifts that number's opt-outs
    and what the same events carried onto the contact's other numbers (an opt-out is written as its
    number's own and carried on every other number the contact held), so those are left out; a
    block is not. Another number's own opt-out still stands, whenever it was sent (from a phone
    channel, or before it was one, or as the contact's phone): a START never lifts an opt-out
    another number sent.
    # Uses index: contactnumber_channels, then the ledger's as `suppressions_standing`
    """
    numbers = Q(phone_number=contact.phone_number)
    if contact.pk is not None:
        channels = ContactNumber.objects.filter(contact_id=contact.pk, is_primary=False)
        numbers |= Q(phone_number__in=channels.values("phone_number"))
    rows_by_phone: dict[str, list[NumberSuppression]] = {}
    for row in NumberSuppression.objects.filter(
        Q(sending_list_id=sending_list_id) | Q(sending_list_id__isnull=True), numbers
    ):
        rows_by_phone.setdefault(row.phone_number, []).append(row)
    if opt_in_from is not None:
        gone = {
            row.pk
            for row in lifted_by_start((r for rows in rows_by_phone.values() for r in rows), opt_in_from)
        }
        rows_by_phone = {
            phone: [row for row in rows if row.pk not in gone] for phone, rows in rows_by_phone.items()
        }
    return strongest_suppression(
        standing_of(rows, sending_list_id=sending_list_id)
        for _, rows in sorted(rows_by_phone.items(), key=lambda item: item[0] != contact.phone_number)
    )


def lifted_by_start(rows: Iterable[NumberSuppression], phone_number: str) -> list[NumberSuppression]:
    """Of a contact's ledger rows on one list (and its STOPALLs), the opt-outs a START from
    `phone_number` lifts: that number's own and what the same events carried onto the contact's
    other numbers. Never another number's own opt-out, never a block."""
    opt_outs = [row for row in rows if row.kind == SuppressionKind.OPT_OUT]
    lifted = {row.event_id for row in opt_outs if row.phone_number == phone_number}
    return [
        row
        for row in opt_outs
        if row.phone_number == phone_number or (row.carried and row.event_id in lifted)
    ]


def holders_suppressions_standing(
    *,
    sending_list_id: int,
    contact_id_by_phone: dict[str, int],
    with_channels: set[int] | None = None,
) -> dict[str, NumberSuppression]:
    """For each phone (with the id of the contact holding it), the suppression standing on the list
    against the phone or any other number its contact holds now; phones with none are absent. The
    import asks this per chunk, telling `with_channels` (those of the contacts that hold a phone
    channel: few, read with the chunk's state); the ledger is read for the phones and every number
    of those contacts."""
    if with_channels is None:
        with_channels = contacts_with_channels(set(contact_id_by_phone.values()))
    numbers = _numbers_held(sorted(with_channels)) if with_channels else {}
    standing = suppressions_standing(
        sending_list_id=sending_list_id,
        phone_numbers=[*contact_id_by_phone, *(number for held in numbers.values() for number in held)],
    )
    found = {}
    for phone, contact_id in contact_id_by_phone.items():
        row = strongest_suppression(
            [standing.get(phone), *(standing.get(number) for number in numbers.get(contact_id, ()))]
        )
        if row is not None:
            found[phone] = row
    return found


def strongest_suppression(rows: Iterable[NumberSuppression | None]) -> NumberSuppression | None:
    """A block first, else the first suppression of `rows`."""
    rows = [row for row in rows if row is not None]
    return next((row for row in rows if row.kind == SuppressionKind.BLOCK), rows[0] if rows else None)


def standing_of(rows: Iterable[NumberSuppression], *, sending_list_id: int) -> NumberSuppression | None:
    """Of one number's ledger rows, the one that stands on the list: its block, else its opt-out of
    the list, else its STOPALL unless the number resumed on this list since."""
    rows = list(rows)
    by_kind = {(row.kind, row.sending_list_id): row for row in rows}
    return (
        by_kind.get((SuppressionKind.BLOCK, None))
        or by_kind.get((SuppressionKind.OPT_OUT, sending_list_id))
        or (
            None
            if (SuppressionKind.RESUMED, sending_list_id) in by_kind
            else by_kind.get((SuppressionKind.OPT_OUT, None))
        )
    )


@dataclass(frozen=True, slots=True)
class NumbersLedger:
    """Every ledger row of some numbers (one read): what a merge asks of the numbers the merged
    contact will hold."""

    rows: dict[str, list[NumberSuppression]]

    @classmethod
    def of(cls, phone_numbers: Iterable[str]) -> "NumbersLedger":
        rows: dict[str, list[NumberSuppression]] = {}
        # Uses index: suppression_global_phone_unique, suppression_list_phone_unique
        for row in NumberSuppression.objects.filter(phone_number__in=sorted(set(phone_numbers))):
            rows.setdefault(row.phone_number, []).append(row)
        return cls(rows)

    @property
    def blocked(self) -> bool:
        return any(row.kind == SuppressionKind.BLOCK for rows in self.rows.values() for row in rows)

    def opt_outs_on(self, *, sending_list_id: int) -> list[NumberSuppression]:
        """The opt-outs that stand on the list, one per number that has one. A blocked number's
        too: `standing_of` answers the block first, and a block lifted later must not leave a
        membership active where its number opted out."""
        return [
            row
            for rows in self.rows.values()
            if (
                row := standing_of(
                    [r for r in rows if r.kind != SuppressionKind.BLOCK], sending_list_id=sending_list_id
                )
            )
            is not None
        ]


def suppression_text(suppression: NumberSuppression, *, list_name: str = "this list") -> str:
    """Why the number may not be active on the list, in words an operator or API consumer reads."""
    phone = suppression.phone_number
    if suppression.kind == SuppressionKind.BLOCK:
        return f"{phone} is blocked: it is never messaged from any list."
    since = f"{suppression.occurred_at:%Y-%m-%d %H:%M} UTC"
    scope = "every list (STOPALL)" if suppression.sending_list_id is None else list_name
    return (
        f"{phone} opted out of {scope} on {since}; only a START from that number or an explicit, "
        "audited resubscribe can subscribe it again."
    )


def ledger_apply(events: Sequence[SubscriptionEvent]) -> None:
    """Bring the ledger in line with saved consent events, in their order; called in the same
    transaction as the events are written (`_record_event`, the bulk opt-out, the demo).

    An event of a contact applies to every number the contact holds now (its phone and its phone
    channels, read in one query per batch of contacts), an event without one to its own number.
    Adding is idempotent (an opt-out that already stands keeps its first date and evidence).
    """
    adds: list[NumberSuppression] = []
    held = _numbers_held([event.contact_id for event in events if event.contact_id is not None])

    def numbers_of(event: SubscriptionEvent) -> list[str]:
        return list(dict.fromkeys([event.phone_number, *held.get(event.contact_id, ())]))

    def flush() -> None:
        if adds:
            # A STOPALL stands on every list again: the lists it had resumed on lose that. (A list
            # opt-out needs no such delete: it wins over the list's RESUMED row while it stands.)
            everywhere = list(
                {
                    row.phone_number
                    for row in adds
                    if row.kind == SuppressionKind.OPT_OUT and row.sending_list_id is None
                }
            )
            if everywhere:
                NumberSuppression.objects.filter(
                    kind=SuppressionKind.RESUMED, phone_number__in=everywhere
                ).delete()
            NumberSuppression.objects.bulk_create(adds, ignore_conflicts=True, batch_size=LOOKUP_BATCH)
            _own_over_carried(adds)
            adds.clear()

    for event in events:
        if event.kind == EventKind.OPTED_OUT:
            adds.extend(
                NumberSuppression(
                    phone_number=phone_number,
                    sending_list_id=event.sending_list_id,
                    kind=SuppressionKind.OPT_OUT,
                    reason=event.reason,
                    occurred_at=event.occurred_at,
                    event_id=event.pk,
                    carried=phone_number != event.phone_number,
                )
                for phone_number in numbers_of(event)
            )
        elif event.kind == EventKind.BLOCKED:
            adds.extend(
                NumberSuppression(
                    phone_number=phone_number,
                    sending_list_id=None,
                    kind=SuppressionKind.BLOCK,
                    occurred_at=event.occurred_at,
                    event_id=event.pk,
                    carried=phone_number != event.phone_number,
                )
                for phone_number in numbers_of(event)
            )
        elif event.kind == EventKind.RESUBSCRIBED:
            flush()
            _lift_list_opt_out(
                phone_numbers=numbers_of(event), sending_list_id=event.sending_list_id, event_id=event.pk
            )
        elif event.kind == EventKind.NUMBER_OPTED_IN:
            flush()
            _lift_number_opt_out(
                phone_number=event.phone_number,
                others=[number for number in numbers_of(event) if number != event.phone_number],
                sending_list_id=event.sending_list_id,
                event_id=event.pk,
            )
        elif event.kind == EventKind.UNBLOCKED:
            flush()
            NumberSuppression.objects.filter(
                phone_number__in=numbers_of(event), sending_list_id__isnull=True, kind=SuppressionKind.BLOCK
            ).delete()
    flush()


def _own_over_carried(adds: list[NumberSuppression]) -> None:
    """A number's own opt-out, where one was already carried onto it (by its contact's change from
    another number, or by an add earlier in this batch), makes that row its own: lifted by its own
    START only, and dated and evidenced by its own event (a START it sent before this STOP must not
    pass for a later one)."""
    own: dict[tuple[int | None, str], NumberSuppression] = {}
    for row in adds:
        if row.kind == SuppressionKind.OPT_OUT and not row.carried:
            own.setdefault((row.sending_list_id, row.phone_number), row)
    phones_by_list: dict[int | None, list[str]] = {}
    for sending_list_id, phone in own:
        phones_by_list.setdefault(sending_list_id, []).append(phone)
    for sending_list_id, phones in phones_by_list.items():
        phones.sort()
        for start in range(0, len(phones), LOOKUP_BATCH):
            # Uses index: suppression_list_phone_unique, suppression_global_phone_unique
            carried = NumberSuppression.objects.filter(
                sending_list_id=sending_list_id,
                kind=SuppressionKind.OPT_OUT,
                phone_number__in=phones[start : start + LOOKUP_BATCH],
                carried=True,
            ).values_list("pk", "phone_number")
            for pk, phone in list(carried):  # few: most numbers are one contact's only
                add = own[(sending_list_id, phone)]
                NumberSuppression.objects.filter(pk=pk).update(
                    carried=False, event_id=add.event_id, occurred_at=add.occurred_at, reason=add.reason
                )


def _numbers_held(contact_ids: list[int]) -> dict[int, list[str]]:
    held: dict[int, list[str]] = {}
    contact_ids = list(dict.fromkeys(contact_ids))
    for start in range(0, len(contact_ids), LOOKUP_BATCH):
        held.update(contact_numbers(contact_ids[start : start + LOOKUP_BATCH]))
    return held


def ledger_lift_number(*, contact: Contact, phone_number: str, sending_list_id: int) -> None:
    """Lift one list's opt-out (its own, or a STOPALL's share of it) from the number and what its
    events carried onto the contact's other numbers, as its START does. Only for a START whose event
    is already written: a STOPALL that the number sent before it but that arrived after it
    (inbound processing orders keywords by their own timestamps)."""
    numbers = [contact.phone_number, *_numbers_held([contact.pk]).get(contact.pk, ())]
    others = [number for number in dict.fromkeys(numbers) if number != phone_number]
    _lift_number_opt_out(phone_number=phone_number, others=others, sending_list_id=sending_list_id)


def _lift_number_opt_out(
    *, phone_number: str, others: list[str], sending_list_id: int, event_id: int | None = None
) -> None:
    """One number's START on a list its contact stays unsubscribed from: lift that number's opt-outs
    there and what the same events carried onto the contact's `others` (`contact_suppression_standing`'s
    rule); a STOPALL's share of the list leaves a RESUMED row, as for a whole contact."""
    rows = NumberSuppression.objects.filter(
        Q(sending_list_id=sending_list_id) | Q(sending_list_id__isnull=True),
        kind=SuppressionKind.OPT_OUT,
        phone_number__in=[phone_number, *others],
    )
    gone = lifted_by_start(rows, phone_number)
    NumberSuppression.objects.filter(
        pk__in=[row.pk for row in gone if row.sending_list_id is not None]
    ).delete()
    NumberSuppression.objects.bulk_create(
        [
            NumberSuppression(
                phone_number=row.phone_number,
                sending_list_id=sending_list_id,
                kind=SuppressionKind.RESUMED,
                occurred_at=timezone.now(),
                event_id=event_id,
            )
            for row in gone
            if row.sending_list_id is None
        ],
        ignore_conflicts=True,
    )


def number_has_opt_out(*, sending_list_id: int, phone_number: str) -> bool:
    """Whether the ledger holds an opt-out of the number from the list (its own, a STOPALL, or one
    carried onto it)."""
    # Uses index: suppression_list_phone_unique, suppression_global_phone_unique
    return NumberSuppression.objects.filter(
        Q(sending_list_id=sending_list_id) | Q(sending_list_id__isnull=True),
        kind=SuppressionKind.OPT_OUT,
        phone_number=phone_number,
    ).exists()


def _lift_list_opt_out(
    *, phone_numbers: list[str], sending_list_id: int, event_id: int | None = None
) -> None:
    NumberSuppression.objects.filter(
        phone_number__in=phone_numbers, sending_list_id=sending_list_id, kind=SuppressionKind.OPT_OUT
    ).delete()
    everywhere = NumberSuppression.objects.filter(
        phone_number__in=phone_numbers, sending_list_id__isnull=True, kind=SuppressionKind.OPT_OUT
    ).values_list("phone_number", flat=True)
    # The STOPALL keeps standing on every other list, present and future.
    NumberSuppression.objects.bulk_create(
        [
            NumberSuppression(
                phone_number=phone_number,
                sending_list_id=sending_list_id,
                kind=SuppressionKind.RESUMED,
                occurred_at=timezone.now(),
                event_id=event_id,
            )
            for phone_number in everywhere
        ],
        ignore_conflicts=True,
    )
