"""Cursor pagination for the API, on the pages' keyset paginator (contacts.pagination): a page deep
in a 1M-member list costs what the first page costs, and nothing ever counts the whole result.

A view declares `keyset_orderings` (the public `ordering` values it offers, each backed by an
index on (…, field, id)) and `keyset_default_ordering`. The API cursor wraps the paginator's
position with the ordering and the direction, so a link always continues the walk it came from.
"""

import base64
import binascii
import json
from collections import OrderedDict

from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from contacts.jsonsafe import json_loads_bounded
from contacts.pagination import InvalidCursor, KeysetPaginator, Position
from contacts.pagination import encode_cursor as encode_position

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
INVALID_CURSOR = "Invalid cursor: use the next/previous links as given."


def _encode(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(raw: str) -> dict:
    try:
        payload = json_loads_bounded(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        payload = None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("o"), str)
        or not isinstance(payload.get("c"), str)
        or payload.get("p") not in (0, 1)
    ):
        raise exceptions.ValidationError({"cursor": [INVALID_CURSOR]})
    return payload


def _wrap(ordering: str, position_cursor: str, backwards: bool) -> str:
    return _encode({"o": ordering, "p": int(backwards), "c": position_cursor})


def encode_cursor(*, ordering: str, value, row_id: int, backwards: bool = False) -> str:
    """The API cursor of the position (value, row_id) in `ordering`: the page after (or before) it."""
    position = Position(value=value, id=row_id, is_null=value is None)
    return _wrap(ordering, encode_position(position), backwards)


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
        paginator = KeysetPaginator(
            ordering=ordering, model=queryset.model, page_size=self._page_size(request)
        )
        backwards = bool(cursor and cursor["p"])
        try:
            self.page = paginator.page(
                queryset,
                after=cursor["c"] if cursor and not backwards else None,
                before=cursor["c"] if backwards else None,
            )
        except InvalidCursor:
            raise exceptions.ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return self.page.rows

    def _link(self, position_cursor: str | None, backwards: bool) -> str | None:
        if not position_cursor:
            return None
        cursor = _wrap(self.ordering, position_cursor, backwards)
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, cursor)

    def get_next_link(self) -> str | None:
        return self._link(self.page.next_cursor, backwards=False)

    def get_previous_link(self) -> str | None:
        return self._link(self.page.previous_cursor, backwards=True)

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
                "description": "Sort order; a leading `-` sorts descending. Empty values sort last.",
                "schema": {
                    "type": "string",
                    "enum": self._orderings(view),
                    "default": getattr(view, "keyset_default_ordering", "-id"),
                },
            },
        ]
