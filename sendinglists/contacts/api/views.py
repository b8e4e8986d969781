from collections import defaultdict

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.api.serializers import ContactChannelSerializer, channel_numbers_in_form, tag_names
from contacts.models import Contact
from contacts.phones import NumberForm
from contacts.selectors import contact_tag_names
from contacts.services import contact_add_tags, contact_channel_remove, contact_set_tags
from sendinglists.api.errors import error_body
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import (
    allowed_list_ids,
    contact_has_memberships_outside_scope,
    contact_held_outside_scope,
    is_list_scoped,
    phone_channel_refusal,
    refuse_shared_contact,
    scope_contacts,
    scope_lists,
)
from sendinglists.api.viewsets import ID_PATTERN, IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.contacts.api.bulk import ContactBulkMixin, split_contact_fields
from sendinglists.contacts.api.filters import ContactFilter, ContactSearchFilter
from sendinglists.contacts.api.merge import MERGE_V2_SCHEMA, ContactMergeMixin
from sendinglists.contacts.api.serializers import (
    ContactSerializer,
    ContactV2Serializer,
    TagsSerializer,
)
from sendinglists.contacts.api.upserts import api_contact_update, api_contact_upsert
from sendinglists.contacts.numbers import contact_channel_add_checked
from sendinglists.contacts.services import contact_delete
from sendinglists.subscriptions.models import ListContact

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@extend_schema_view(
    list=extend_schema(summary="List contacts", description="Cursor-paginated; filters combine with AND."),
    retrieve=extend_schema(
        summary="Get a contact", description="The contact, its status and the memberships the token may see."
    ),
    partial_update=extend_schema(
        summary="Update a contact", description="Sets exactly the given fields; `tags` replaces the tags."
    ),
    destroy=extend_schema(
        summary="Delete a contact",
        description="Deletes the contact and its memberships; opt-outs stay on record and apply if the number comes back.",
    ),
)
class ContactViewSet(
    ContactBulkMixin,
    ContactMergeMixin,
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    lookup_value_regex = ID_PATTERN
    keyset_orderings = ["id", "created_at", "updated_at"]
    keyset_default_ordering = "-id"
    # How answers write numbers: E.164 with the plus on /contacts/ (the platform's form); seed 001's
    # paths (/contact/, sendinglists.api_urls) route to this same view with NumberForm.DIGITS.
    number_form = NumberForm.E164

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Contact.objects.none()
        return scope_contacts(Contact.objects.all(), self.request).annotate(
            fields_withheld=contact_held_outside_scope(self.request)
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "number_form": self.number_form}

    def _load_tags_and_memberships(self, contacts: list[Contact]) -> list[Contact]:
        """Attach what the serializer shows besides the contact's row: its tag names and the
        memberships the token may see (`scoped_memberships`). Two plain queries for any number of
        contacts; prefetch_related's machinery cost more CPU than the queries on every read."""
        ids = [contact.pk for contact in contacts]
        tags = contact_tag_names(contact_ids=ids)
        memberships = defaultdict(list)
        if ids:
            for membership in scope_lists(
                ListContact.objects.filter(contact_id__in=ids).order_by("sending_list_id"),
                self.request,
                "sending_list_id",
            ):
                memberships[membership.contact_id].append(membership)
        for contact in contacts:
            contact.loaded_tag_names = tags.get(contact.pk, [])
            contact.scoped_memberships = memberships[contact.pk]
        return contacts

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._load_tags_and_memberships(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        contact = self.get_object()
        self._load_tags_and_memberships([contact])
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        summary="Search contacts",
        description=(
            "Contacts whose phone number (any format), email or name (a prefix) matches `q`; the list "
            "filters combine with it (AND). Same answer and cursor pages as listing contacts."
        ),
        responses=ContactSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filterset_class=ContactSearchFilter)
    def search(self, request, *args, **kwargs):
        if not request.query_params.get("q", "").strip():
            raise exceptions.ValidationError({"q": ["Required: a phone number, an email or a name prefix."]})
        return self.list(request, *args, **kwargs)

    def _respond(self, contact_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        contact = self.get_queryset().get(pk=contact_id)
        self._load_tags_and_memberships([contact])
        return Response(self.get_serializer(contact).data, status=status_code)

    @extend_schema(
        summary="Create (or merge into) a contact",
        description=(
            "Creates the contact, or when the phone number is known merges the given values into it "
            "without blanking any (201 created / 200 merged). Tags are added. A token limited to some "
            "lists adds contacts through POST /api/v1/lists/{id}/contacts/ or the bulk upsert instead."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: ContactSerializer, 200: ContactSerializer},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        if is_list_scoped(request):
            raise exceptions.PermissionDenied(
                "This token is limited to some sending lists: add contacts to one of them with "
                "POST /api/v1/lists/{id}/contacts/ or the bulk upsert with sending_list."
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values, extras = split_contact_fields(serializer.validated_data)
        result = api_contact_upsert(
            phone_number=extras["phone_number"],
            values=values,
            tags=extras.get("tags"),
            channels=extras.get("channels"),
            custom_fields=extras.get("custom_fields"),
            actor=self.actor,
        )
        return self._respond(
            result.contact.pk, status.HTTP_201_CREATED if result.contact_created else status.HTTP_200_OK
        )

    def partial_update(self, request, *args, **kwargs):
        contact = self.get_object()
        if not isinstance(request.data, dict) or set(request.data) - {"custom_fields"}:
            # Custom values belong to the token's own memberships; the rest to every list's owner.
            refuse_shared_contact(request, contact)
        serializer = self.get_serializer(contact, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        values, extras = split_contact_fields(serializer.validated_data)
        api_contact_update(
            contact=contact,
            values=values,
            actor=self.actor,
            phone_number=extras.get("phone_number"),
            tags=extras.get("tags"),
            channels=extras.get("channels"),
            custom_fields=extras.get("custom_fields"),
            allowed_list_ids=allowed_list_ids(request),
        )
        return self._respond(contact.pk)

    def destroy(self, request, *args, **kwargs):
        contact = self.get_object()
        if contact_has_memberships_outside_scope(request, contact):
            raise exceptions.PermissionDenied(
                "This contact is also on sending lists this token cannot access; remove it from yours "
                "with DELETE /api/v1/lists/{id}/contacts/{contact_id}/ instead."
            )
        contact_delete(contact=contact)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        summary="A contact's tags",
        description="Empty when the contact's personal fields are withheld from the token (`withheld_fields`).",
        request=None,
        responses=TagsSerializer,
    )
    @extend_schema(
        methods=["POST"],
        summary="Add tags (at most five in all)",
        request=TagsSerializer,
        responses=TagsSerializer,
    )
    @extend_schema(
        methods=["PUT"],
        summary="Replace the tags (at most five)",
        request=TagsSerializer,
        responses=TagsSerializer,
    )
    @action(detail=True, methods=["get", "post", "put"], filterset_class=None, pagination_class=None)
    def tags(self, request, *args, **kwargs):
        contact = self.get_object()
        if request.method == "GET":
            return Response({"tags": [] if contact.fields_withheld else tag_names(contact.tags.all())})
        refuse_shared_contact(request, contact)
        serializer = TagsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = contact_add_tags if request.method == "POST" else contact_set_tags
        tags = change(contact=contact, names=serializer.validated_data["tags"])
        return Response({"tags": tag_names(tags)})


CONTACT_ID_PARAMETER = OpenApiParameter(
    "contactID",
    str,
    OpenApiParameter.PATH,
    description="The contact's UUID (v2 identifier; not the v1 integer id).",
)


@extend_schema_view(
    list=extend_schema(summary="List contacts (v2)"),
    search=extend_schema(summary="Search contacts (v2)", responses=ContactV2Serializer(many=True)),
    retrieve=extend_schema(summary="Get a contact by UUID", parameters=[CONTACT_ID_PARAMETER]),
    partial_update=extend_schema(
        summary="Update a contact by UUID",
        parameters=[CONTACT_ID_PARAMETER],
        description=(
            "Sets exactly the given fields; `tags` replaces the tags; `channels` are added (a phone "
            "channel only by a token with access to every list)."
        ),
    ),
    destroy=extend_schema(summary="Delete a contact by UUID", parameters=[CONTACT_ID_PARAMETER]),
    tags=extend_schema(parameters=[CONTACT_ID_PARAMETER]),
    merge=extend_schema(parameters=[CONTACT_ID_PARAMETER], **MERGE_V2_SCHEMA),
)
class ContactV2ViewSet(ContactViewSet):
    """v2: the contact UUID is the identifier (`contactID`); an integer id on these paths is a 404."""

    serializer_class = ContactV2Serializer
    lookup_field = "uuid"
    lookup_url_kwarg = "contactID"
    lookup_value_regex = UUID_PATTERN
    bulk = None  # the bulk upsert is a v1 endpoint

    def get_queryset(self):
        return super().get_queryset().prefetch_related("channels")

    @extend_schema(
        methods=["GET"],
        summary="A contact's channels",
        description="Empty when the contact's personal fields are withheld from the token (`withheld_fields`).",
        parameters=[CONTACT_ID_PARAMETER],
        responses=ContactChannelSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a channel",
        description=(
            "A phone channel identifies the contact everywhere its number does (inbound STOP and START, "
            "subscriptions of that number on any list), so only a token with access to every list adds "
            "one (403 otherwise); any token that may edit the contact adds an email channel."
        ),
        parameters=[CONTACT_ID_PARAMETER],
        request=ContactChannelSerializer,
        responses={201: ContactChannelSerializer},
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None, pagination_class=None)
    def channels(self, request, *args, **kwargs):
        contact = self.get_object()
        if request.method == "GET":
            channels = [] if contact.fields_withheld else contact.channels.all()
            data = ContactChannelSerializer(channels, many=True).data
            return Response([channel_numbers_in_form(channel, self.number_form) for channel in data])
        refuse_shared_contact(request, contact)
        serializer = ContactChannelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        kind = serializer.validated_data["kind"]
        if refusal := phone_channel_refusal(kind=kind, list_ids=allowed_list_ids(request)):
            raise exceptions.PermissionDenied(refusal)
        channel = contact_channel_add_checked(
            contact=contact,
            kind=kind,
            value=serializer.validated_data["value"],
            actor=self.actor,
        )
        data = channel_numbers_in_form(ContactChannelSerializer(channel).data, self.number_form)
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Remove a channel",
        parameters=[CONTACT_ID_PARAMETER, OpenApiParameter("channel_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={204: None},
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=rf"channels/(?P<channel_id>{ID_PATTERN})",
        filterset_class=None,
        pagination_class=None,
    )
    def channel_remove(self, request, channel_id=None, *args, **kwargs):
        contact = self.get_object()
        refuse_shared_contact(request, contact)
        if not contact_channel_remove(contact=contact, channel_id=int(channel_id)):
            raise exceptions.NotFound(f"The contact has no channel {channel_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@csrf_exempt
def v2_integer_id_not_found(request, contact_id):
    """A v1 integer id on a v2 contact path: a 404 that says which identifier the path takes."""
    message = (
        f"No contact {contact_id} on v2: v2 contact paths take the contact's UUID (contactID). "
        f"The integer id is v1's: /api/v1/contact/{contact_id}."
    )
    return JsonResponse(error_body("not_found", message), status=404)
