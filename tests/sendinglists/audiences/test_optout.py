"""The opt-out watch: contact-initiated opt-outs / outbound sends per day, against the 2% line."""

from decimal import Decimal

from django.utils import timezone

from sendinglists.audiences.charts import opt_out_chart
from sendinglists.audiences.optout import lists_above_opt_out_limit, opt_out_rates
from tests.factories import SendingListFactory


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


def test_rates_flag_lists_above_two_percent(watched_lists):
    noisy, quiet = watched_lists
    empty = SendingListFactory()

    rates = opt_out_rates(sending_list_ids=[noisy.pk, quiet.pk, empty.pk])

    assert rates == {noisy.pk: Decimal(4) / Decimal(300), quiet.pk: Decimal("0.03"), empty.pk: None}
    assert lists_above_opt_out_limit(sending_list_ids=[noisy.pk, quiet.pk, empty.pk]) == {quiet.pk}


def test_chart_is_cached_for_a_few_minutes(watched_lists, django_assert_num_queries):
    noisy, _ = watched_lists
    opt_out_chart(sending_list=noisy)

    with django_assert_num_queries(0):
        chart = opt_out_chart(sending_list=noisy)

    assert chart.sends == 300
