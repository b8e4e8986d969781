"""Possible duplicates: pairs of contacts that look like one person, to be merged
(`sendinglists/contacts/merge.py`). Two signs: the same email (case-insensitively), or one
contact's email channel (a ContactChannel of kind email) is the other's email.

Phone numbers are no sign: they cannot overlap. Since `ContactNumber` (migration contacts/0006) the
database refuses a number held twice, as two contacts' phones, as one's phone and another's
channel, or as two contacts' channels. Where an operator or an integrator tries to give a contact a
number another contact holds, the refusal names that contact (`contacts.selectors.number_holder`;
the admin's contact form links to the merge preview of the two, an API answer names it only to a
token that may know of it: `sendinglists.api.errors`).

A page never reads the whole table: it walks the email index in order (`contact_email_lower`,
neighbours with the same email are next to each other), then the email channels in the order of
their unique index (`channel_kind_value_unique`: kind, value) with one probe of `contact_email_lower`
per batch of channels, reading at most SCAN_ROWS rows of each per request. A page may hold fewer
pairs than asked while there are more: its cursor says where the next one goes on. The cursor is
encrypted (Fernet, a key derived from SECRET_KEY): it holds the last email read, which may be a
contact's the reader may not see, and a cursor made by hand is refused.
"""

import base64
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.db.models import Min
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac

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
    """The shared email (lower-cased): both contacts' email, or one's email channel and the other's email."""


@dataclass(frozen=True, slots=True)
class DuplicatesPage:
    pairs: list[DuplicatePair]
    next_cursor: str | None


def _fernet() -> Fernet:
    # A key of its own, derived from SECRET_KEY.
    key = salted_hmac("contacts.duplicates.cursor", "fernet key", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _encode(stage: str, position: str) -> str:
    # Encrypted, not only signed: the position is the last email the walk read, which may be a
    # contact's the reader may not see (a list-scoped token sees only some pairs).
    return _fernet().encrypt(json.dumps([stage, position]).encode()).decode()


def _decode(cursor: str | None) -> tuple[str, str]:
    if not cursor:
        return "email", ""
    try:
        stage, position = json.loads(_fernet().decrypt(cursor.encode()))
    except (InvalidToken, ValueError, TypeError) as exc:  # an edited link, or one of an older walk
        raise InvalidDuplicatesCursor("This page link is not valid any more.") from exc
    if stage not in ("email", "channel") or not isinstance(position, str):
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
        position = ""
    # The email walk stops once it has `limit` pairs: here there is room for at least one more.
    position, exhausted = _channel_pairs(after_value=position, limit=limit - len(found), found=found)
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


def _channel_pairs(*, after_value: str, limit: int, found: list) -> tuple[str, bool]:
    # Uses index: channel_kind_value_unique (kind, value), then contact_email_lower.
    channels = list(
        ContactChannel.objects.filter(kind=ChannelKind.EMAIL, value__gt=after_value)
        .order_by("value")
        .values_list("value", "contact_id")[: SCAN_ROWS + 1]
    )
    exhausted = len(channels) <= SCAN_ROWS
    channels = channels[:SCAN_ROWS]
    # The oldest contact with each email: one row per channel of the batch, however many contacts
    # share an email (those are pairs of the email walk already).
    oldest = dict(
        Contact.objects.annotate(email_lower=Lower("email"))
        .filter(email_lower__in=[value for value, _ in channels])
        .order_by()
        .values("email_lower")
        .annotate(first_id=Min("id"))
        .values_list("email_lower", "first_id")
    )
    position = after_value
    for value, contact_id in channels:
        position = value
        holder = oldest.get(value)
        # A channel repeating its own contact's email is no sign (another contact with that email
        # is an email pair).
        if holder is not None and holder != contact_id:
            found.append((contact_id, holder, "channel", value))
            if len(found) >= limit:
                return position, value == channels[-1][0] and exhausted
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
    """Contacts that look like this one (the contact page's suggestions): the same email, an email
    that is one of its email channels, or a contact that holds its email as a channel."""
    pairs: list[DuplicatePair] = []
    email = contact.email.lower()
    if email:
        # Uses index: contact_email_lower
        same_email = (
            Contact.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower=email)
            .exclude(pk=contact.pk)
            .order_by("id")[:limit]
        )
        pairs += [DuplicatePair(contact, other, "email", email) for other in same_email]
    channels = list(
        ContactChannel.objects.filter(contact=contact, kind=ChannelKind.EMAIL).values_list("value", flat=True)
    )
    if channels:
        # Uses index: contact_email_lower
        others = (
            Contact.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=channels)
            .exclude(pk=contact.pk)
            .order_by("id")[:limit]
        )
        pairs += [DuplicatePair(contact, other, "channel", other.email_lower) for other in others]
    if email:
        # Uses index: channel_kind_value_unique (channel values are stored lower-cased)
        holders = (
            ContactChannel.objects.filter(kind=ChannelKind.EMAIL, value=email)
            .exclude(contact=contact)
            .select_related("contact")[:limit]
        )
        pairs += [DuplicatePair(contact, channel.contact, "channel", email) for channel in holders]
    unique = {pair.duplicate.pk: pair for pair in reversed(pairs)}
    return [pair for pair in pairs if unique[pair.duplicate.pk] is pair][:limit]
