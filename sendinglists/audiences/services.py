"""Audience services: build a segment from rules or a text query, save audiences, count and page
their members. (The list hygiene bulk actions built on segments: `sendinglists.audiences.hygiene`.)

Every entry point (pages, API, tasks) goes through `segment_build`, so rules are validated against
the list's custom fields in one place and a bad rule is a ValidationError, never a 500.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from sendinglists.audiences.compiler import rules_apply, rules_count, rules_queryset
from sendinglists.audiences.models import Audience
from sendinglists.audiences.query import QuerySyntaxError, query_parse, rules_to_query
from sendinglists.audiences.rules import RuleProblem, RulesInvalid, rules_validate
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.models import ListContact

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
COUNT_CACHE_SECONDS = 60


def invalid_input(field: str, problems: list[RuleProblem]) -> ValidationError:
    """A ValidationError keyed by `field` that also carries the structured problems (positions)."""
    error = ValidationError({field: [str(p) for p in problems]})
    error.problems = [p.as_dict() for p in problems]
    return error


def problems_of(error: ValidationError) -> list[dict]:
    """The structured problems of an error from this module (message, path, position)."""
    problems = getattr(error, "problems", None)
    if problems is not None:
        return problems
    return [{"path": "", "message": message, "position": None} for message in error.messages]


@dataclass(frozen=True, slots=True)
class Segment:
    """Validated rules for one list, with their canonical text query."""

    sending_list: SendingList
    rules: dict
    query: str
    custom_fields: tuple

    def queryset(self, *, now: dt.datetime | None = None) -> QuerySet[ListContact]:
        return rules_queryset(
            sending_list=self.sending_list, rules=self.rules, custom_fields=self.custom_fields, now=now
        )

    def apply(self, queryset: QuerySet[ListContact]) -> QuerySet[ListContact]:
        """`queryset` (this list's memberships, maybe filtered further) narrowed to the segment."""
        return rules_apply(queryset, rules=self.rules, custom_fields=self.custom_fields)

    def fields(self) -> set[str]:
        """The names of the fields its rules test (`tag`, `timezone`, a custom field key, …)."""
        names: set[str] = set()
        pending = [self.rules]
        while pending:
            node = pending.pop()
            if "field" in node:
                names.add(node["field"])
            pending.extend(node.get("rules", ()))
        return names


def segment_build(*, sending_list: SendingList, rules=None, query: str | None = None) -> Segment:
    """A Segment from `rules` (JSON) or `query` (text); both given must mean the same thing.

    Raises ValidationError keyed `query` or `rules` whose messages name the position or the rule
    path of each problem (`problems_of(error)` gives them structured).
    """
    custom_fields = tuple(sending_list.custom_fields.all())
    from_query = None
    if query is not None and str(query).strip():
        from_query = _rules_from_query(str(query), custom_fields)
    if rules is not None and rules != {}:
        try:
            canonical = rules_validate(rules, custom_fields=custom_fields)
        except RulesInvalid as exc:
            raise invalid_input("rules", exc.problems) from None
        if from_query is not None and from_query != canonical:
            raise invalid_input(
                "query",
                [RuleProblem("", "The query and the rules say different things; send one of them.")],
            )
    else:
        canonical = from_query or rules_validate(None, custom_fields=custom_fields)
    return Segment(sending_list, canonical, rules_to_query(canonical), custom_fields)


def _rules_from_query(query: str, custom_fields) -> dict:
    try:
        parsed = query_parse(query)
    except QuerySyntaxError as exc:
        raise invalid_input("query", [RuleProblem("", exc.message, exc.position)]) from None
    try:
        return rules_validate(parsed.rules, custom_fields=custom_fields, positions=parsed.positions)
    except RulesInvalid as exc:
        raise invalid_input("query", exc.problems) from None


# --- members --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MembersPage:
    rows: list[ListContact]
    next_after: int | None  # pass as `after` for the next page; None on the last page


def segment_count(*, segment: Segment, now: dt.datetime | None = None) -> int:
    """How many members match: one COUNT, index-only where the rules allow (see `rules_count`)."""
    return rules_count(
        sending_list=segment.sending_list, rules=segment.rules, custom_fields=segment.custom_fields, now=now
    )


def segment_count_cached(*, segment: Segment, max_age_s: int = COUNT_CACHE_SECONDS) -> int:
    """`segment_count`, reused for `max_age_s`: paging through a broad audience of a big list
    counts it once a minute, not once per page. (The API's count endpoint stays exact.)"""
    digest = hashlib.sha256(json.dumps(segment.rules, sort_keys=True).encode()).hexdigest()[:32]
    key = f"audiences:count:{segment.sending_list.pk}:{digest}"
    count = cache.get(key)
    if count is None:
        count = segment_count(segment=segment)
        cache.set(key, count, max_age_s)
    return count


def segment_members(
    *, segment: Segment, after: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> MembersPage:
    """A page of matching members, newest membership first, after membership id `after`.

    Keyset pagination on id: a page deep in a million members costs what the first page costs.
    # Uses index: listcontact_list_id (sending_list, id)
    """
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    queryset = segment.queryset().select_related("contact").order_by("-id")
    if after is not None:
        queryset = queryset.filter(id__lt=after)
    rows = list(queryset[: limit + 1])
    next_after = rows[limit - 1].pk if len(rows) > limit else None
    return MembersPage(rows=rows[:limit], next_after=next_after)


# --- audiences ------------------------------------------------------------------------------------


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": "An audience needs a name."})
    if len(name) > 200:
        raise ValidationError({"name": "An audience name is at most 200 characters."})
    return name


def _check_name_free(*, sending_list: SendingList, name: str, exclude_pk: int | None = None) -> None:
    taken = Audience.objects.filter(sending_list=sending_list, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": f"This list already has an audience named {name!r}."})


@transaction.atomic
def audience_create(
    *, sending_list: SendingList, name: str, rules=None, query: str | None = None, created_by=None
) -> Audience:
    """Save a segment of `sending_list` from rules or a text query (validated; stored as both)."""
    name = _clean_name(name)
    segment = segment_build(sending_list=sending_list, rules=rules, query=query)
    _check_name_free(sending_list=sending_list, name=name)
    try:
        with transaction.atomic():
            return Audience.objects.create(
                sending_list=sending_list,
                name=name,
                rules=segment.rules,
                query=segment.query,
                created_by=created_by,
            )
    except IntegrityError:
        raise ValidationError({"name": f"This list already has an audience named {name!r}."}) from None


@transaction.atomic
def audience_update(
    *, audience: Audience, name: str | None = None, rules=None, query: str | None = None
) -> Audience:
    """Rename and/or replace the rules of an audience (given as rules or as a query)."""
    audience = Audience.objects.select_for_update().select_related("sending_list").get(pk=audience.pk)
    fields = ["updated_at"]
    if name is not None:
        audience.name = _clean_name(name)
        _check_name_free(sending_list=audience.sending_list, name=audience.name, exclude_pk=audience.pk)
        fields.append("name")
    if rules is not None or query is not None:
        segment = segment_build(sending_list=audience.sending_list, rules=rules, query=query)
        audience.rules, audience.query = segment.rules, segment.query
        fields += ["rules", "query"]
    audience.save(update_fields=fields)
    return audience


@transaction.atomic
def audience_delete(*, audience: Audience) -> None:
    """Delete a saved audience. Its members are untouched: an audience is only a view of the list."""
    Audience.objects.filter(pk=audience.pk).delete()


def audience_segment(*, audience: Audience) -> Segment:
    """The audience's rules, validated again against the list's custom fields as they are now.

    A custom field deleted or retyped since the audience was saved makes this a ValidationError
    that says which rule no longer fits, rather than a query that fails or silently matches less.
    """
    return segment_build(sending_list=audience.sending_list, rules=audience.rules)


def audience_count(*, audience: Audience) -> int:
    return segment_count(segment=audience_segment(audience=audience))


def audience_members(
    *, audience: Audience, after: int | None = None, limit: int = DEFAULT_PAGE_SIZE
) -> MembersPage:
    return segment_members(segment=audience_segment(audience=audience), after=after, limit=limit)
