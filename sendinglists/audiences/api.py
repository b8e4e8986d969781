"""Audiences through the API, on the API framework in sendinglists.api (token auth and list scoping,
the one error shape, keyset pagination):

    /api/v1/lists/<id>/audiences/                 list, create (name + rules or query)
    /api/v1/lists/<id>/audiences/<aid>/           read, update, delete
    /api/v1/lists/<id>/audiences/<aid>/count      {"id", "count"}
    /api/v1/lists/<id>/audiences/<aid>/contacts/  the members, as the list's contacts endpoint shows them
    /api/v1/lists/<id>/contacts/?q=<query>        the list's contacts filtered by a text query

A bad rule or query is a 400 whose field error names the rule and the position in the query.
"""

from functools import cached_property

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.api.strict import StrictKeysMixin
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import (
    WITHHELD_RULE_FIELDS,
    is_list_scoped,
    scope_lists,
    without_withheld_contacts,
)
from sendinglists.api.viewsets import IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.audiences.models import Audience
from sendinglists.audiences.services import (
    audience_create,
    audience_delete,
    audience_segment,
    audience_update,
    segment_build,
    segment_count,
)
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.api.serializers import MembershipSerializer
from sendinglists.subscriptions.api.views import LIST_ID, MembershipViewSet, with_contact_fields_withheld
from sendinglists.subscriptions.models import ListContact

AUDIENCE_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The audience's id.")
QUERY_PARAMETER = OpenApiParameter(
    "q",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description=(
        'An audience text query, e.g. `status = active AND clicked_within = 30d AND (state = "CA" OR '
        "revenue >= 50)`. A syntax error is a 400 naming its position."
    ),
)

MEMBERS_PAGE = inline_serializer(
    "PaginatedAudienceMemberList",
    {
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": MembershipSerializer(many=True),
    },
)

RULES_HELP = (
    'Rules as JSON: {"group": "and"|"or", "rules": [{"field", "operator", "value"} or groups]}. Send either '
    "`rules` or `query`; the response carries both, in canonical form."
)


class AudienceSerializer(StrictKeysMixin, serializers.ModelSerializer):
    """A saved segment of a sending list, as rules and as the equivalent text query."""

    rules = serializers.JSONField(required=False, help_text=RULES_HELP)
    query = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        trim_whitespace=False,
        help_text="The rules as text.",
    )

    class Meta:
        model = Audience
        fields = ["id", "sending_list", "name", "query", "rules", "created_at", "updated_at"]
        read_only_fields = ["id", "sending_list", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 200}}
        validators: list = []  # uniqueness is the service's to decide and word


class AudienceUpdateSerializer(AudienceSerializer):
    class Meta(AudienceSerializer.Meta):
        extra_kwargs = {"name": {"max_length": 200, "required": False}}


def _service_call(function, **kwargs):
    """Run a service, turning its `rules`/`query`/`name` ValidationError into the API's 400."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from None


@extend_schema_view(
    list=extend_schema(summary="List a sending list's audiences", parameters=[LIST_ID]),
    retrieve=extend_schema(summary="Get an audience", parameters=[LIST_ID, AUDIENCE_ID]),
    destroy=extend_schema(
        summary="Delete an audience (its members stay on the list)", parameters=[LIST_ID, AUDIENCE_ID]
    ),
)
class AudienceViewSet(
    ApiViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Saved segments of one sending list: rules on status, signup, tags, contact fields, custom
    fields and engagement, combined with AND/OR groups."""

    serializer_class = AudienceSerializer
    lookup_value_regex = r"[0-9]+"
    keyset_default_ordering = "-id"

    @property
    def keyset_orderings(self) -> list[str]:
        # The members of an audience page like the list's contacts; audiences page by id.
        return MembershipViewSet.keyset_orderings if self.action == "contacts" else ["id"]

    @cached_property
    def sending_list(self) -> SendingList:
        list_id = self.kwargs["list_id"]
        sending_list = scope_lists(SendingList.objects.all(), self.request).filter(pk=list_id).first()
        if sending_list is None:
            raise exceptions.NotFound(f"No sending list {list_id}.")
        return sending_list

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.sending_list  # noqa: B018 - a list outside the token's scope is a 404 for every method

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Audience.objects.none()
        return Audience.objects.filter(sending_list=self.sending_list).select_related("sending_list")

    @extend_schema(
        summary="Create an audience",
        parameters=[LIST_ID, IDEMPOTENCY_PARAMETER],
        request=AudienceSerializer,
        responses={201: AudienceSerializer},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = AudienceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        audience = _service_call(
            audience_create,
            sending_list=self.sending_list,
            name=data["name"],
            rules=data.get("rules"),
            query=data.get("query"),
        )
        return Response(AudienceSerializer(audience).data, status=status.HTTP_201_CREATED)

    def _update(self, request, *, partial: bool):
        audience = self.get_object()
        serializer = AudienceUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not partial and "rules" not in data and "query" not in data:
            raise exceptions.ValidationError({"rules": ["Send the audience's rules (or its query)."]})
        audience = _service_call(
            audience_update,
            audience=audience,
            name=data.get("name"),
            rules=data.get("rules"),
            query=data.get("query"),
        )
        return Response(AudienceSerializer(audience).data)

    @extend_schema(
        summary="Replace an audience's rules (and name)",
        parameters=[LIST_ID, AUDIENCE_ID],
        request=AudienceUpdateSerializer,
        responses=AudienceSerializer,
    )
    def update(self, request, *args, **kwargs):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Change an audience's name or rules",
        parameters=[LIST_ID, AUDIENCE_ID],
        request=AudienceUpdateSerializer,
        responses=AudienceSerializer,
    )
    def partial_update(self, request, *args, **kwargs):
        return self._update(request, partial=True)

    def perform_destroy(self, instance):
        audience_delete(audience=instance)

    def _segment(self):
        return _service_call(audience_segment, audience=self.get_object())

    def _tests_withheld_fields(self, segment) -> bool:
        """Whether the segment tests contact fields a list-scoped token may not see on a contact that
        other lists hold: those contacts then never match, or counts would reveal the values."""
        return is_list_scoped(self.request) and bool(segment.fields() & WITHHELD_RULE_FIELDS)

    @extend_schema(
        summary="Count an audience's members",
        parameters=[LIST_ID, AUDIENCE_ID],
        responses=inline_serializer(
            "AudienceCount", {"id": serializers.IntegerField(), "count": serializers.IntegerField()}
        ),
    )
    @action(detail=True, methods=["get"], url_path="count")
    def count(self, request, *args, **kwargs):
        segment = self._segment()
        if self._tests_withheld_fields(segment):
            count = without_withheld_contacts(segment.queryset(), request, "contact_id").count()
        else:
            count = segment_count(segment=segment)
        return Response({"id": int(self.kwargs["pk"]), "count": count})

    @extend_schema(
        summary="List an audience's members",
        description="The memberships that match the audience, in the list contacts endpoint's shape and orders.",
        parameters=[LIST_ID, AUDIENCE_ID],
        responses=MEMBERS_PAGE,
    )
    @action(detail=True, methods=["get"], url_path="contacts")
    def contacts(self, request, *args, **kwargs):
        segment = self._segment()
        members = segment.apply(
            ListContact.objects.filter(sending_list=self.sending_list)
            .select_related("contact")
            .prefetch_related("contact__tags")
        )
        if self._tests_withheld_fields(segment):
            members = without_withheld_contacts(members, request, "contact_id")
        memberships = with_contact_fields_withheld(members, request)
        page = self.paginate_queryset(memberships)
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(
        summary="List a sending list's memberships",
        parameters=[LIST_ID, QUERY_PARAMETER],
    ),
)
class MembershipQueryViewSet(MembershipViewSet):
    """The list's contacts endpoint, plus `q`: the audience text query as an ad-hoc filter."""

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        query = self.request.query_params.get("q")
        if query is None or self.action != "list":
            return queryset
        try:
            segment = segment_build(sending_list=self.sending_list, query=query)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"q": exc.messages}) from None
        if is_list_scoped(self.request) and segment.fields() & WITHHELD_RULE_FIELDS:
            queryset = without_withheld_contacts(queryset, self.request, "contact_id")
        return segment.apply(queryset)
