"""Reads of engagement for the pages: a contact's single timeline of messages (both directions),
clicks and conversions, newest first, keyset paginated.

The timeline merges three indexed streams (message_contact_time, click_contact_time,
conversion_contact_time): each gives at most page_size + 1 rows past the cursor, Python merges
them. A page costs three index range scans however long the contact's history is.
"""

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.jsonsafe import json_loads_bounded
from contacts.models import Contact
from contacts.pagination import DEFAULT_PAGE_SIZE, InvalidCursor
from engagement.choices import Direction
from engagement.models import Click, Conversion, Message


@dataclass(frozen=True, slots=True)
class Stream:
    kind: str
    model: type
    time_field: str
    rank: int
    """Breaks ties between streams at the same instant; part of the cursor."""
    related: tuple[str, ...]


STREAMS = (
    Stream("message", Message, "sent_at", 0, ("sending_list",)),
    Stream("click", Click, "clicked_at", 1, ("sending_list",)),
    Stream("conversion", Conversion, "converted_at", 2, ("sending_list",)),
)
# The timeline shows only the list's name: skip decoding its JSON keyword lists for every row.
LIST_COLUMNS_NOT_SHOWN = ("help_text", "opt_out_keywords", "opt_in_keywords")
STREAMS_BY_RANK = {stream.rank: stream for stream in STREAMS}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: str
    at: dt.datetime
    item: object
    """The Message, Click or Conversion."""
    rank: int

    @property
    def key(self) -> tuple:
        return (self.at, self.rank, self.item.pk)


@dataclass(frozen=True, slots=True)
class TimelinePage:
    rows: list[TimelineEntry]
    next_cursor: str | None
    previous_cursor: str | None


def _encode(entry: TimelineEntry) -> str:
    raw = json.dumps([entry.at.isoformat(), entry.rank, entry.item.pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, int, int]:
    try:
        at, rank, item_id = json_loads_bounded(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = parse_datetime(at)
        if at is None or int(rank) not in STREAMS_BY_RANK:
            raise ValueError("bad cursor")
        return at, int(rank), int(item_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor(
            "This timeline link is invalid or out of date; showing the newest events."
        ) from None


def _past(stream: Stream, position: tuple[dt.datetime, int, int], newer: bool) -> Q:
    """The stream's rows strictly past `position` in the total order (time, rank, id).

    Walking to older rows (`newer` False): the same stream continues below (time, id); a stream
    ranked lower than the cursor's still has rows at the cursor's instant, one ranked higher does not.
    """
    at, rank, item_id = position
    time = stream.time_field
    if stream.rank == rank:
        lookup = TupleGreaterThan if newer else TupleLessThan
        return Q(lookup(Tuple(F(time), F("pk")), (at, item_id)))
    same_instant_included = (stream.rank > rank) if newer else (stream.rank < rank)
    suffix = (
        ("gte" if same_instant_included else "gt") if newer else ("lte" if same_instant_included else "lt")
    )
    return Q(**{f"{time}__{suffix}": at})


def _stream_rows(stream: Stream, contact: Contact, position, newer: bool, limit: int) -> QuerySet:
    queryset = (
        stream.model.objects.filter(contact=contact)
        .select_related(*stream.related)
        .defer(*(f"sending_list__{column}" for column in LIST_COLUMNS_NOT_SHOWN))
    )
    if position is not None:
        queryset = queryset.filter(_past(stream, position, newer))
    order = [stream.time_field, "pk"] if newer else [f"-{stream.time_field}", "-pk"]
    return queryset.order_by(*order)[:limit]


def contact_timeline_page(
    *,
    contact: Contact,
    after: str | None = None,
    before: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> TimelinePage:
    """Newest-first messages, clicks and conversions of `contact`: the page after cursor `after`
    (older), before cursor `before` (newer), or the newest page. Three queries.

    Raises contacts.pagination.InvalidCursor for a cursor this function did not make.
    """
    newer = bool(before)
    position = _decode(before or after) if (before or after) else None
    entries = [
        TimelineEntry(kind=stream.kind, at=getattr(item, stream.time_field), item=item, rank=stream.rank)
        for stream in STREAMS
        for item in _stream_rows(stream, contact, position, newer, page_size + 1)
    ]
    entries.sort(key=lambda entry: entry.key, reverse=not newer)
    has_more = len(entries) > page_size
    entries = entries[:page_size]
    if newer:
        entries.reverse()
        has_next, has_previous = True, has_more
    else:
        has_next, has_previous = has_more, position is not None
    if not entries:
        return TimelinePage(rows=[], next_cursor=None, previous_cursor=None)
    return TimelinePage(
        rows=entries,
        next_cursor=_encode(entries[-1]) if has_next else None,
        previous_cursor=_encode(entries[0]) if has_previous else None,
    )


def sends_by_list_day(sending_list_ids: list[int], start: dt.datetime) -> dict[tuple[int, dt.date], int]:
    """Outbound messages per (list, local date) since `start`: the opt-out watch's denominator."""
    # Uses index: message_list_direction_time (sending_list, direction, sent_at)
    rows = (
        Message.objects.filter(
            sending_list_id__in=sending_list_ids, direction=Direction.OUTBOUND, sent_at__gte=start
        )
        .annotate(day=TruncDate("sent_at", tzinfo=timezone.get_current_timezone()))
        .values("sending_list_id", "day")
        .annotate(n=Count("id"))
    )
    return {(row["sending_list_id"], row["day"]): row["n"] for row in rows}
