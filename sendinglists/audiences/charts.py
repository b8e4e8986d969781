"""The opt-out watch's chart: SVG geometry for templates/audiences/_optout_chart.html.

Presentation only, beside the pages that draw it (a list's Contacts tab, its hygiene page): the
numbers come from `sendinglists.audiences.optout`, which knows nothing of drawing.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sendinglists.audiences.optout import (
    CHART_DAYS,
    OPT_OUT_RATE_LIMIT,
    OptOutDay,
    OptOutSeries,
    opt_out_series,
)

# Chart geometry (SVG user units); the template only places what is computed here.
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 640, 180, 44, 22, 10


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: OptOutDay


@dataclass(frozen=True, slots=True)
class OptOutChart(OptOutSeries):
    """A list's opt-out series (its days and totals) with the geometry that draws it."""

    scale_max: Decimal  # the rate at the top of the chart

    @property
    def limit(self) -> Decimal:
        return OPT_OUT_RATE_LIMIT

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return HEIGHT

    def _y(self, rate: Decimal) -> float:
        plot = HEIGHT - BOTTOM - TOP
        return round(TOP + plot - float(rate / self.scale_max) * plot, 1)

    @property
    def limit_y(self) -> float:
        return self._y(OPT_OUT_RATE_LIMIT)

    @property
    def top_label(self) -> str:
        return f"{self.scale_max * 100:.0f}%"

    @property
    def baseline_y(self) -> int:
        return HEIGHT - BOTTOM

    @property
    def left(self) -> int:
        return LEFT

    @property
    def bars(self) -> list[Bar]:
        slot = (WIDTH - LEFT) / max(1, len(self.days))
        bars = []
        for index, day in enumerate(self.days):
            rate = min(day.rate or Decimal(0), self.scale_max)
            y = self._y(rate)
            bars.append(
                Bar(
                    round(LEFT + index * slot + 1, 1),
                    y,
                    round(slot - 2, 1),
                    round(HEIGHT - BOTTOM - y, 1),
                    day,
                )
            )
        return bars

    @property
    def first_day(self) -> dt.date:
        return self.days[0].day

    @property
    def last_day(self) -> dt.date:
        return self.days[-1].day


def opt_out_chart(*, sending_list, days: int = CHART_DAYS, today: dt.date | None = None) -> OptOutChart:
    """The list's daily opt-out rate chart (its series is cached for optout.CACHE_SECONDS)."""
    series = opt_out_series(sending_list=sending_list, days=days, today=today)
    highest = max((d.rate for d in series.days if d.rate is not None), default=Decimal(0))
    # Room above the 2% line, rounded up to a whole percent, so the line is always visible.
    scale_max = max(Decimal("0.03"), (highest * 100).to_integral_value(rounding="ROUND_CEILING") / 100)
    return OptOutChart(days=series.days, scale_max=scale_max)
