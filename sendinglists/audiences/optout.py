"""The opt-out watch: opt-outs / sends per day over the last 30 days, against seed 000's 2% line.

An opt-out here is a contact's own decision: a STOP (reason `message`) or a spam complaint. Hygiene
removals, carrier failures and invalid numbers are the operator's or the network's doing and would
otherwise make a clean-up look like a messaging problem. A send is an outbound message.

Both series are grouped counts over index ranges (SubscriptionEvent `subevent_list_optout_time`,
Message `message_list_direction_time`), cached for a few minutes per list: a busy list sends
millions of messages a month, and the page should not recount them on every view.

These are the watch's numbers (the domain: selectors for pages and the API). The chart that draws
them is presentation and lives beside its views and template: `sendinglists.audiences.charts`.

Sends live in the engagement app, which depends on this one, so the dependency is inverted through
a setting: `settings.OPT_OUT_SEND_COUNTER` names the function that counts them (Django's usual way
to plug in an implementation, as `SMS_BACKEND` does), and this module loads it by that name at call
time. `sendinglists` never imports `engagement`, not even through a name of its own; the settings
module, which wires the apps together, is the only place that knows both. Why not the other two
ways: a counter passed in by each caller fails because the callers (the Sending Lists page, a
list's Contacts tab, its hygiene page) are sendinglists pages that cannot see engagement either;
and a send count per list and day kept in a table of ours would be a schema change. With no counter
named there are no sends (every rate is None).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.module_loading import import_string

from sendinglists.choices import EventKind, UnsubReason
from sendinglists.subscriptions.models import SubscriptionEvent

OPT_OUT_RATE_LIMIT = Decimal("0.02")  # seed 000: "Aim for under 2%."
CHART_DAYS = 30
CACHE_SECONDS = 300
OPT_OUT_REASONS = (UnsubReason.MESSAGE, UnsubReason.COMPLAINT)


@dataclass(frozen=True, slots=True)
class OptOutDay:
    day: dt.date
    sends: int
    opt_outs: int

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.opt_outs) / Decimal(self.sends) if self.sends else None

    @property
    def is_high(self) -> bool:
        return self.rate is not None and self.rate > OPT_OUT_RATE_LIMIT

    @property
    def rate_percent(self) -> str:
        return percent_text(self.rate)


def percent_text(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{rate * 100:.2f}%"


@dataclass(frozen=True, slots=True)
class OptOutSeries:
    """A list's days, oldest first (every day present), with their totals."""

    days: list[OptOutDay]

    @property
    def sends(self) -> int:
        return sum(d.sends for d in self.days)

    @property
    def opt_outs(self) -> int:
        return sum(d.opt_outs for d in self.days)

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.opt_outs) / Decimal(self.sends) if self.sends else None

    @property
    def is_high(self) -> bool:
        return self.rate is not None and self.rate > OPT_OUT_RATE_LIMIT

    @property
    def rate_percent(self) -> str:
        return percent_text(self.rate)


def _today() -> dt.date:
    return timezone.localdate()


def _days(days: int, today: dt.date) -> tuple[list[dt.date], dt.datetime]:
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=timezone.get_current_timezone())
    return [first + dt.timedelta(days=n) for n in range(days)], start


def _opt_outs_by_day(sending_list_ids: list[int], start: dt.datetime) -> dict[tuple[int, dt.date], int]:
    # Uses index: subevent_list_optout_time (sending_list, occurred_at) WHERE kind = 'opted_out'
    rows = (
        SubscriptionEvent.objects.filter(
            sending_list_id__in=sending_list_ids,
            kind=EventKind.OPTED_OUT,
            occurred_at__gte=start,
            reason__in=OPT_OUT_REASONS,
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values("sending_list_id", "day")
        .annotate(n=Count("id"))
    )
    return {(row["sending_list_id"], row["day"]): row["n"] for row in rows}


SendCounter = Callable[[list[int], dt.datetime], dict[tuple[int, dt.date], int]]
"""counter(list ids, start) -> {(list id, local date): outbound messages since start}"""


def _sends_by_day(sending_list_ids: list[int], start: dt.datetime) -> dict[tuple[int, dt.date], int]:
    if not settings.OPT_OUT_SEND_COUNTER:
        return {}
    counter: SendCounter = import_string(settings.OPT_OUT_SEND_COUNTER)
    return counter(sending_list_ids, start)


def opt_out_days(
    *, sending_list_ids: list[int], days: int = CHART_DAYS, today: dt.date | None = None
) -> dict:
    """{list id: [OptOutDay, …]} for the last `days` days up to `today` (every day present)."""
    dates, start = _days(days, today or _today())
    opt_outs = _opt_outs_by_day(sending_list_ids, start)
    sends = _sends_by_day(sending_list_ids, start)
    return {
        list_id: [
            OptOutDay(day, sends.get((list_id, day), 0), opt_outs.get((list_id, day), 0)) for day in dates
        ]
        for list_id in sending_list_ids
    }


def opt_out_series(*, sending_list, days: int = CHART_DAYS, today: dt.date | None = None) -> OptOutSeries:
    """The list's daily opt-outs and sends (cached for CACHE_SECONDS): the chart draws this series
    and the list's summary shows its rate, one computation for both."""
    today = today or _today()
    key = f"audiences:optout-chart:{sending_list.pk}:{days}:{today.isoformat()}"
    series = cache.get(key)
    if series is None:
        series = opt_out_days(sending_list_ids=[sending_list.pk], days=days, today=today)[sending_list.pk]
        cache.set(key, series, CACHE_SECONDS)
    return OptOutSeries(days=series)


def opt_out_rates(*, sending_list_ids: list[int], days: int = CHART_DAYS) -> dict[int, Decimal | None]:
    """Each list's opt-out rate over the last `days` days (None: nothing sent), for flagging lists
    above the 2% line on the Sending Lists page. Two grouped queries for all the lists."""
    key = (
        f"audiences:optout-rates:{days}:{_today().isoformat()}:{','.join(map(str, sorted(sending_list_ids)))}"
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    series = opt_out_days(sending_list_ids=sending_list_ids, days=days)
    rates = {}
    for list_id, list_days in series.items():
        sends = sum(d.sends for d in list_days)
        rates[list_id] = Decimal(sum(d.opt_outs for d in list_days)) / Decimal(sends) if sends else None
    cache.set(key, rates, CACHE_SECONDS)
    return rates


def lists_above_opt_out_limit(*, sending_list_ids: list[int]) -> set[int]:
    return {
        list_id
        for list_id, rate in opt_out_rates(sending_list_ids=sending_list_ids).items()
        if rate and rate > OPT_OUT_RATE_LIMIT
    }
