"""The API's contact upsert: one contact (by phone, any format) merged without blanking, tags added,
channels added, and optionally a subscription to a list. Shared by POST /contacts/, the bulk
upsert, POST /lists/{id}/contacts/ and v2, so every surface answers the same way.

It composes the foundation services (contact_upsert, contact_add_tags, contact_channel_add,
list_contact_subscribe); the subscription rules (never reactivate an opt-out, never subscribe a
blocked contact) stay in `list_contact_subscribe`.
"""

from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import Contact
from contacts.phones import DEFAULT_REGION
from contacts.selectors import NUMBER_HELD_ANONYMOUSLY, contact_by_number, contact_numbers
from contacts.services import contact_add_tags, contact_set_tags, contact_upsert, phone_or_error
from sendinglists.actors import Actor
from sendinglists.api.permissions import (
    contact_is_held_outside,
    contact_is_wholly_in_lists,
    phone_channel_refusal,
)
from sendinglists.choices import SignupMethod
from sendinglists.contacts.numbers import contact_channel_add_checked, contact_edit
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.memberships import contact_custom_fields_set
from sendinglists.subscriptions.subscribe import SubscribeResult, list_contact_subscribe


@dataclass(frozen=True, slots=True)
class UpsertResult:
    contact: Contact | None
    """None when the token may not see the contact (see `allowed_list_ids`)."""
    contact_created: bool
    subscription: SubscribeResult | None
    fields_withheld: bool = False
    """Lists outside the token's scope also hold the contact: its personal fields were neither
    changed nor may be shown (permissions.WITHHELD_FIELDS)."""


def api_contact_upsert(
    *,
    phone_number: str,
    values: dict,
    actor: Actor,
    tags: list[str] | None = None,
    channels: list[dict] | None = None,
    sending_list: SendingList | None = None,
    custom_fields: dict | None = None,
    allowed_list_ids: list[int] | None = None,
    signup_method: str = SignupMethod.API,
) -> UpsertResult:
    """Upsert a contact and, with `sending_list`, subscribe it with `signup_method` (one of
    SignupMethod; list_contact_subscribe refuses any other).

    `custom_fields` (keyed by field key or id): with `sending_list`, that list's values for the
    subscription; without, values for the memberships the contact already has (those of
    `allowed_list_ids` only): a field of a list it is not on is a ValidationError
    (contact_custom_fields_set), so a new contact takes none without a `sending_list`.

    Atomic: a ValidationError anywhere changes nothing. With `allowed_list_ids` (a list-scoped
    token), a contact that ends up on none of those lists (a blocked contact the token has never
    seen) is left untouched and not returned: the token may not change what it cannot see. A
    contact that lists outside them also hold is subscribed, but its own fields, tags and channels
    are left as they are, silently (`fields_withheld`): the answer shows them withheld whatever was
    given, so it does not tell which of the given values another list's owner had set.
    """
    region = sending_list.default_region if sending_list is not None else DEFAULT_REGION
    with transaction.atomic():
        fields_withheld = False
        if allowed_list_ids is not None:
            # The contact the upsert will reach: the number's holder, by its phone or a phone channel.
            e164 = phone_or_error(phone_number, region=region).e164
            existing = contact_by_number(e164)
            if (
                existing is not None
                and existing.phone_number != e164
                and not contact_is_wholly_in_lists(contact_id=existing.pk, list_ids=allowed_list_ids)
            ):
                # A phone channel of a contact the token may not know of: subscribing it would
                # name that contact (and its phone) and put it on the token's list.
                raise ValidationError({"phone_number": NUMBER_HELD_ANONYMOUSLY % {"phone_number": e164}})
            fields_withheld = existing is not None and contact_is_held_outside(
                contact_id=existing.pk, list_ids=allowed_list_ids
            )
            if fields_withheld:
                values, tags, channels = {}, None, None
        contact, created = contact_upsert(phone_number=phone_number, region=region, values=values)
        if tags:
            contact_add_tags(contact=contact, names=tags)
        _add_channels(contact, channels, region, actor, allowed_list_ids)
        subscription = None
        if sending_list is None and custom_fields is not None:
            contact_custom_fields_set(contact=contact, values=custom_fields, list_ids=allowed_list_ids)
        if sending_list is not None:
            subscription = list_contact_subscribe(
                sending_list=sending_list,
                contact=contact,
                signup_method=signup_method,
                actor=actor,
                custom_fields=custom_fields,
            )
        if allowed_list_ids is not None and (subscription is None or subscription.membership is None):
            transaction.set_rollback(True)
            return UpsertResult(contact=None, contact_created=False, subscription=subscription)
        if fields_withheld and subscription is not None and subscription.reason:
            subscription = _reason_without_withheld_numbers(subscription, contact)
    return UpsertResult(
        contact=contact, contact_created=created, subscription=subscription, fields_withheld=fields_withheld
    )


def _reason_without_withheld_numbers(subscription: SubscribeResult, contact: Contact) -> SubscribeResult:
    """A refusal names the number whose opt-out stands; on a contact whose channels are withheld
    from the token, a channel is "another number of this contact"."""
    reason = subscription.reason
    for number in contact_numbers([contact.pk]).get(contact.pk, ()):
        if number != contact.phone_number:
            reason = reason.replace(number, "Another number of this contact")
    return replace(subscription, reason=reason)


@transaction.atomic
def api_contact_update(
    *,
    contact: Contact,
    values: dict,
    actor: Actor,
    phone_number: str | None = None,
    tags: list[str] | None = None,
    channels: list[dict] | None = None,
    custom_fields: dict | None = None,
    allowed_list_ids: list[int] | None = None,
) -> Contact:
    """An explicit edit: sets exactly the given fields (may blank one), replaces the tags when
    given, adds the given channels, sets the given custom values on the contact's memberships of
    their lists (among `allowed_list_ids`; a blank value clears one: contact_custom_fields_set).
    Atomic: a ValidationError anywhere changes nothing."""
    contact = contact_edit(contact=contact, values=values, phone_number=phone_number, actor=actor)
    if tags is not None:
        contact_set_tags(contact=contact, names=tags)
    _add_channels(contact, channels, DEFAULT_REGION, actor, allowed_list_ids)
    if custom_fields is not None:
        contact_custom_fields_set(
            contact=contact, values=custom_fields, list_ids=allowed_list_ids, clear_blanks=True
        )
    return contact


def _add_channels(
    contact: Contact,
    channels: list[dict] | None,
    region: str,
    actor: Actor,
    allowed_list_ids: list[int] | None,
) -> None:
    for index, channel in enumerate(channels or []):
        if refusal := phone_channel_refusal(kind=channel["kind"], list_ids=allowed_list_ids):
            raise ValidationError({f"channels.{index}.kind": [refusal]})
        try:
            contact_channel_add_checked(
                contact=contact, kind=channel["kind"], value=channel["value"], region=region, actor=actor
            )
        except ValidationError as exc:
            # The errors themselves, not their text: a NUMBER_HELD refusal keeps its code and params.
            raise ValidationError(
                {f"channels.{index}.{key}": errors for key, errors in exc.error_dict.items()}
            ) from None
