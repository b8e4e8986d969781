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
with no list) stands on every list, and a START or resubscribe on one list lifts it there only (the
other lists, as they are then, keep a list opt-out from the same STOPALL event); a block stands
everywhere until an unblock.
"""

from collections.abc import Iterable, Sequence

from django.db.models import Q

from contacts.choices import SuppressionKind
from contacts.models import NumberSuppression
from sendinglists.choices import EventKind
from sendinglists.models import SendingList, SubscriptionEvent

LOOKUP_BATCH = 5000


def suppressions_standing(
    *, sending_list_id: int, phone_numbers: Iterable[str]
) -> dict[str, NumberSuppression]:
    """The suppression that stands for each number on the list (numbers with none are absent): a
    block first, then the list's own opt-out, then a STOPALL. Reads committed rows of the ledger.
    # Uses index: suppression_list_phone_unique, suppression_global_phone_unique
    """
    phone_numbers = list(dict.fromkeys(phone_numbers))
    standing: dict[str, NumberSuppression] = {}
    for start in range(0, len(phone_numbers), LOOKUP_BATCH):
        rows = NumberSuppression.objects.filter(
            Q(sending_list_id=sending_list_id) | Q(sending_list_id__isnull=True),
            phone_number__in=phone_numbers[start : start + LOOKUP_BATCH],
        )
        for row in rows:
            current = standing.get(row.phone_number)
            if current is None or _precedence(row) < _precedence(current):
                standing[row.phone_number] = row
    return standing


def suppression_standing(*, sending_list_id: int, phone_number: str) -> NumberSuppression | None:
    """`suppressions_standing` for one number."""
    return suppressions_standing(sending_list_id=sending_list_id, phone_numbers=[phone_number]).get(
        phone_number
    )


def _precedence(row: NumberSuppression) -> int:
    if row.kind == SuppressionKind.BLOCK:
        return 0
    return 1 if row.sending_list_id is not None else 2


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

    Adding is idempotent (an opt-out that already stands keeps its first date and evidence).
    """
    adds: list[NumberSuppression] = []

    def flush() -> None:
        if adds:
            NumberSuppression.objects.bulk_create(adds, ignore_conflicts=True, batch_size=LOOKUP_BATCH)
            adds.clear()

    for event in events:
        if event.kind == EventKind.OPTED_OUT:
            adds.append(
                NumberSuppression(
                    phone_number=event.phone_number,
                    sending_list_id=event.sending_list_id,
                    kind=SuppressionKind.OPT_OUT,
                    reason=event.reason,
                    occurred_at=event.occurred_at,
                    event_id=event.pk,
                )
            )
        elif event.kind == EventKind.BLOCKED:
            adds.append(
                NumberSuppression(
                    phone_number=event.phone_number,
                    sending_list_id=None,
                    kind=SuppressionKind.BLOCK,
                    occurred_at=event.occurred_at,
                    event_id=event.pk,
                )
            )
        elif event.kind == EventKind.RESUBSCRIBED:
            flush()
            _lift_list_opt_out(phone_number=event.phone_number, sending_list_id=event.sending_list_id)
        elif event.kind == EventKind.UNBLOCKED:
            flush()
            NumberSuppression.objects.filter(
                phone_number=event.phone_number, sending_list_id__isnull=True, kind=SuppressionKind.BLOCK
            ).delete()
    flush()


def ledger_lift_list(*, phone_number: str, sending_list_id: int) -> None:
    """Lift the number's opt-out of one list (its own, or a STOPALL's share of it). Only for a
    START or resubscribe whose event is already written: a STOPALL that the person sent before it
    but that arrived after it (inbound processing orders keywords by their own timestamps)."""
    _lift_list_opt_out(phone_number=phone_number, sending_list_id=sending_list_id)


def _lift_list_opt_out(*, phone_number: str, sending_list_id: int) -> None:
    NumberSuppression.objects.filter(phone_number=phone_number, sending_list_id=sending_list_id).delete()
    everywhere = (
        NumberSuppression.objects.select_for_update()
        .filter(phone_number=phone_number, sending_list_id__isnull=True, kind=SuppressionKind.OPT_OUT)
        .first()
    )
    if everywhere is None:
        return
    # The STOPALL still stands on every other list: it becomes their list opt-outs.
    NumberSuppression.objects.bulk_create(
        [
            NumberSuppression(
                phone_number=phone_number,
                sending_list_id=list_id,
                kind=SuppressionKind.OPT_OUT,
                reason=everywhere.reason,
                occurred_at=everywhere.occurred_at,
                event_id=everywhere.event_id,
            )
            for list_id in SendingList.objects.exclude(pk=sending_list_id).values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )
    everywhere.delete()
