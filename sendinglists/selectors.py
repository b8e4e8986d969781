"""Reads for the operator pages: list overviews from maintained counts, a list's contacts as keyset
pages over the (sending_list, <sort column>, id) indexes, and a contact's memberships with history.

Nothing here counts a list: membership counts come from maintained deltas (ListStatusCount) and
the few blocked contacts (`list_member_counts`).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum, Value, When

from contacts.models import Contact, Tag
from contacts.pagination import DEFAULT_PAGE_SIZE, KeysetPage, KeysetPaginator
from contacts.selectors import ContactSearch
from sendinglists.audiences.optout import OPT_OUT_RATE_LIMIT, opt_out_rates, opt_out_series
from sendinglists.choices import MembershipStatus, blocked_contact_ids, status_condition
from sendinglists.models import (
    CustomField,
    ImportJob,
    ListContact,
    ListStatusCount,
    SendingList,
    SubscriptionEvent,
)

# Seed 000: "High opt-out rates can indicate messaging frequency issues or content problems. Aim for
# under 2%."
# People who asked to stop (or were stopped by an operator / a complaint), as opposed to numbers the
# carrier could not deliver to.
OPTED_OUT_STATUSES = (MembershipStatus.OPTED_OUT, MembershipStatus.MANUAL, MembershipStatus.COMPLAINT)
UNDELIVERABLE_STATUSES = (MembershipStatus.BAD_RESPONSE, MembershipStatus.INVALID_CONTACT)

# The Contacts tab's sort orders; each is served by an index on (sending_list, <column>, id).
LIST_CONTACT_ORDERINGS = {
    "-id": "Newest first",
    "id": "Oldest first",
    "-send_count": "Most sends",
    "send_count": "Fewest sends",
    "-click_count": "Most clicks",
    "click_count": "Fewest clicks",
    "-conversion_count": "Most conversions",
    "conversion_count": "Fewest conversions",
    "-revenue_total": "Most revenue",
    "revenue_total": "Least revenue",
    "-last_sent_at": "Last sent, newest first",
    "last_sent_at": "Last sent, oldest first",
    "-last_clicked_at": "Last clicked, newest first",
    "last_clicked_at": "Last clicked, oldest first",
}
DEFAULT_LIST_CONTACT_ORDERING = "-id"
MEMBERSHIP_EVENTS_SHOWN = 200


@dataclass(frozen=True, slots=True)
class ListSummary:
    sending_list: SendingList
    counts: dict[str, int]
    last_import: ImportJob | None = None
    opt_out_rate: Decimal | None = None
    """Opt-outs / sends over the last 30 days (sendinglists.audiences.optout); None: nothing sent."""

    @property
    def active(self) -> int:
        return self.counts[MembershipStatus.ACTIVE]

    @property
    def opted_out(self) -> int:
        return sum(self.counts[status] for status in OPTED_OUT_STATUSES)

    @property
    def undeliverable(self) -> int:
        return sum(self.counts[status] for status in UNDELIVERABLE_STATUSES)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def opt_out_rate_is_high(self) -> bool:
        return self.opt_out_rate is not None and self.opt_out_rate > OPT_OUT_RATE_LIMIT

    @property
    def status_rows(self) -> list[tuple[str, str, int]]:
        return [(status.value, status.label, self.counts[status]) for status in MembershipStatus]


def list_member_counts(*, sending_list_ids: list[int]) -> dict[int, dict[str, int]]:
    """Members per list and the status they read as (`status_from`): {list_id: {status: count}},
    every status present. One query, whatever the lists' sizes: the maintained counts (summed as
    `list_status_counts` sums them), and the members of blocked contacts, moved to Blocked.

    The blocked members are found from the few blocked contacts (partial index contact_blocked),
    each probed in the (sending_list, contact) unique index: never a scan of a list's memberships.
    """
    maintained = (
        ListStatusCount.objects.filter(sending_list_id__in=sending_list_ids)
        .values_list("sending_list_id", "status")
        .annotate(members=Sum("count"), blocked=Value(False))
        .order_by()
    )
    blocked = (
        ListContact.objects.filter(sending_list_id__in=sending_list_ids, contact_id__in=blocked_contact_ids())
        .annotate(
            held=Case(When(active=True, then=Value(MembershipStatus.ACTIVE.value)), default="unsub_reason")
        )
        .values_list("sending_list_id", "held")
        .annotate(members=Count("pk"), blocked=Value(True))
        .order_by()
    )
    counts = {list_id: dict.fromkeys(MembershipStatus.values, 0) for list_id in sending_list_ids}
    for list_id, status, members, is_blocked in maintained.union(blocked, all=True):
        if is_blocked:
            counts[list_id][status] -= members
            counts[list_id][MembershipStatus.BLOCKED] += members
        else:
            counts[list_id][status] += members
    return counts


def sending_list_summaries() -> list[ListSummary]:
    """Every sending list with its counts, latest import and opt-out rate: a query or two each."""
    latest_import = ImportJob.objects.filter(sending_list=OuterRef("pk")).order_by("-id").values("pk")[:1]
    # Uses index: importjob_list_id
    lists = list(SendingList.objects.annotate(last_import_id=Subquery(latest_import)))
    counts = list_member_counts(sending_list_ids=[sending_list.pk for sending_list in lists])
    imports = ImportJob.objects.in_bulk([s.last_import_id for s in lists if s.last_import_id])
    rates = opt_out_rates(sending_list_ids=[s.pk for s in lists])
    return [
        ListSummary(
            sending_list=s,
            counts=counts[s.pk],
            last_import=imports.get(s.last_import_id),
            opt_out_rate=rates.get(s.pk),
        )
        for s in lists
    ]


def sending_list_summary(sending_list: SendingList) -> ListSummary:
    counts = list_member_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
    # The same cached series the list page's chart draws: one computation for both.
    rate = opt_out_series(sending_list=sending_list).rate
    return ListSummary(sending_list=sending_list, counts=counts, opt_out_rate=rate)


# --- a list's contacts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListContactFilters:
    """The Contacts tab's filters, already validated (sendinglists.forms.ListContactFilterForm)."""

    search: ContactSearch | None = None
    status: str = ""
    unsub_reason: str = ""
    signup_method: str = ""
    in_workflow: bool | None = None
    tag: Tag | None = None
    tag_missing: bool = False
    """A tag was asked for that does not exist: nothing matches."""
    custom_fields: dict = field(default_factory=dict)
    """Typed values (convert_value) the membership's custom fields must equal."""

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.search
            or self.status
            or self.unsub_reason
            or self.signup_method
            or self.in_workflow is not None
            or self.tag
            or self.tag_missing
            or self.custom_fields
        )


def custom_fields_equal(custom_fields: dict, *, path: str = "") -> Q:
    """Memberships whose custom fields hold each of `custom_fields` (typed values).

    On PostgreSQL a jsonb containment (`@>`), which a GIN (jsonb_path_ops) index on
    custom_fields serves; SQLite has no containment, so one key-path comparison per field.
    """
    if not custom_fields:
        return Q()
    if connection.vendor == "postgresql":
        return Q(**{f"{path}custom_fields__contains": custom_fields})
    condition = Q()
    for key, value in custom_fields.items():
        condition &= Q(**{f"{path}custom_fields__{key}": value})
    return condition


def list_contacts(*, sending_list: SendingList | int, filters: ListContactFilters) -> QuerySet:
    """The memberships of `sending_list` (a list or its id) matching `filters`, with their
    contacts, in no particular order."""
    # The table does not show custom fields: skip decoding their JSON for every row.
    queryset = (
        ListContact.objects.filter(sending_list=sending_list).select_related("contact").defer("custom_fields")
    )
    if filters.tag_missing:
        return queryset.none()
    if filters.status:
        queryset = queryset.filter(status_condition(filters.status))
    if filters.unsub_reason:
        queryset = queryset.filter(active=False, unsub_reason=filters.unsub_reason)
    if filters.signup_method:
        queryset = queryset.filter(signup_method=filters.signup_method)
    if filters.in_workflow is not None:
        # Uses index: listcontact_list_in_workflow (partial) for True
        queryset = queryset.filter(in_workflow=filters.in_workflow)
    if filters.tag is not None:
        tagged = Contact.tags.through.objects.filter(contact_id=OuterRef("contact_id"), tag_id=filters.tag.pk)
        queryset = queryset.filter(Exists(tagged))
    if filters.custom_fields:
        queryset = queryset.filter(custom_fields_equal(filters.custom_fields))
    if filters.search is not None:
        queryset = queryset.filter(filters.search.condition)
    return queryset


def list_contacts_page(
    *,
    sending_list: SendingList,
    filters: ListContactFilters,
    ordering: str = DEFAULT_LIST_CONTACT_ORDERING,
    after: str | None = None,
    before: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> KeysetPage:
    """One page of the Contacts tab: one query (two where a nullable sort column's NULLs begin).

    Raises contacts.pagination.InvalidCursor for a cursor this page did not make.
    """
    if ordering not in LIST_CONTACT_ORDERINGS:
        ordering = DEFAULT_LIST_CONTACT_ORDERING
    paginator = KeysetPaginator(ordering=ordering, model=ListContact, page_size=page_size)
    queryset = list_contacts(sending_list=sending_list, filters=filters)
    return paginator.page(queryset, after=after, before=before)


# --- a contact's memberships ----------------------------------------------------------------------


@dataclass
class MembershipDetail:
    membership: ListContact
    defined_fields: list[CustomField]
    """The custom fields the membership's list defines."""
    custom_fields: list[tuple[str, str, object]]
    """(key, label, value) in the list's field order; keys no longer defined keep their key as label."""
    events: list[SubscriptionEvent]


@dataclass
class ContactMemberships:
    memberships: list[MembershipDetail]
    contact_events: list[SubscriptionEvent]
    """Events not tied to a current membership: block, unblock, and those of deleted memberships."""
    events_truncated: bool


def contact_memberships(contact: Contact) -> ContactMemberships:
    """The contact's memberships with their lists, custom fields (labelled) and subscription history.

    Three queries whatever the contact's history: memberships, the lists' field definitions, and
    the latest MEMBERSHIP_EVENTS_SHOWN events (index subevent_contact_time).
    """
    memberships = list(
        ListContact.objects.filter(contact=contact)
        .select_related("sending_list")
        .order_by("sending_list__name")
    )
    fields_by_list = defaultdict(list)
    for custom_field in CustomField.objects.filter(
        sending_list_id__in=[m.sending_list_id for m in memberships]
    ):
        fields_by_list[custom_field.sending_list_id].append(custom_field)
    events = list(
        SubscriptionEvent.objects.filter(contact=contact)
        .select_related("sending_list")
        .order_by("-occurred_at", "-id")[: MEMBERSHIP_EVENTS_SHOWN + 1]
    )
    truncated = len(events) > MEMBERSHIP_EVENTS_SHOWN
    events = events[:MEMBERSHIP_EVENTS_SHOWN]
    events_by_membership = defaultdict(list)
    contact_events = []
    for event in events:
        if event.list_contact_id:
            events_by_membership[event.list_contact_id].append(event)
        else:
            contact_events.append(event)
    details = []
    for membership in memberships:
        membership.contact = contact  # what its status reads (display_status), without a query
        defined = fields_by_list[membership.sending_list_id]
        values = membership.custom_fields or {}
        rows = [(f.key, f.label, values[f.key]) for f in defined if f.key in values]
        known = {f.key for f in defined}
        rows += [(key, key, value) for key, value in sorted(values.items()) if key not in known]
        details.append(
            MembershipDetail(
                membership=membership,
                defined_fields=defined,
                custom_fields=rows,
                events=events_by_membership[membership.pk],
            )
        )
    return ContactMemberships(memberships=details, contact_events=contact_events, events_truncated=truncated)


def membership_of_contact(*, contact: Contact, membership_id: int) -> ListContact | None:
    return (
        ListContact.objects.filter(pk=membership_id, contact=contact).select_related("sending_list").first()
    )
