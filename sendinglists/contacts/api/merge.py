"""The API of merging contacts: `POST contacts/{id}/merge` and `GET contacts/duplicates`, on v1
(integer ids) and v2 (UUIDs), as a mixin of the contact viewsets. The rule is the service's
(`sendinglists/contacts/merge.py`); this adds the token's scope: a list-scoped token merges nothing
(the duplicate's number becomes a phone channel, which only a token with access to every list adds)
and sees only the pairs of duplicates wholly inside its lists, to have them merged."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.api.strict import StrictKeysMixin
from contacts.duplicates import DEFAULT_PAIRS, InvalidDuplicatesCursor, possible_duplicates_page
from contacts.models import Contact
from contacts.phones import number_in_form
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import (
    allowed_list_ids,
    contact_is_held_outside,
    is_list_scoped,
    scope_contacts,
)
from sendinglists.api.viewsets import IDEMPOTENCY_PARAMETER, MAX_ID
from sendinglists.contacts.api.serializers import ContactSerializer, ContactV2Serializer
from sendinglists.contacts.merge import MergeResult, contact_merge_record, contacts_merge

OUT_OF_SCOPE = (
    "A token limited to some sending lists cannot merge contacts: the duplicate's number becomes a "
    "phone channel of the survivor, which identifies it on every list (another list's subscription "
    "or START of that number would reach it). A token with access to every list can merge them."
)


class MergeRequestSerializer(StrictKeysMixin, serializers.Serializer):
    duplicate = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The contact merged into this one, then deleted (v1 id)."
    )


class MergeRequestV2Serializer(StrictKeysMixin, serializers.Serializer):
    duplicate = serializers.UUIDField(help_text="The contact merged into this one, then deleted (v2 id).")


class MergedDuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    phone_number = serializers.CharField(help_text="Now one of the survivor's phone channels.")


def _merge_response(name: str, contact_serializer):
    return type(
        name,
        (serializers.Serializer,),
        {
            "contact": contact_serializer(help_text="The survivor, after the merge."),
            "duplicate": MergedDuplicateSerializer(help_text="The merged contact, which no longer exists."),
            "dropped_tags": serializers.ListField(
                child=serializers.CharField(), help_text="The duplicate's tags over the limit of five."
            ),
        },
    )


MergeResponseSerializer = _merge_response("MergeResponseSerializer", ContactSerializer)
MergeV2ResponseSerializer = _merge_response("MergeV2ResponseSerializer", ContactV2Serializer)


class DuplicatePairSerializer(serializers.Serializer):
    contact = serializers.CharField(help_text="The suggested survivor's id (a UUID on v2).")
    duplicate = serializers.CharField(help_text="The contact to merge into it (a UUID on v2).")
    reason = serializers.ChoiceField(
        choices=["email", "channel"],
        help_text=(
            "`email`: both contacts have this email (case-insensitively). `channel`: the first contact "
            "holds the second's email as an email channel. (Phone numbers never overlap: a number "
            "is one contact's.)"
        ),
    )
    value = serializers.CharField(help_text="The shared email, lower-cased.")


class DuplicatesSerializer(serializers.Serializer):
    results = DuplicatePairSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The cursor of the next page, or null.")


MERGE_DESCRIPTION = (
    "Merges the `duplicate` into this contact (the survivor) and deletes it, atomically. On each list "
    "the two memberships become one: opted out if either was, or if either number stands opted out "
    "there (nothing is reactivated); counters added up; the survivor's custom field values kept, the "
    "duplicate's filling the gaps. A block on either side blocks the survivor. Tags up to five "
    "(`dropped_tags` names the rest); messages, clicks, conversions and history move to the "
    "survivor; the duplicate's number becomes a phone channel of it; a MERGED event naming the token "
    "is recorded on each list. A retry once the duplicate is gone answers the same result. A token "
    "limited to some lists may not merge (403): the duplicate's number becomes a phone channel, which "
    "only a token with access to every list adds."
)
DUPLICATES_DESCRIPTION = (
    "Pairs of contacts that look like one person: the same email (case-insensitively), or one's email "
    "channel is the other's email. (A phone number cannot be two contacts': adding one another contact "
    "holds is refused.) Each page reads a bounded part of the contacts: a page may hold "
    "fewer pairs than `limit` while `next` is not null. A token limited to some lists sees only pairs "
    "of contacts wholly inside its lists (a token with access to every list merges them)."
)


# `merge` and `duplicates` for ContactViewSet (v1) and ContactV2ViewSet (v2). (No docstring: the
# schema would take it as the description of every operation of the viewsets.)
class ContactMergeMixin:
    @property
    def _is_v2(self) -> bool:
        return self.lookup_field == "uuid"

    def _contact_ref(self, contact_id: int, contact_uuid) -> int | str:
        return str(contact_uuid) if self._is_v2 else contact_id

    @extend_schema(
        summary="Merge a duplicate into this contact",
        description=MERGE_DESCRIPTION,
        parameters=[IDEMPOTENCY_PARAMETER],
        request=MergeRequestSerializer,
        responses=MergeResponseSerializer,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    @idempotent
    def merge(self, request, *args, **kwargs):
        survivor = self.get_object()
        if is_list_scoped(request):
            raise exceptions.PermissionDenied(OUT_OF_SCOPE)
        serializer = (MergeRequestV2Serializer if self._is_v2 else MergeRequestSerializer)(data=request.data)
        serializer.is_valid(raise_exception=True)
        reference = serializer.validated_data["duplicate"]
        lookup = {"uuid": reference} if self._is_v2 else {"pk": reference}
        duplicate = Contact.objects.filter(**lookup).first()
        if duplicate is None:
            record = contact_merge_record(
                survivor_id=survivor.pk,
                duplicate_id=None if self._is_v2 else reference,
                duplicate_uuid=reference if self._is_v2 else None,
            )
            if record is not None:  # merged already: a retry answers what the merge answered
                return self._merge_answer(MergeResult.of(record, already_merged=True))
            raise exceptions.ValidationError({"duplicate": [f"No contact {reference}."]})
        try:
            result = contacts_merge(survivor=survivor, duplicate_id=duplicate.pk, actor=self.actor)
        except Contact.DoesNotExist:  # a concurrent merge took one of them
            raise exceptions.NotFound() from None
        return self._merge_answer(result)

    def _merge_answer(self, result: MergeResult) -> Response:
        contact = self.get_queryset().get(pk=result.survivor.pk)
        self._load_tags_and_memberships([contact])
        return Response(
            {
                "contact": self.get_serializer(contact).data,
                "duplicate": {
                    "id": result.duplicate_id,
                    "uuid": result.duplicate_uuid,
                    "phone_number": number_in_form(result.duplicate_phone_number, self.number_form),
                },
                "dropped_tags": result.dropped_tags,
            }
        )

    @extend_schema(
        summary="Possible duplicates",
        description=DUPLICATES_DESCRIPTION,
        parameters=[
            OpenApiParameter("cursor", str, description="`next` of the previous page."),
            OpenApiParameter(
                "limit", int, description=f"Pairs per page, 1 to 100 (default {DEFAULT_PAIRS})."
            ),
        ],
        request=None,
        responses=DuplicatesSerializer,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def duplicates(self, request, *args, **kwargs):
        try:
            limit = int(request.query_params.get("limit", DEFAULT_PAIRS))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise exceptions.ValidationError({"limit": ["A whole number from 1 to 100."]})
        try:
            page = possible_duplicates_page(after=request.query_params.get("cursor"), limit=limit)
        except InvalidDuplicatesCursor as exc:
            raise exceptions.ValidationError({"cursor": [str(exc)]}) from None
        pairs = page.pairs
        if is_list_scoped(request):
            list_ids = allowed_list_ids(request)
            visible = set(
                scope_contacts(
                    Contact.objects.filter(pk__in={c.pk for p in pairs for c in (p.contact, p.duplicate)}),
                    request,
                ).values_list("pk", flat=True)
            )
            pairs = [
                pair
                for pair in pairs
                if {pair.contact.pk, pair.duplicate.pk} <= visible
                and not contact_is_held_outside(contact_id=pair.contact.pk, list_ids=list_ids)
                and not contact_is_held_outside(contact_id=pair.duplicate.pk, list_ids=list_ids)
            ]
        return Response(
            {
                "results": [
                    {
                        "contact": self._contact_ref(pair.contact.pk, pair.contact.uuid),
                        "duplicate": self._contact_ref(pair.duplicate.pk, pair.duplicate.uuid),
                        "reason": pair.reason,
                        "value": pair.value,
                    }
                    for pair in pairs
                ],
                "next": page.next_cursor,
            }
        )


# The v2 viewset's schema of `merge`: UUIDs in the request and the answer.
MERGE_V2_SCHEMA = {
    "summary": "Merge a duplicate into this contact (v2)",
    "description": MERGE_DESCRIPTION,
    "request": MergeRequestV2Serializer,
    "responses": MergeV2ResponseSerializer,
}
