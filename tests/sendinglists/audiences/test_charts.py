"""The opt-out watch's chart: the 2% line, the bars and the flag, drawn from the list's series."""

from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from sendinglists.audiences.charts import opt_out_chart


def test_chart_geometry_puts_the_2_percent_line_under_a_3_percent_top(watched_lists):
    noisy, _ = watched_lists

    chart = opt_out_chart(sending_list=noisy)

    assert chart.scale_max == Decimal("0.03")
    assert chart.top_label == "3%"
    # Plot area 10..158: 2% of a 3% scale sits a third of the way down.
    assert chart.limit_y == pytest.approx(10 + 148 / 3, abs=0.1)
    spike = chart.bars[-4]
    assert (spike.y, spike.height) == (10.0, 148.0)


def test_chart_fragment_renders_the_line_the_bars_and_the_flag(watched_lists):
    _, quiet = watched_lists

    html = render_to_string("audiences/_optout_chart.html", {"chart": opt_out_chart(sending_list=quiet)})

    assert 'class="limit"' in html
    assert html.count('class="bar"') == 30
    assert "Above the 2% line" in html
    assert "30 opt-outs (STOP or complaint) for 1,000 messages sent." in html
