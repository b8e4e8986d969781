"""Reads of memberships: the Contacts tab's filters and pages, a contact's memberships with their history,
and the locked read of a number's membership that inbound messages build on."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, connections
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When

from contacts.models import Contact, ContactNumber, Tag
from contacts.pagination import DEFAULT_PAGE_SIZE, KeysetPage, KeysetPaginator
from contacts.selectors import ContactSearch
from sendinglists.choices import ContactStatus, MembershipStatus, contact_status_from
from sendinglists.lists.models import CustomField, ListStatusCount, SendingList
from sendinglists.subscriptions.models import ListContact, SubscriptionEvent

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


# --- a list's contacts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListContactFilters:
    """The Contacts tab's filters, already validated (sendinglists.overview.forms.ListContactFilterForm)."""

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


class _Columns:
    """One model's concrete columns in a hand-written SELECT, read back into an instance the way
    the ORM would (`from_db`, with the field and backend converters, e.g. JSON text -> dict)."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self.columns = [field.get_col(alias) for field in self.fields]

    def select(self, connection) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def instance(self, connection, values):
        values = list(values)
        for index, column in enumerate(self.columns):
            for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


_MEMBER, _CONTACT, _LIST = _Columns(ListContact, "m"), _Columns(Contact, "c"), _Columns(SendingList, "l")


def member_for_update(
    *, list_number: str, region: str, phone_number: str
) -> tuple[SendingList, Contact, ListContact] | None:
    """The list at `list_number` (if its default region is `region`), the contact holding
    `phone_number` (its primary phone or a phone channel) and its membership of that list, or None when any of the three is missing; call it inside a
    transaction.

    Locks: the contact row and the membership row (SELECT ... FOR UPDATE OF c, m; the list row is
    only read), held until commit, so that one person's inbound messages are processed one at a time
    and each keyword's order checks see the previous one's result. PostgreSQL locks the rows in the
    order OF names them: the contact first, as every other path of a person's messages does (the
    opposite order could deadlock with them). SQLite has no row locks (its writes are serialized).

    One query, hand-written because the inbound webhook runs it on every message and compiling the
    same ORM query (select_related, select for update of two tables) cost more than running it.
    The instances come back as the ORM would build them, the membership's `contact` and
    `sending_list` already set.
    """
    connection = connections[ListContact.objects.db]
    quote = connection.ops.quote_name
    locking = " FOR UPDATE OF c, m" if connection.features.has_select_for_update_of else ""
    # Uses index: listcontact_list_contact_unique, the list's unique phone number and the number's
    # row in ContactNumber (the contact's primary phone or one of its phone channels)
    sql = (
        f"SELECT {_MEMBER.select(connection)}, {_CONTACT.select(connection)}, {_LIST.select(connection)}"
        f" FROM {quote(ContactNumber._meta.db_table)} n"
        f" JOIN {quote(Contact._meta.db_table)} c ON c.id = n.contact_id"
        f" JOIN {quote(ListContact._meta.db_table)} m ON m.contact_id = c.id"
        f" JOIN {quote(SendingList._meta.db_table)} l ON l.id = m.sending_list_id"
        f" WHERE l.phone_number = %s AND l.default_region = %s AND n.phone_number = %s{locking}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list_number, region, phone_number])
        row = cursor.fetchone()
    if row is None:
        return None
    member_end = len(_MEMBER.fields)
    contact_end = member_end + len(_CONTACT.fields)
    membership = _MEMBER.instance(connection, row[:member_end])
    contact = _CONTACT.instance(connection, row[member_end:contact_end])
    sending_list = _LIST.instance(connection, row[contact_end:])
    ListContact.contact.field.set_cached_value(membership, contact)
    ListContact.sending_list.field.set_cached_value(membership, sending_list)
    return sending_list, contact, membership


def contact_statuses(*, contact_ids: list[int], list_ids: list[int] | None) -> dict[int, ContactStatus]:
    """Seed 001's status of each contact over the lists `list_ids` (None: every list), in two
    queries for any number of contacts (a bulk upsert's answer)."""
    memberships: dict[int, list[bool]] = defaultdict(list)
    rows = ListContact.objects.filter(contact_id__in=contact_ids)
    if list_ids is not None:
        rows = rows.filter(sending_list_id__in=list_ids)
    # Uses index: the contact foreign key's
    for contact_id, active in rows.values_list("contact_id", "active"):
        memberships[contact_id].append(active)
    return {
        contact_id: contact_status_from(blocked=blocked, memberships_active=memberships[contact_id])
        for contact_id, blocked in Contact.objects.filter(pk__in=contact_ids).values_list("pk", "blocked")
    }


def blocked_contact_ids() -> QuerySet:
    """The ids of blocked contacts, as a subquery (partial index contact_blocked: blocks are rare)."""
    return Contact.objects.filter(blocked=True).order_by().values("pk")


def blocked_membership_ids() -> QuerySet:
    """The ids of the memberships of blocked contacts, as a subquery: a few rows, found from the
    blocked contacts through the membership contact index. A membership query tests its own id
    against them (PostgreSQL hashes them once, a hashed subplan), so "not blocked" adds no join
    to contacts and keeps an index-only scan of (sending_list, active, unsub_reason, id)."""
    from sendinglists.subscriptions.models import ListContact

    return ListContact.objects.filter(contact_id__in=blocked_contact_ids()).order_by().values("pk")


def status_condition(status: str) -> Q:
    """The memberships `status_from` reads as `status` (a MembershipStatus value), as a condition
    on ListContact. Raises ValueError for an unknown status."""
    status = MembershipStatus(status)
    blocked = Q(pk__in=blocked_membership_ids())
    if status == MembershipStatus.BLOCKED:
        return blocked
    # Uses index: listcontact_list_status (sending_list, active, unsub_reason, id)
    if status == MembershipStatus.ACTIVE:
        return Q(active=True) & ~blocked
    return Q(active=False, unsub_reason=status.value) & ~blocked


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
