import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.pagination import (
    InvalidCursor,
    KeysetPaginator,
    Position,
    encode_cursor,
    id_param,
    page_or_first,
)
from sendinglists.models import ListContact
from tests.factories import ListContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db

BASE = timezone.make_aware(dt.datetime(2025, 5, 1, 12, 0))


def walk_forward(paginator, queryset):
    pages, cursor = [], None
    while True:
        page = paginator.page(queryset, after=cursor)
        pages.append([row.pk for row in page.rows])
        if not page.next_cursor:
            return pages, page
        cursor = page.next_cursor


def walk_back(paginator, queryset, page):
    pages = [[row.pk for row in page.rows]]
    while page.previous_cursor:
        page = paginator.page(queryset, before=page.previous_cursor)
        pages.append([row.pk for row in page.rows])
    return pages


@pytest.fixture
def memberships():
    """Nine memberships: sends with ties, and last_sent_at with three NULLs."""
    sending_list = SendingListFactory()
    sends = [5, 3, 5, 0, 3, 9, 5, 1, 0]
    last_sent = [
        BASE,
        None,
        BASE - dt.timedelta(days=1),
        None,
        BASE,
        BASE + dt.timedelta(hours=1),
        None,
        BASE - dt.timedelta(days=3),
        BASE,
    ]
    rows = [
        ListContactFactory(sending_list=sending_list, send_count=count, last_sent_at=at)
        for count, at in zip(sends, last_sent, strict=True)
    ]
    ListContactFactory(send_count=100)  # another list: never shown
    return sending_list, rows


def expected_order(rows, field, descending):
    """The display order: non-null values by (value, id) in the direction, then NULLs by id."""
    present = [r for r in rows if getattr(r, field) is not None]
    missing = [r for r in rows if getattr(r, field) is None]
    present.sort(key=lambda r: (getattr(r, field), r.pk), reverse=descending)
    missing.sort(key=lambda r: r.pk, reverse=descending)
    return [r.pk for r in present + missing]


@pytest.mark.parametrize(
    "ordering", ["-id", "id", "-send_count", "send_count", "-last_sent_at", "last_sent_at", "-revenue_total"]
)
def test_keyset_pages_walk_every_row_once_forward_and_back(memberships, ordering):
    sending_list, rows = memberships
    queryset = ListContact.objects.filter(sending_list=sending_list)
    paginator = KeysetPaginator(ordering=ordering, model=ListContact, page_size=2)
    field = "pk" if ordering.lstrip("-") == "id" else ordering.lstrip("-")

    pages, last_page = walk_forward(paginator, queryset)

    assert [pk for page in pages for pk in page] == expected_order(rows, field, ordering.startswith("-"))
    assert [len(page) for page in pages] == [2, 2, 2, 2, 1]
    assert list(reversed(walk_back(paginator, queryset, last_page))) == pages


def test_first_page_has_no_previous_and_a_middle_page_has_both(memberships):
    sending_list, _ = memberships
    queryset = ListContact.objects.filter(sending_list=sending_list)
    paginator = KeysetPaginator(ordering="-send_count", model=ListContact, page_size=4)

    first = paginator.page(queryset)
    second = paginator.page(queryset, after=first.next_cursor)
    back = paginator.page(queryset, before=second.previous_cursor)

    assert first.previous_cursor is None and first.next_cursor
    assert second.previous_cursor and second.next_cursor
    assert [row.pk for row in back.rows] == [row.pk for row in first.rows]
    assert back.previous_cursor is None


def test_keyset_page_of_decimal_column_resumes_after_ties():
    sending_list = SendingListFactory()
    rows = [ListContactFactory(sending_list=sending_list, revenue_total=Decimal("10.50")) for _ in range(3)]
    paginator = KeysetPaginator(ordering="-revenue_total", model=ListContact, page_size=2)
    queryset = ListContact.objects.filter(sending_list=sending_list)

    first = paginator.page(queryset)
    second = paginator.page(queryset, after=first.next_cursor)

    assert [r.pk for r in first.rows] == [rows[2].pk, rows[1].pk]
    assert [r.pk for r in second.rows] == [rows[0].pk]
    assert second.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage!", "W10", encode_cursor(Position("not-a-number", 3))])
def test_invalid_cursor_raises_invalid_cursor(cursor):
    paginator = KeysetPaginator(ordering="-send_count", model=ListContact)
    with pytest.raises(InvalidCursor):
        paginator.page(ListContact.objects.all(), after=cursor)


def test_page_or_first_falls_back_to_the_first_page_with_a_warning(memberships):
    sending_list, rows = memberships
    queryset = ListContact.objects.filter(sending_list=sending_list)
    paginator = KeysetPaginator(ordering="-id", model=ListContact, page_size=3)

    page, warning = page_or_first(lambda **c: paginator.page(queryset, **c), after="%%%", before=None)

    assert [r.pk for r in page.rows] == [rows[8].pk, rows[7].pk, rows[6].pk]
    assert warning == "This page link is invalid or out of date; showing the first page."


def test_page_or_first_starts_over_when_nothing_is_left_before_the_cursor(memberships):
    sending_list, rows = memberships
    queryset = ListContact.objects.filter(sending_list=sending_list)
    paginator = KeysetPaginator(ordering="-id", model=ListContact, page_size=3)
    before_newest = encode_cursor(Position(rows[8].pk, rows[8].pk))

    page, warning = page_or_first(lambda **c: paginator.page(queryset, **c), after=None, before=before_newest)

    assert [r.pk for r in page.rows] == [rows[8].pk, rows[7].pk, rows[6].pk]
    assert warning == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),  # past a bigint key
        ("9" * 400, None),
        ("²", None),  # str.isdigit() says yes; int() says no
        ("٣", None),  # a digit, but not one a link of ours writes
        ("-1", None),
        ("1.5", None),
        ("", None),
        (None, None),
    ],
)
def test_id_param_reads_only_ids_a_link_could_carry(value, expected):
    assert id_param(value) == expected
