"""Keyset (cursor) pagination on indexed orders: a page deep in a 1M-member list costs what the
first page costs, and nothing ever counts the whole result.

A view declares `keyset_orderings` (the public `ordering` values it offers, each backed by an
index on (…, field, id)) and `keyset_default_ordering`. Pages are walked with a row comparison
`(field, id) < (value, id)`, which PostgreSQL turns into an index range scan.
"""

import base64
import binascii
import json
from collections import OrderedDict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(raw: str) -> dict:
    try:
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict) or not {"o", "v", "id", "p"} <= set(payload):
        raise exceptions.ValidationError(
            {"cursor": ["Invalid cursor: use the next/previous links as given."]}
        )
    return payload


def encode_cursor(*, ordering: str, value, row_id: int, backwards: bool = False) -> str:
    """The cursor of the position (value, row_id) in `ordering`: the page after it, or before it."""
    if value is not None and not isinstance(value, int | str | float | bool):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return _encode({"o": ordering, "v": value, "id": row_id, "p": int(backwards)})


class KeysetPagination(BasePagination):
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"

    def _orderings(self, view) -> list[str]:
        fields = getattr(view, "keyset_orderings", ["id"])
        return [name for field in fields for name in (f"-{field}", field)]

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return DEFAULT_PAGE_SIZE
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]}
            )
        return size

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self._page_size(request)
        cursor_raw = request.query_params.get(self.cursor_query_param)
        cursor = _decode(cursor_raw) if cursor_raw else None
        ordering = request.query_params.get(self.ordering_query_param) or (
            cursor["o"] if cursor else getattr(view, "keyset_default_ordering", "-id")
        )
        if ordering not in self._orderings(view):
            raise exceptions.ValidationError(
                {self.ordering_query_param: [f"Must be one of: {', '.join(self._orderings(view))}."]}
            )
        if cursor and cursor["o"] != ordering:
            raise exceptions.ValidationError(
                {self.cursor_query_param: ["This cursor belongs to another ordering; drop it to start over."]}
            )
        self.ordering = ordering
        self.field = ordering.lstrip("-")
        descending = ordering.startswith("-")
        backwards = bool(cursor and cursor["p"])
        walk_descending = descending != backwards
        model = queryset.model
        order = [f"-{self.field}", "-pk"] if walk_descending else [self.field, "pk"]
        if self.field in ("id", "pk"):
            order = order[1:]
        queryset = queryset.order_by(*order)
        if cursor:
            queryset = queryset.filter(self._after(model, cursor, walk_descending))
        rows = list(queryset[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
            self.has_next, self.has_previous = True, has_more
        else:
            self.has_next, self.has_previous = has_more, cursor is not None
        self.rows = rows
        return rows

    def _after(self, model, cursor: dict, descending: bool):
        """Rows strictly after the cursor's position in the walk's direction."""
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        pk_column = f"{table}.{quote(model._meta.pk.column)}"
        operator = "<" if descending else ">"
        try:
            last_id = model._meta.pk.to_python(cursor["id"])
            if self.field in ("id", "pk"):
                return Q(**{"pk__lt" if descending else "pk__gt": last_id})
            field = model._meta.get_field(self.field)
            value = field.to_python(cursor["v"])
        except (DjangoValidationError, TypeError, ValueError):
            raise exceptions.ValidationError(
                {"cursor": ["Invalid cursor: use the next/previous links as given."]}
            ) from None
        column = f"{table}.{quote(field.column)}"
        return RawSQL(
            f"({column}, {pk_column}) {operator} (%s, %s)",
            [field.get_db_prep_value(value, connection), last_id],
            output_field=BooleanField(),
        )

    def _cursor_for(self, row, backwards: bool) -> str:
        value = getattr(row, self.field) if self.field not in ("id", "pk") else row.pk
        return encode_cursor(ordering=self.ordering, value=value, row_id=row.pk, backwards=backwards)

    def _link(self, cursor: str | None) -> str | None:
        url = self.request.build_absolute_uri()
        return (
            replace_query_param(url, self.cursor_query_param, cursor)
            if cursor
            else remove_query_param(url, self.cursor_query_param)
        )

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link(self._cursor_for(self.rows[-1], backwards=False))

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.rows:
            return None
        return self._link(self._cursor_for(self.rows[0], backwards=True))

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [("next", self.get_next_link()), ("previous", self.get_previous_link()), ("results", data)]
            )
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The page to fetch: the `next` or `previous` link's cursor, as given.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {DEFAULT_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": "Sort order; a leading `-` sorts descending.",
                "schema": {
                    "type": "string",
                    "enum": self._orderings(view),
                    "default": getattr(view, "keyset_default_ordering", "-id"),
                },
            },
        ]
