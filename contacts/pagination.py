"""Keyset (cursor) pagination for the operator pages.

A page is the `page_size` rows after (or before) a position in an indexed order `(field, id)`, read
with a row comparison `(field, id) < (value, id)` that PostgreSQL serves as one index range scan:
a page 10,000 rows deep costs what the first page costs, and nothing counts the whole result.

Nullable columns (last sent, last clicked) sort their NULLs last in both directions ("never" after
every date). The walk reads them as two index ranges, the non-null part and then the NULL part
ordered by id, so the indexes on (sending_list, field, id) serve both on either database.

The cursor is opaque to users: urlsafe base64 of JSON `[value, id, is_null]`.
"""

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

from contacts.jsonsafe import json_loads_bounded

DEFAULT_PAGE_SIZE = 50


class InvalidCursor(ValueError):
    """The cursor was not produced by this paginator (edited or truncated link)."""


@dataclass(frozen=True, slots=True)
class Position:
    value: object
    id: int
    is_null: bool = False


@dataclass(frozen=True, slots=True)
class KeysetPage:
    rows: list
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.previous_cursor)


def _json_value(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(position: Position) -> str:
    raw = json.dumps([_json_value(position.value), position.id, int(position.is_null)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, field) -> Position:
    """The position a cursor names, its value converted by `field` (a model field, or None for id)."""
    try:
        value, row_id, is_null = json_loads_bounded(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        row_id = int(row_id)
        if is_null:
            value = None
        elif field is not None:
            value = field.to_python(value)
            if value is None:
                raise ValueError("missing value")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, ValidationError):
        raise InvalidCursor("This page link is invalid or out of date; showing the first page.") from None
    return Position(value=value, id=row_id, is_null=bool(is_null))


class KeysetPaginator:
    """Pages of `queryset` in the order `ordering` ("-id", "id", "-send_count", "last_sent_at", …).

    `queryset` carries every filter; the paginator adds the order and the position. Rows come back
    in display order whichever way the user walks. A `.values()` queryset pages too (rows are dicts),
    when its values include "id" and the ordering's field.
    """

    def __init__(self, *, ordering: str, model, page_size: int = DEFAULT_PAGE_SIZE):
        self.descending = ordering.startswith("-")
        name = ordering.lstrip("-")
        self.field_name = None if name in ("id", "pk") else name
        self.field = model._meta.get_field(self.field_name) if self.field_name else None
        self.nullable = bool(self.field and self.field.null)
        self.page_size = page_size

    # --- positions ---------------------------------------------------------------------------------

    def position_of(self, row) -> Position:
        """The position of `row`: a model instance, or a dict from `.values()` holding "id" and
        the ordering's field."""
        if isinstance(row, dict):
            row_id = row["id"]
            value = row[self.field_name] if self.field_name else row_id
        else:
            row_id = row.pk
            value = getattr(row, self.field_name) if self.field_name else row_id
        return Position(value=value, id=row_id, is_null=value is None)

    def decode(self, cursor: str) -> Position:
        return decode_cursor(cursor, field=self.field)

    # --- queries -----------------------------------------------------------------------------------

    def order_expressions(self, descending: bool) -> list:
        """ORDER BY of the non-null range walked in `descending` order (the field, then the id)."""
        id_order = "-pk" if descending else "pk"
        if not self.field_name:
            return [id_order]
        return [F(self.field_name).desc() if descending else F(self.field_name).asc(), id_order]

    def _beyond(self, queryset: QuerySet, position: Position, descending: bool) -> QuerySet:
        """Rows strictly past `position` in the non-null range walked in `descending` order."""
        if not self.field_name:
            return queryset.filter(pk__lt=position.id) if descending else queryset.filter(pk__gt=position.id)
        lookup = TupleLessThan if descending else TupleGreaterThan
        return queryset.filter(lookup(Tuple(F(self.field_name), F("pk")), (position.value, position.id)))

    def _non_null(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(**{f"{self.field_name}__isnull": False}) if self.nullable else queryset

    def _nulls(self, queryset: QuerySet, after_id: int | None, descending: bool) -> QuerySet:
        nulls = queryset.filter(**{f"{self.field_name}__isnull": True})
        if after_id is not None:
            nulls = nulls.filter(pk__lt=after_id) if descending else nulls.filter(pk__gt=after_id)
        return nulls.order_by("-pk" if descending else "pk")

    def _forward(self, queryset: QuerySet, after: Position | None, limit: int) -> list:
        """Up to `limit` rows after `after` in display order (non-null values, then NULLs)."""
        rows: list = []
        if after is None or not after.is_null:
            values = self._non_null(queryset)
            if after is not None:
                values = self._beyond(values, after, self.descending)
            rows = list(values.order_by(*self.order_expressions(self.descending))[:limit])
        if self.nullable and len(rows) < limit:
            after_id = after.id if after is not None and after.is_null else None
            rows += list(self._nulls(queryset, after_id, self.descending)[: limit - len(rows)])
        return rows

    def _backward(self, queryset: QuerySet, before: Position, limit: int) -> list:
        """Up to `limit` rows before `before`, nearest first (reverse display order)."""
        rows: list = []
        if self.nullable and before.is_null:
            rows = list(self._nulls(queryset, before.id, not self.descending)[:limit])
        if len(rows) < limit:
            values = self._non_null(queryset)
            if not before.is_null:
                values = self._beyond(values, before, not self.descending)
            rows += list(values.order_by(*self.order_expressions(not self.descending))[: limit - len(rows)])
        return rows

    def page(self, queryset: QuerySet, *, after: str | None = None, before: str | None = None) -> KeysetPage:
        """The page after cursor `after`, before cursor `before`, or the first page.

        Raises InvalidCursor for a cursor this paginator did not make.
        """
        size = self.page_size
        if before:
            rows = self._backward(queryset, self.decode(before), size + 1)
            has_previous = len(rows) > size
            rows = rows[:size]
            rows.reverse()
            has_next = True
        else:
            rows = self._forward(queryset, self.decode(after) if after else None, size + 1)
            has_next = len(rows) > size
            rows = rows[:size]
            has_previous = bool(after)
        if not rows:
            return KeysetPage(rows=[], next_cursor=None, previous_cursor=None)
        return KeysetPage(
            rows=rows,
            next_cursor=encode_cursor(self.position_of(rows[-1])) if has_next else None,
            previous_cursor=encode_cursor(self.position_of(rows[0])) if has_previous else None,
        )


MAX_ID = 2**63 - 1  # the largest bigint primary key


def id_param(value: str | None) -> int | None:
    """A row id from a query-string parameter (`?before=`, `?list=`): ASCII digits that fit a
    bigint key, else None, so a hand-edited link shows the first page rather than an error."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_ID)) or int(value) > MAX_ID:
        return None
    return int(value)


def page_or_first(fetch, *, after: str | None, before: str | None) -> tuple:
    """`fetch(after=…, before=…)`, falling back to the first page when the cursor is invalid or
    nothing is left before it. Returns (page, warning for the user or "")."""
    try:
        page = fetch(after=after or None, before=before or None)
    except InvalidCursor as exc:
        return fetch(after=None, before=None), str(exc)
    if before and not page.rows:
        return fetch(after=None, before=None), ""
    return page, ""
