"""Reads of contacts shared by the pages, the API and the services: which contact holds a number
(its primary phone or one of its phone channels, from `ContactNumber`), and the search box's one
rule (phone in any format, email, name prefix), each form served by an index."""

import enum
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan, StartsWith

from contacts.choices import ChannelKind
from contacts.models import Contact, ContactChannel, ContactNumber, Tag
from contacts.phones import DEFAULT_REGION, normalize_phone


class SearchKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class ContactSearch:
    kind: SearchKind
    term: str
    """What is matched: the E.164 number, the lower-cased email or the lower-cased name prefix."""
    condition: Q

    @property
    def description(self) -> str:
        if self.kind == SearchKind.PHONE:
            return f"phone number {self.term}"
        if self.kind == SearchKind.EMAIL:
            return f"email {self.term}"
        return f"name starting with “{self.term}”"


# --- numbers --------------------------------------------------------------------------------------


def holds_number(phone_number: str, *, path: str = "") -> Q:
    """Contacts (at `path`, e.g. `"contact__"` from a membership) holding the E.164 number as their
    primary phone or as a phone channel: a join to one row of `ContactNumber`.
    # Uses index: contacts_contactnumber_pkey
    """
    return Q(**{f"{path}numbers__phone_number": phone_number})


def contact_by_number(phone_number: str, *, for_update: bool = False) -> Contact | None:
    """The contact holding the E.164 number (primary phone or phone channel), or None; with
    `for_update`, its row locked until commit (call it inside a transaction).
    # Uses index: contacts_contactnumber_pkey
    """
    queryset = Contact.objects.filter(holds_number(phone_number))
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.order_by().first()


def contact_ids_by_number(phone_numbers: Collection[str]) -> dict[str, int]:
    """{number: id of the contact holding it} for the numbers some contact holds, in batches."""
    phone_numbers = list(dict.fromkeys(phone_numbers))
    held: dict[str, int] = {}
    for start in range(0, len(phone_numbers), 5000):
        held.update(
            ContactNumber.objects.filter(phone_number__in=phone_numbers[start : start + 5000]).values_list(
                "phone_number", "contact_id"
            )
        )
    return held


def contact_numbers(contact_ids: Collection[int]) -> dict[int, list[str]]:
    """Every number each contact holds (its phone first, then its phone channels), in one query.
    # Uses index: the contact's primary key, contactnumber_channels
    """
    numbers: dict[int, list[str]] = defaultdict(list)
    if not contact_ids:
        return numbers
    contact_ids = list(contact_ids)
    rows = (
        Contact.objects.filter(pk__in=contact_ids)
        .order_by()
        .values_list("pk", "phone_number", Value(True))
        .union(
            ContactNumber.objects.filter(contact_id__in=contact_ids, is_primary=False)
            .order_by()
            .values_list("contact_id", "phone_number", Value(False)),
            all=True,
        )
    )
    for contact_id, phone_number, _ in sorted(rows, key=lambda row: (row[0], not row[2], row[1])):
        numbers[contact_id].append(phone_number)
    return numbers


def contacts_with_channels(contact_ids: Collection[int]) -> set[int]:
    """Those of the contacts that hold a phone channel, in batches (most hold none).
    # Uses index: contactnumber_channels (channels are few: a small index)
    """
    contact_ids = list(contact_ids)
    found: set[int] = set()
    for start in range(0, len(contact_ids), 5000):
        found.update(
            ContactNumber.objects.filter(contact_id__in=contact_ids[start : start + 5000], is_primary=False)
            .values_list("contact_id", flat=True)
            .distinct()
        )
    return found


NUMBER_HELD = "number_held"
"""The code of the ValidationError refusing a number that another contact holds. Its params name
the number and the holder (`phone_number`, `contact_id`, `what`): a page or a full-access token
reads NUMBER_HELD_MESSAGE; an API answer to a token that may not know that contact words it as
NUMBER_HELD_ANONYMOUSLY (`sendinglists.api.errors`)."""
NUMBER_HELD_MESSAGE = "%(phone_number)s is already %(what)s of contact #%(contact_id)s."
NUMBER_HELD_ANONYMOUSLY = "%(phone_number)s is already held by another contact."


def number_holder(phone_number: str, *, except_contact_id: int | None = None) -> ContactNumber | None:
    """The row of the contact that holds `phone_number`, when it may not become a number of
    contact `except_contact_id` (None for a contact not saved yet): another contact's primary
    phone or channel, or a channel of that contact itself (a number is a contact's primary phone or
    its channel, never both). None when it may.
    # Uses index: contacts_contactnumber_pkey
    """
    row = ContactNumber.objects.filter(phone_number=phone_number).first()
    if row is None or (row.is_primary and row.contact_id == except_contact_id):
        return None
    return row


def number_held_params(row: ContactNumber) -> dict:
    """The params of a NUMBER_HELD refusal of the number `row` holds."""
    return {
        "phone_number": row.phone_number,
        "contact_id": row.contact_id,
        "what": "the phone number" if row.is_primary else "a channel",
    }


def tag_named(names: Collection[str], *, path: str = "") -> Q:
    """Tags (at `path`, e.g. `"tag__"`) named one of `names`, ignoring case as the unique index
    `tag_name_unique_ci` does: the database's LOWER on both sides. Python's lower() folds some
    characters differently (SQLite's LOWER folds ASCII only; PostgreSQL's maps İ to i), so a
    Python-lowered name can miss the tag the index says is taken."""
    column = Lower(f"{path}name")
    condition = Q(pk__in=[])
    for name in names:
        condition |= Q(Exact(column, Lower(Value(name))))
    return condition


def _prefix(path: str, expression: str, value: str) -> Q:
    """`Lower(path)` starts with `value`, as an index range plus the exact LIKE.

    Uses index: contact_first_name_lower / contact_name_lower. The range (>= value, < value with
    its last character incremented) is what lets a btree serve the prefix under any collation;
    the LIKE keeps the match exact.
    """
    lowered = Lower(f"{path}{expression}")
    upper = value[:-1] + chr(ord(value[-1]) + 1)
    return Q(GreaterThanOrEqual(lowered, value), LessThan(lowered, upper), StartsWith(lowered, value))


def contact_search(text: str, *, region: str | None = DEFAULT_REGION, path: str = "") -> ContactSearch | None:
    """How the search box's `text` matches contacts; None for blank text.

    A number in any format (`(415) 555-0100` with `region`, `+14155550100`, `14155550100`) matches
    the contact holding it, as its primary phone or a phone channel (`holds_number`); text with `@`
    matches the email case-insensitively, or an email channel; anything
    else is a name prefix: one word matches the first or the last name, two or more words match
    "first last" (or "last first"). `path` prefixes the lookups (`"contact__"` from a membership).
    """
    text = " ".join(str(text).split())
    if not text:
        return None
    phone = normalize_phone(text, region)
    if phone.is_valid:
        return ContactSearch(SearchKind.PHONE, phone.e164, holds_number(phone.e164, path=path))
    if "@" in text:
        email = text.lower()
        condition = Q(Exact(Lower(f"{path}email"), email))
        # An email channel identifies its contact too: its holder's id, read first (one probe of the
        # channels' unique index), keeps the condition on the contacts' own indexes.
        holders = list(
            ContactChannel.objects.filter(kind=ChannelKind.EMAIL, value=email).values_list(
                "contact_id", flat=True
            )
        )
        if holders:
            condition |= Q(**{f"{path}pk__in": holders})
        return ContactSearch(SearchKind.EMAIL, email, condition)
    words = text.lower().split(" ")
    if len(words) == 1:
        condition = _prefix(path, "first_name", words[0]) | _prefix(path, "last_name", words[0])
    else:
        first, rest = words[0], " ".join(words[1:])
        last_first_word = " ".join(words[:-1])
        condition = (Q(Exact(Lower(f"{path}first_name"), first)) & _prefix(path, "last_name", rest)) | (
            Q(Exact(Lower(f"{path}last_name"), last_first_word)) & _prefix(path, "first_name", words[-1])
        )
    return ContactSearch(SearchKind.NAME, text.lower(), condition)


def contacts_for_search(search: ContactSearch | None):
    """Contacts matching `search` (all contacts for None), with tags for the result table."""
    queryset = Contact.objects.prefetch_related("tags")
    return queryset.filter(search.condition) if search else queryset


def contact_tag_names(*, contact_ids: Collection[int]) -> dict[int, list[str]]:
    """Each contact's tag names (in no order; contacts without tags are absent), in one query.

    Plain SQL over the contact-tag table joined to the tags: an API list page asks this on every
    request, and compiling the ORM query cost four times what running it does.
    """
    names: dict[int, list[str]] = defaultdict(list)
    if not contact_ids:
        return names
    through = Contact.tags.through._meta
    tag = Tag._meta
    quote = connection.ops.quote_name
    contact_column = quote(through.get_field("contact").column)
    tag_column = quote(through.get_field("tag").column)
    placeholders = ", ".join(["%s"] * len(contact_ids))
    # Uses index: the through table's (contact_id, tag_id) unique constraint
    sql = (
        f"SELECT ct.{contact_column}, t.{quote(tag.get_field('name').column)}"
        f" FROM {quote(through.db_table)} ct JOIN {quote(tag.db_table)} t ON t.{quote(tag.pk.column)} = ct.{tag_column}"
        f" WHERE ct.{contact_column} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(contact_ids))
        for contact_id, name in cursor.fetchall():
            names[contact_id].append(name)
    return names
