"""The opt-out watch: contact-initiated opt-outs / outbound sends per day, against the 2% line."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from sendinglists.audiences.charts import opt_out_chart
from sendinglists.audiences.optout import lists_above_opt_out_limit, opt_out_rates
from tests.factories import ContactFactory, SendingListFactory, opt_outs, send


def days_ago(days: int) -> dt.datetime:
    return timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=days)


@pytest.fixture
def watched_lists(db):
    noisy, quiet = SendingListFactory(name="Noisy"), SendingListFactory(name="Quiet")
    contact = ContactFactory()
    send(noisy, contact, 100, days_ago(3))
    opt_outs(noisy, contact, 3, days_ago(3))  # 3% that day
    opt_outs(noisy, contact, 5, days_ago(3), reason="manual")  # a clean-up, not the audience's choice
    send(noisy, contact, 40, days_ago(3), direction="inbound")  # replies are not sends
    send(noisy, contact, 200, days_ago(1))
    opt_outs(noisy, contact, 1, days_ago(1), reason="complaint")
    send(noisy, contact, 50, days_ago(40))  # outside the window
    opt_outs(noisy, contact, 9, days_ago(40))
    send(quiet, contact, 1000, days_ago(2))
    opt_outs(quiet, contact, 30, days_ago(2))  # 3% over 30 days
    return noisy, quiet


def test_chart_has_every_day_with_sends_opt_outs_and_rate(watched_lists):
    noisy, _ = watched_lists

    chart = opt_out_chart(sending_list=noisy)

    assert len(chart.days) == 30
    assert chart.days[-1].day == timezone.localdate()
    assert [(d.sends, d.opt_outs) for d in chart.days if d.sends or d.opt_outs] == [(100, 3), (200, 1)]
    spike = chart.days[-4]
    assert (spike.rate, spike.is_high, spike.rate_percent) == (Decimal("0.03"), True, "3.00%")
    assert (chart.sends, chart.opt_outs, chart.rate_percent, chart.is_high) == (300, 4, "1.33%", False)
    assert chart.days[0].rate is None and chart.days[0].rate_percent == "—"


def test_chart_geometry_puts_the_2_percent_line_under_a_3_percent_top(watched_lists):
    noisy, _ = watched_lists

    chart = opt_out_chart(sending_list=noisy)

    assert chart.scale_max == Decimal("0.03")
    assert chart.top_label == "3%"
    # Plot area 10..158: 2% of a 3% scale sits a third of the way down.
    assert chart.limit_y == pytest.approx(10 + 148 / 3, abs=0.1)
    spike = chart.bars[-4]
    assert (spike.y, spike.height) == (10.0, 148.0)


def test_rates_flag_lists_above_two_percent(watched_lists):
    noisy, quiet = watched_lists
    empty = SendingListFactory()

    rates = opt_out_rates(sending_list_ids=[noisy.pk, quiet.pk, empty.pk])

    assert rates == {noisy.pk: Decimal(4) / Decimal(300), quiet.pk: Decimal("0.03"), empty.pk: None}
    assert lists_above_opt_out_limit(sending_list_ids=[noisy.pk, quiet.pk, empty.pk]) == {quiet.pk}


def test_chart_fragment_renders_the_line_the_bars_and_the_flag(watched_lists):
    _, quiet = watched_lists

    html = render_to_string("audiences/_optout_chart.html", {"chart": opt_out_chart(sending_list=quiet)})

    assert 'class="limit"' in html
    assert html.count('class="bar"') == 30
    assert "Above the 2% line" in html
    assert "30 opt-outs (STOP or complaint) for 1,000 messages sent." in html


def test_chart_is_cached_for_a_few_minutes(watched_lists, django_assert_num_queries):
    noisy, _ = watched_lists
    opt_out_chart(sending_list=noisy)

    with django_assert_num_queries(0):
        chart = opt_out_chart(sending_list=noisy)

    assert chart.sends == 300
