from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, Count, OuterRef, Subquery, Sum, Value, When

from sendinglists.audiences.optout import OPT_OUT_RATE_LIMIT, opt_out_rates, opt_out_series
from sendinglists.choices import MembershipStatus, blocked_contact_ids
from sendinglists.models import (
    ImportJob,
    ListContact,
    ListStatusCount,
    SendingList,
)

# Seed 000: "High opt-out rates can indicate messaging frequency issues or content problems. Aim for
# under 2%."
# People who asked to stop (or were stopped by an operator / a complaint), as opposed to numbers the
# carrier could not deliver to.
OPTED_OUT_STATUSES = (MembershipStatus.OPTED_OUT, MembershipStatus.MANUAL, MembershipStatus.COMPLAINT)
UNDELIVERABLE_STATUSES = (MembershipStatus.BAD_RESPONSE, MembershipStatus.INVALID_CONTACT)


@dataclass(frozen=True, slots=True)
class ListSummary:
    sending_list: SendingList
    counts: dict[str, int]
    last_import: ImportJob | None = None
    opt_out_rate: Decimal | None = None
    """Opt-outs / sends over the last 30 days (sendinglists.audiences.optout); None: nothing sent."""

    @property
    def active(self) -> int:
        return self.counts[MembershipStatus.ACTIVE]

    @property
    def opted_out(self) -> int:
        return sum(self.counts[status] for status in OPTED_OUT_STATUSES)

    @property
    def undeliverable(self) -> int:
        return sum(self.counts[status] for status in UNDELIVERABLE_STATUSES)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def opt_out_rate_is_high(self) -> bool:
        return self.opt_out_rate is not None and self.opt_out_rate > OPT_OUT_RATE_LIMIT

    @property
    def status_rows(self) -> list[tuple[str, str, int]]:
        return [(status.value, status.label, self.counts[status]) for status in MembershipStatus]


def list_member_counts(*, sending_list_ids: list[int]) -> dict[int, dict[str, int]]:
    """Members per list and the status they read as (`status_from`): {list_id: {status: count}},
    every status present. One query, whatever the lists' sizes: the maintained counts (summed as
    `list_status_counts` sums them), and the members of blocked contacts, moved to Blocked.

    The blocked members are found from the few blocked contacts (partial index contact_blocked),
    each probed in the (sending_list, contact) unique index: never a scan of a list's memberships.
    """
    maintained = (
        ListStatusCount.objects.filter(sending_list_id__in=sending_list_ids)
        .values_list("sending_list_id", "status")
        .annotate(members=Sum("count"), blocked=Value(False))
        .order_by()
    )
    blocked = (
        ListContact.objects.filter(sending_list_id__in=sending_list_ids, contact_id__in=blocked_contact_ids())
        .annotate(
            held=Case(When(active=True, then=Value(MembershipStatus.ACTIVE.value)), default="unsub_reason")
        )
        .values_list("sending_list_id", "held")
        .annotate(members=Count("pk"), blocked=Value(True))
        .order_by()
    )
    counts = {list_id: dict.fromkeys(MembershipStatus.values, 0) for list_id in sending_list_ids}
    for list_id, status, members, is_blocked in maintained.union(blocked, all=True):
        if is_blocked:
            counts[list_id][status] -= members
            counts[list_id][MembershipStatus.BLOCKED] += members
        else:
            counts[list_id][status] += members
    return counts


def sending_list_summaries() -> list[ListSummary]:
    """Every sending list with its counts, latest import and opt-out rate: a query or two each."""
    latest_import = ImportJob.objects.filter(sending_list=OuterRef("pk")).order_by("-id").values("pk")[:1]
    # Uses index: importjob_list_id
    lists = list(SendingList.objects.annotate(last_import_id=Subquery(latest_import)))
    counts = list_member_counts(sending_list_ids=[sending_list.pk for sending_list in lists])
    imports = ImportJob.objects.in_bulk([s.last_import_id for s in lists if s.last_import_id])
    rates = opt_out_rates(sending_list_ids=[s.pk for s in lists])
    return [
        ListSummary(
            sending_list=s,
            counts=counts[s.pk],
            last_import=imports.get(s.last_import_id),
            opt_out_rate=rates.get(s.pk),
        )
        for s in lists
    ]


def sending_list_summary(sending_list: SendingList) -> ListSummary:
    counts = list_member_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
    # The same cached series the list page's chart draws: one computation for both.
    rate = opt_out_series(sending_list=sending_list).rate
    return ListSummary(sending_list=sending_list, counts=counts, opt_out_rate=rate)
