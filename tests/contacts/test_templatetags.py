import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.templatetags.contact_display import count, day, moment, money, percent, phone


@pytest.mark.parametrize(
    ("e164", "region", "expected"),
    [
        ("+14155550100", None, "(415) 555-0100"),
        ("+14155550100", "us", "(415) 555-0100"),
        ("+447400123456", "US", "+44 7400 123456"),
        ("+447400123456", "GB", "07400 123456"),
        ("", None, ""),
    ],
)
def test_phone_reads_nationally_in_its_region_and_internationally_elsewhere(e164, region, expected):
    assert phone(e164, region) == expected


def test_number_filters():
    assert (count(1234567), count(0), count(None)) == ("1,234,567", "0", "")
    assert (money(Decimal("1234.5")), money(Decimal("0")), money(None)) == ("$1,234.50", "$0.00", "")
    assert (percent(Decimal("0.0234")), percent(None)) == ("2.34%", "")


def test_date_filters_use_the_current_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    at = timezone.make_aware(dt.datetime(2025, 11, 3, 2, 5), dt.UTC)

    with timezone.override("America/New_York"):
        assert day(at) == "Nov 2, 2025"
        assert moment(at) == "Nov 2, 2025 21:05"
    assert (day(None), moment(None)) == ("", "")
