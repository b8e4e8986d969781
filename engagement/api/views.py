"""Event ingestion: record a send, a click, a conversion; set or clear in_workflow.

Each endpoint acts on one membership (`/lists/{list_id}/contacts/{contact_id}/…`) and calls one
engagement service; the response carries the membership with its updated counters.
"""

from functools import cached_property

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.response import Response

from engagement.api.serializers import (
    RecordClickResultSerializer,
    RecordClickSerializer,
    RecordConversionResultSerializer,
    RecordConversionSerializer,
    RecordSendResultSerializer,
    RecordSendSerializer,
    WorkflowResultSerializer,
    WorkflowSerializer,
)
from engagement.services import (
    list_contact_record_click,
    list_contact_record_conversion,
    list_contact_record_send,
    list_contact_set_in_workflow,
)
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import allowed_list_ids, list_is_allowed
from sendinglists.api.viewsets import IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.models import ListContact
from sendinglists.subscriptions.api.serializers import MembershipSerializer
from sendinglists.subscriptions.api.views import with_contact_fields_withheld

PATH_PARAMETERS = [
    OpenApiParameter("list_id", int, OpenApiParameter.PATH, description="The sending list's id."),
    OpenApiParameter("contact_id", int, OpenApiParameter.PATH, description="The contact's (v1) id."),
]
TAGS = ["engagement events (v1)"]
MAX_ID = 2**63 - 1  # a 64-bit primary key; anything larger names nothing


class MembershipEventView(ApiViewSetMixin, generics.GenericAPIView):
    pagination_class = None
    filter_backends: list = []

    @cached_property
    def membership(self) -> ListContact:
        list_id, contact_id = int(self.kwargs["list_id"]), int(self.kwargs["contact_id"])
        membership = None
        if max(list_id, contact_id) <= MAX_ID and list_is_allowed(self.request, list_id):
            membership = ListContact.objects.filter(sending_list_id=list_id, contact_id=contact_id).first()
        if membership is None:
            raise exceptions.NotFound(f"Contact {contact_id} is not a member of sending list {list_id}.")
        return membership

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.membership  # noqa: B018 - an unknown or out-of-scope membership is a 404 before any work

    def membership_data(self) -> dict:
        # A list-scoped token sees a shared contact's personal fields withheld, as everywhere else.
        membership = (
            with_contact_fields_withheld(ListContact.objects.select_related("contact"), self.request)
            .prefetch_related("contact__tags")
            .get(pk=self.membership.pk)
        )
        return MembershipSerializer(membership).data

    def validated(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class RecordSendView(MembershipEventView):
    serializer_class = RecordSendSerializer

    @extend_schema(
        summary="Record a message sent to a member",
        description=(
            "For messages sent by another system: stores the outbound message and adds to send_count and "
            "last_sent_at. A retry with the same provider_message_id returns 200 with created false."
        ),
        tags=TAGS,
        parameters=[*PATH_PARAMETERS, IDEMPOTENCY_PARAMETER],
        request=RecordSendSerializer,
        responses={201: RecordSendResultSerializer, 200: RecordSendResultSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        data = self.validated(RecordSendSerializer)
        provider_message_id = data.get("provider_message_id", "").strip()
        result = list_contact_record_send(
            membership=self.membership,
            body=data.get("body", ""),
            provider_message_id=provider_message_id,
            sent_at=data.get("sent_at"),
            visible_list_ids=allowed_list_ids(request),
        )
        message = RecordSendResultSerializer().fields["message"].to_representation(result.message)
        # An id another list's message holds is not stored with this one; answered as given, exactly
        # like an unknown id, so that a list-scoped token cannot tell that it exists.
        message["provider_message_id"] = provider_message_id or None
        body = {"created": result.created, "message": message, "membership": self.membership_data()}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class RecordClickView(MembershipEventView):
    serializer_class = RecordClickSerializer

    @extend_schema(
        summary="Record a link click",
        description="Stores the click and adds to click_count and last_clicked_at in one transaction.",
        tags=TAGS,
        parameters=[*PATH_PARAMETERS, IDEMPOTENCY_PARAMETER],
        request=RecordClickSerializer,
        responses={201: RecordClickResultSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        data = self.validated(RecordClickSerializer)
        click = list_contact_record_click(
            membership=self.membership,
            url=data["url"],
            clicked_at=data.get("clicked_at"),
            provider_message_id=data.get("provider_message_id") or None,
        )
        body = {
            "click": RecordClickResultSerializer().fields["click"].to_representation(click),
            "membership": self.membership_data(),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class RecordConversionView(MembershipEventView):
    serializer_class = RecordConversionSerializer

    @extend_schema(
        summary="Record a conversion",
        description=(
            "Stores the conversion and adds to conversion_count, revenue_total and last_revenue_at. The "
            "order id is unique per sending list: a retry returns 200 with created false and counts nothing; "
            "the same order id for another contact of the list is a 400."
        ),
        tags=TAGS,
        parameters=[*PATH_PARAMETERS, IDEMPOTENCY_PARAMETER],
        request=RecordConversionSerializer,
        responses={201: RecordConversionResultSerializer, 200: RecordConversionResultSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        data = self.validated(RecordConversionSerializer)
        result = list_contact_record_conversion(
            membership=self.membership,
            order_id=data["order_id"],
            revenue=data["revenue"],
            converted_at=data.get("converted_at"),
            provider_message_id=data.get("provider_message_id") or None,
        )
        body = {
            "created": result.created,
            "conversion": RecordConversionResultSerializer()
            .fields["conversion"]
            .to_representation(result.conversion),
            "membership": self.membership_data(),
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class WorkflowView(MembershipEventView):
    serializer_class = WorkflowSerializer

    @extend_schema(
        summary="Set or clear in_workflow",
        description="Marks the member as in (or out of) an active journey. An unsubscribed member cannot enter one (400).",
        tags=TAGS,
        parameters=PATH_PARAMETERS,
        request=WorkflowSerializer,
        responses={200: WorkflowResultSerializer},
    )
    def put(self, request, *args, **kwargs):
        data = self.validated(WorkflowSerializer)
        changed = list_contact_set_in_workflow(membership=self.membership, in_workflow=data["in_workflow"])
        return Response({"changed": changed, "membership": self.membership_data()})
