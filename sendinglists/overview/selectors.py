from dataclasses import dataclass
from decimal import Decimal

from django.db.models import OuterRef, Subquery

from sendinglists.audiences.optout import OPT_OUT_RATE_LIMIT, opt_out_rates, opt_out_series
from sendinglists.choices import MembershipStatus
from sendinglists.imports.models import ImportJob
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.selectors import list_member_counts

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
