"""POST /contacts/bulk: up to 1,000 contacts upserted (and subscribed) in one request, each with its
own result; a bad item rolls back alone. A mixin of ContactViewSet (the route and schema are its)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.api.serializers import contact_numbers_in_form
from contacts.api.strict import unexpected_key_errors
from sendinglists.api.errors import django_validation_detail, field_errors_of
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import (
    allowed_list_ids,
    scope_lists,
)
from sendinglists.api.viewsets import IDEMPOTENCY_PARAMETER, MAX_ID
from sendinglists.contacts.api.serializers import (
    BULK_WITHHELD_FIELDS,
    BulkContactSerializer,
    BulkUpsertRequestSerializer,
    BulkUpsertResponseSerializer,
)
from sendinglists.contacts.api.upserts import api_contact_upsert
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.selectors import contact_statuses
from sendinglists.subscriptions.subscribe import Outcome

MAX_BULK_CONTACTS = 1000
NOT_A_LIST_ID = "Expected a sending list id (an integer)."


def _is_integer(value) -> bool:
    """A JSON integer (not a boolean, a float or a string of digits): the only form of an id here."""
    return isinstance(value, int) and not isinstance(value, bool)


def split_contact_fields(validated: dict) -> tuple[dict, dict]:
    """(values for the contact's own fields, the rest: phone_number, tags, channels, …)."""
    data = dict(validated)
    extras = {
        key: data.pop(key)
        for key in ("phone_number", "tags", "channels", "sending_list", "custom_fields", "signup_method")
        if key in data
    }
    return data, extras


class ContactBulkMixin:
    @extend_schema(
        summary="Upsert up to 1,000 contacts",
        description=(
            "Each item is upserted like POST /contacts/ and, with a sending_list, subscribed "
            "with its signup_method (default api). Every item gets a result; a bad item does not stop the others. An "
            "opted-out membership is never reactivated: its item says skipped_opted_out, with the reason. "
            "A token limited to some lists does not change the personal fields of a contact that other "
            "lists also hold: they are not applied, and the item's contact lists them in withheld_fields."
        ),
        request=BulkUpsertRequestSerializer,
        responses=BulkUpsertResponseSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    @idempotent
    def bulk(self, request, *args, **kwargs):
        payload = request.data
        if not isinstance(payload, dict):
            raise serializers.ValidationError("Expected a JSON object with a `contacts` array.")
        unexpected = unexpected_key_errors(BulkUpsertRequestSerializer(), payload)
        if unexpected:
            raise serializers.ValidationError(unexpected)
        items = payload.get("contacts")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK_CONTACTS:
            raise serializers.ValidationError(
                {"contacts": [f"Expected an array of 1 to {MAX_BULK_CONTACTS} contacts."]}
            )
        default_list_id = payload.get("sending_list")
        if default_list_id is not None and not _is_integer(default_list_id):
            raise serializers.ValidationError({"sending_list": [NOT_A_LIST_ID]})
        list_ids = [default_list_id, *(item.get("sending_list") for item in items if isinstance(item, dict))]
        int_ids = {value for value in list_ids if _is_integer(value) and 0 < value <= MAX_ID}
        lists = {
            sending_list.pk: sending_list
            for sending_list in scope_lists(
                SendingList.objects.filter(pk__in=int_ids), request
            ).prefetch_related("custom_fields")
        }
        if default_list_id is not None and default_list_id not in lists:
            raise serializers.ValidationError({"sending_list": [f"No sending list {default_list_id}."]})
        scope = allowed_list_ids(request)
        # One transaction with a savepoint per item: a bad item rolls back alone, and 1,000 items
        # cost one commit rather than 1,000.
        with transaction.atomic():
            results = [
                self._bulk_item(index, item, default_list_id, lists, scope)
                for index, item in enumerate(items)
            ]
        statuses = contact_statuses(
            contact_ids=[result["contact"]["id"] for result in results if result["contact"]], list_ids=scope
        )
        for result in results:
            if result["contact"]:
                result["contact"]["status"] = statuses[result["contact"]["id"]].value
                contact_numbers_in_form(result["contact"], self.number_form)
        counts = dict.fromkeys(
            [
                "ok",
                "error",
                "contacts_created",
                "subscribed",
                "updated",
                "skipped_opted_out",
                "skipped_blocked",
            ],
            0,
        )
        for result in results:
            counts[result["status"]] += 1
            if result["contact"] and result["contact"]["created"]:
                counts["contacts_created"] += 1
            if result["subscription"]:
                outcome = result["subscription"]["outcome"]
                counts["subscribed" if outcome == Outcome.CREATED else outcome] += 1
        return Response({"results": results, "counts": counts})

    def _bulk_item(self, index: int, item, default_list_id, lists: dict, scope) -> dict:
        def error(errors: dict) -> dict:
            return {
                "index": index,
                "status": "error",
                "contact": None,
                "subscription": None,
                "errors": errors,
            }

        if not isinstance(item, dict):
            return error({"non_field_errors": ["Expected a contact object."]})
        list_id = item.get("sending_list", default_list_id)
        sending_list = None
        if list_id is not None:
            if not _is_integer(list_id):
                return error({"sending_list": [NOT_A_LIST_ID]})
            sending_list = lists.get(list_id)
            if sending_list is None:
                return error({"sending_list": [f"No sending list {list_id}."]})
        elif scope is not None:
            return error(
                {"sending_list": ["This token is limited to some sending lists: name one to subscribe to."]}
            )
        context = {
            **self.get_serializer_context(),
            "region": sending_list.default_region if sending_list else None,
        }
        serializer = BulkContactSerializer(data=item, context=context)
        if not serializer.is_valid():
            return error(field_errors_of(serializer.errors))
        values, extras = split_contact_fields(serializer.validated_data)
        try:
            result = api_contact_upsert(
                phone_number=extras["phone_number"],
                values=values,
                tags=extras.get("tags"),
                sending_list=sending_list,
                custom_fields=extras.get("custom_fields"),
                signup_method=extras["signup_method"],
                actor=self.actor,
                allowed_list_ids=scope,
            )
        except DjangoValidationError as exc:
            return error(field_errors_of(django_validation_detail(exc, self.request)))
        contact = result.contact
        subscription = result.subscription
        return {
            "index": index,
            "status": "ok",
            "contact": None
            if contact is None
            else {
                "id": contact.pk,
                "uuid": str(contact.uuid),
                "phone_number": contact.phone_number,
                "created": result.contact_created,
                "withheld_fields": list(BULK_WITHHELD_FIELDS) if result.fields_withheld else [],
            },
            "subscription": None
            if subscription is None
            else {
                "sending_list": sending_list.pk,
                "outcome": subscription.outcome.value,
                "reason": subscription.reason,
            },
            "errors": {},
        }
