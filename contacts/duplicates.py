"""Possible duplicates: pairs of contacts that look like one person, to be merged
(`sendinglists/contacts/merge.py`). Two signs: the same email (case-insensitively), or one
contact's phone channel is the other's number.

A page never reads the whole table: it walks the email index in order (`contact_email_lower`,
neighbours with the same email are next to each other), then the phone channels by id with one
unique-index probe per batch of numbers, reading at most SCAN_ROWS rows of each per request. A page
may hold fewer pairs than asked while there are more: its cursor says where the next one goes on.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from django.db.models.functions import Lower

from contacts.choices import ChannelKind
from contacts.models import Contact, ContactChannel

SCAN_ROWS = 2000
DEFAULT_PAIRS = 25


class InvalidDuplicatesCursor(ValueError):
    """Not a cursor of this walk (an edited link)."""


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    contact: Contact
    """The suggested survivor: the older contact of an email pair, the channel's holder otherwise."""
    duplicate: Contact
    reason: str
    """`email` or `channel`."""
    value: str
    """The shared email (lower-cased), or the number that is one's channel and the other's phone."""


@dataclass(frozen=True, slots=True)
class DuplicatesPage:
    pairs: list[DuplicatePair]
    next_cursor: str | None


def _encode(stage: str, position) -> str:
    return base64.urlsafe_b64encode(json.dumps([stage, position]).encode()).decode()


def _decode(cursor: str | None) -> tuple[str, object]:
    if not cursor:
        return "email", ""
    try:
        stage, position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidDuplicatesCursor("This page link is not valid any more.") from exc
    valid = (stage == "email" and isinstance(position, str)) or (stage == "channel" and type(position) is int)
    if not valid:
        raise InvalidDuplicatesCursor("This page link is not valid any more.")
    return stage, position


def possible_duplicates_page(*, after: str | None = None, limit: int = DEFAULT_PAIRS) -> DuplicatesPage:
    """The next pairs after `after` (a cursor from an earlier page; None: from the start)."""
    stage, position = _decode(after)
    found: list[tuple[int, int, str, str]] = []
    if stage == "email":
        position, exhausted = _email_pairs(after_email=position, limit=limit, found=found)
        if not exhausted:
            return _page(found, _encode("email", position))
        position = 0
    # The email walk stops once it has `limit` pairs: here there is room for at least one more.
    position, exhausted = _channel_pairs(after_id=position, limit=limit - len(found), found=found)
    return _page(found, None if exhausted else _encode("channel", position))


def _email_pairs(*, after_email: str, limit: int, found: list) -> tuple[str, bool]:
    # Uses index: contact_email_lower (an empty email sorts first and is never after a cursor).
    rows = list(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__gt=after_email)
        .order_by("email_lower", "id")
        .values_list("email_lower", "id")[: SCAN_ROWS + 1]
    )
    exhausted = len(rows) <= SCAN_ROWS
    groups: list[tuple[str, list[int]]] = []
    for email, contact_id in rows[:SCAN_ROWS]:
        if groups and groups[-1][0] == email:
            groups[-1][1].append(contact_id)
        else:
            groups.append((email, [contact_id]))
    if not exhausted and len(groups) > 1:
        groups.pop()  # it may go on past this batch: the next page starts with it
    # (One email held by more than SCAN_ROWS contacts shows its first pairs; the rest show once
    # those are merged.)
    position = after_email
    for email, ids in groups:
        position = email
        found.extend((ids[0], other, "email", email) for other in ids[1 : limit + 1])
        if len(found) >= limit:
            return position, False
    return position, exhausted


def _channel_pairs(*, after_id: int, limit: int, found: list) -> tuple[int, bool]:
    # Uses index: the channel's primary key, then contacts' phone_number unique index.
    channels = list(
        ContactChannel.objects.filter(kind=ChannelKind.PHONE, pk__gt=after_id)
        .order_by("pk")
        .values_list("pk", "contact_id", "value")[: SCAN_ROWS + 1]
    )
    exhausted = len(channels) <= SCAN_ROWS
    channels = channels[:SCAN_ROWS]
    holders = dict(
        Contact.objects.filter(phone_number__in=[value for _, _, value in channels]).values_list(
            "phone_number", "id"
        )
    )
    position = after_id
    for channel_id, contact_id, value in channels:
        position = channel_id
        holder = holders.get(value)
        if holder is not None and holder != contact_id:
            found.append((contact_id, holder, "channel", value))
            if len(found) >= limit:
                return position, channel_id == channels[-1][0] and exhausted
    return position, exhausted


def _page(found: list[tuple[int, int, str, str]], next_cursor: str | None) -> DuplicatesPage:
    ids = {contact_id for pair in found for contact_id in pair[:2]}
    contacts = Contact.objects.in_bulk(ids)
    seen = set()
    pairs = []
    for contact_id, duplicate_id, reason, value in found:
        key = frozenset((contact_id, duplicate_id))
        if key in seen or contact_id not in contacts or duplicate_id not in contacts:
            continue
        seen.add(key)
        pairs.append(DuplicatePair(contacts[contact_id], contacts[duplicate_id], reason, value))
    return DuplicatesPage(pairs, next_cursor)


def duplicates_of(contact: Contact, *, limit: int = 10) -> list[DuplicatePair]:
    """Contacts that look like this one (the contact page's suggestions): the same email, a number
    that is one of its phone channels, or a contact that holds its number as a channel."""
    pairs: list[DuplicatePair] = []
    if contact.email:
        email = contact.email.lower()
        # Uses index: contact_email_lower
        same_email = (
            Contact.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower=email)
            .exclude(pk=contact.pk)
            .order_by("id")[:limit]
        )
        pairs += [DuplicatePair(contact, other, "email", email) for other in same_email]
    numbers = ContactChannel.objects.filter(contact=contact, kind=ChannelKind.PHONE).values("value")
    pairs += [
        DuplicatePair(contact, other, "channel", other.phone_number)
        for other in Contact.objects.filter(phone_number__in=numbers).exclude(pk=contact.pk)[:limit]
    ]
    holders = (
        ContactChannel.objects.filter(kind=ChannelKind.PHONE, value=contact.phone_number)
        .exclude(contact=contact)
        .select_related("contact")[:limit]
    )
    pairs += [DuplicatePair(contact, channel.contact, "channel", contact.phone_number) for channel in holders]
    unique = {pair.duplicate.pk: pair for pair in reversed(pairs)}
    return [pair for pair in pairs if unique[pair.duplicate.pk] is pair][:limit]
