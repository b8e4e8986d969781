"""Who may do what: a token is required; read-only tokens never write; list-scoped tokens see and
change only their sending lists and the contacts that are members of them, on every endpoint.

Scoping is applied to querysets (so an object outside the scope is a 404, exactly like one that does
not exist) and to every list id a request names (so a write outside the scope is refused).

A contact that lists outside the token's scope also hold is shown to that token with its personal
fields (WITHHELD_FIELDS) withheld, and those fields are never changed by it: they were given by the
other lists' owners too.
"""

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet, Value
from rest_framework import exceptions, permissions

from contacts.choices import ChannelKind
from sendinglists.subscriptions.models import ListContact
from sendinglists.tokens.models import ApiToken


def token_of(request) -> ApiToken:
    return request.auth


def allowed_list_ids(request) -> list[int] | None:
    """The sending list ids the request's token is limited to; None means every list (an empty
    list means none: a limited token whose lists were all deleted)."""
    return getattr(request.auth, "allowed_list_ids", None)


def is_list_scoped(request) -> bool:
    return allowed_list_ids(request) is not None


def list_is_allowed(request, sending_list_id: int) -> bool:
    ids = allowed_list_ids(request)
    return ids is None or int(sending_list_id) in ids


def scope_lists(queryset: QuerySet, request, field: str = "pk") -> QuerySet:
    ids = allowed_list_ids(request)
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def scope_contacts(queryset: QuerySet, request) -> QuerySet:
    """Contacts the token may see: all, or the members of its lists."""
    ids = allowed_list_ids(request)
    if ids is None:
        return queryset
    # Uses index: listcontact_list_contact_unique (sending_list, contact)
    return queryset.filter(
        Exists(ListContact.objects.filter(contact_id=OuterRef("pk"), sending_list_id__in=ids))
    )


# The contact's own fields that a list-scoped token neither sees nor changes on a contact that lists
# outside its scope also hold. What it still sees: the id/uuid, the phone number, `blocked`, the
# platform's reading of the number (line type, validity), the timestamps and its own memberships.
WITHHELD_FIELDS = ("email", "first_name", "last_name", "timezone", "carrier", "tags", "channels")


def contact_held_outside_scope(request, contact: str = "pk"):
    """A boolean expression for querysets: whether lists outside the token's scope also hold the
    contact at `OuterRef(contact)` ("pk" on contacts, "contact_id" on memberships). Always false
    for a token with access to every list. Annotated on a page, it costs one indexed probe per row,
    not a query per row."""
    ids = allowed_list_ids(request)
    if ids is None:
        return Value(False, output_field=BooleanField())
    # Uses index: the contact foreign key's
    return Exists(ListContact.objects.filter(contact_id=OuterRef(contact)).exclude(sending_list_id__in=ids))


def contact_subscribed_in_scope(request, contact: str = "pk"):
    """A boolean expression for querysets: whether the contact at `OuterRef(contact)` is subscribed
    to one of the token's lists (seed 001's status as the token sees it). One indexed probe per row."""
    # Uses index: the contact foreign key's
    memberships = ListContact.objects.filter(contact_id=OuterRef(contact), active=True)
    return Exists(scope_lists(memberships, request, "sending_list_id"))


# Audience rule fields that read what a list-scoped token may not see on a shared contact.
WITHHELD_RULE_FIELDS = frozenset({"tag", "timezone", "carrier"})


def without_withheld_contacts(queryset: QuerySet, request, contact: str = "pk") -> QuerySet:
    """`queryset` without the contacts whose personal fields are withheld from the token: a filter
    on a withheld field (email, name, tag) never matches them, or it would reveal the value."""
    if not is_list_scoped(request):
        return queryset
    return queryset.filter(~contact_held_outside_scope(request, contact))


def without_withheld_channel_match(
    queryset: QuerySet, request, phone_number: str, contact: str = "pk"
) -> QuerySet:
    """`queryset`, already matched by a number as a primary phone or a phone channel
    (`contacts.selectors.holds_number`), without the contacts it matched only by a channel withheld
    from the token: on a shared contact, only the primary phone (never withheld) may match."""
    if not is_list_scoped(request):
        return queryset
    path = "" if contact == "pk" else contact.removesuffix("_id") + "__"
    return queryset.filter(
        Q(**{f"{path}phone_number": phone_number}) | Q(~contact_held_outside_scope(request, contact))
    )


PHONE_CHANNEL_MESSAGE = (
    "A token limited to some sending lists cannot add a phone channel: a channel number identifies "
    "its contact on every list (another list's subscription or STOP of that number would reach this "
    "contact). A token with access to every list can add it; this token can add an email channel."
)


def phone_channel_refusal(*, kind: str, list_ids: list[int] | None) -> str | None:
    """Why a token limited to `list_ids` (None: every list) may not add a channel of `kind`, or None."""
    return PHONE_CHANNEL_MESSAGE if list_ids is not None and kind == ChannelKind.PHONE else None


SHARED_CONTACT_MESSAGE = (
    "This contact is shared with sending lists outside this token's scope: its own fields, tags and "
    "channels can only be changed by a token that can access all of them."
)


def contact_is_held_outside(*, contact_id: int, list_ids: list[int] | None) -> bool:
    """Whether lists other than `list_ids` (None: every list) hold the contact."""
    if list_ids is None:
        return False
    # Uses index: the contact foreign key's
    return ListContact.objects.filter(contact_id=contact_id).exclude(sending_list_id__in=list_ids).exists()


def contact_is_wholly_in_scope(request, contact_id: int) -> bool:
    """Whether the request's token may know of the contact: every token with access to all lists;
    a list-scoped one when the contact is on some of its lists and on no other. (A contact on no
    list, or shared with lists outside the scope, is one it may not learn anything about.)"""
    return contact_is_wholly_in_lists(contact_id=contact_id, list_ids=allowed_list_ids(request))


def contact_is_wholly_in_lists(*, contact_id: int, list_ids: list[int] | None) -> bool:
    """`contact_is_wholly_in_scope` for a token limited to `list_ids` (None: every list)."""
    if list_ids is None:
        return True
    # Uses index: listcontact_list_contact_unique (sending_list, contact), the contact foreign key's
    memberships = ListContact.objects.filter(contact_id=contact_id)
    return (
        memberships.filter(sending_list_id__in=list_ids).exists()
        and not memberships.exclude(sending_list_id__in=list_ids).exists()
    )


def contact_has_memberships_outside_scope(request, contact) -> bool:
    return contact_is_held_outside(contact_id=contact.pk, list_ids=allowed_list_ids(request))


def refuse_shared_contact(request, contact) -> None:
    """A list-scoped token may not change a contact's own fields, tags or channels when lists
    outside its scope also hold it: those belong to the other lists' owners too."""
    if contact_has_memberships_outside_scope(request, contact):
        raise exceptions.PermissionDenied(SHARED_CONTACT_MESSAGE)


class HasApiToken(permissions.BasePermission):
    """A valid token; writes only with a token that is not read-only.

    Views that create things outside any list (a new sending list) set `unscoped_writes_only`;
    views whose POST only reads (seed 001's POST /contact-fields) name that action in
    `read_only_actions`.
    """

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiToken):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        if getattr(view, "action", None) in getattr(view, "read_only_actions", ()):
            return True
        if request.auth.read_only:
            raise exceptions.PermissionDenied(
                "This token is read-only: it may not create, change or delete anything."
            )
        if getattr(view, "unscoped_writes_only", False) and is_list_scoped(request):
            raise exceptions.PermissionDenied(
                "This token is limited to some sending lists: it cannot create or change sending lists."
            )
        return True
