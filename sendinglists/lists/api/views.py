import re
from functools import cached_property

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from contacts.api.strict import StrictKeysMixin
from contacts.services import region_or_error
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import list_is_allowed, scope_lists
from sendinglists.api.viewsets import ID_PATTERN, IDEMPOTENCY_PARAMETER, MAX_ID, ApiViewSetMixin
from sendinglists.lists.api.filters import CustomFieldFilter
from sendinglists.lists.api.serializers import CustomFieldSerializer, SendingListSerializer
from sendinglists.lists.models import CustomField, SendingList
from sendinglists.lists.services import custom_field_create, sending_list_create
from sendinglists.subscriptions.selectors import list_member_counts

LIST_ID = OpenApiParameter("list_id", int, OpenApiParameter.PATH, description="The sending list's id.")


class SendingListCreateSerializer(SendingListSerializer):
    phone_number = serializers.CharField(
        max_length=64, help_text="The sender number, any format (national numbers in default_region)."
    )

    def validate_default_region(self, value: str) -> str:
        try:
            return region_or_error(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["region"]) from None


@extend_schema_view(
    list=extend_schema(summary="List sending lists"),
    retrieve=extend_schema(summary="Get a sending list"),
)
class SendingListViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = SendingListSerializer
    lookup_value_regex = ID_PATTERN
    keyset_orderings = ["id", "name"]
    keyset_default_ordering = "id"
    unscoped_writes_only = True

    def get_queryset(self):
        return scope_lists(SendingList.objects.all(), self.request)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "counts": getattr(self, "_counts", {})}

    def _with_counts(self, lists) -> None:
        self._counts = list_member_counts(sending_list_ids=[sending_list.pk for sending_list in lists])

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._with_counts(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        sending_list = self.get_object()
        self._with_counts([sending_list])
        return Response(self.get_serializer(sending_list).data)

    @extend_schema(
        summary="Create a sending list",
        request=SendingListCreateSerializer,
        responses={201: SendingListSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = SendingListCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sending_list = sending_list_create(**serializer.validated_data)
        self._with_counts([sending_list])
        return Response(self.get_serializer(sending_list).data, status=status.HTTP_201_CREATED)


CONTACT_FIELDS_DESCRIPTION = (
    "Seed 001's contact-fields: the id and key of every custom field on the sending lists this token "
    "can see (a list-scoped token: only its lists' fields). Custom values are given keyed by field id "
    "or key. Fields are created under their list: POST /api/v1/lists/{list_id}/contact-fields."
)


class ContactFieldsQuerySerializer(StrictKeysMixin, serializers.Serializer):
    """POST /contact-fields' optional body: the same filter as GET's query."""

    sending_list = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only the fields of this sending list."
    )


@extend_schema_view(
    list=extend_schema(summary="List custom fields", description=CONTACT_FIELDS_DESCRIPTION),
    retrieve=extend_schema(summary="Get a custom field"),
)
class CustomFieldViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Custom fields of the token's sending lists. Values are accepted keyed by `key` or by `id`.

    POST retrieves them (seed 001: "To retrieve the custom field IDs defined for your team, call
    POST /v1/contact-fields"); it changes nothing, so a read-only token may call it too."""

    serializer_class = CustomFieldSerializer
    filterset_class = CustomFieldFilter
    lookup_value_regex = ID_PATTERN
    keyset_orderings = ["id"]
    keyset_default_ordering = "id"
    read_only_actions = ("create",)

    def get_queryset(self):
        return scope_lists(CustomField.objects.all(), self.request, "sending_list_id")

    @extend_schema(
        summary="Retrieve the custom field ids and keys (seed 001)",
        description=CONTACT_FIELDS_DESCRIPTION
        + " Answers like GET (cursor pages: `cursor` in the query); the body may name a sending_list.",
        request=ContactFieldsQuerySerializer,
        responses={200: CustomFieldSerializer(many=True)},
    )
    def create(self, request, *args, **kwargs):
        query = ContactFieldsQuerySerializer(data=request.data or {})
        query.is_valid(raise_exception=True)
        queryset = self.filter_queryset(self.get_queryset())
        if "sending_list" in query.validated_data:
            queryset = queryset.filter(sending_list_id=query.validated_data["sending_list"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List a sending list's custom fields", parameters=[LIST_ID]),
)
class ListCustomFieldViewSet(ApiViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """A sending list's custom fields: where a field is created."""

    serializer_class = CustomFieldSerializer
    keyset_orderings = ["id"]
    keyset_default_ordering = "id"

    @cached_property
    def sending_list(self) -> SendingList:
        list_id = self.kwargs["list_id"]
        sending_list = None
        if re.fullmatch(ID_PATTERN, list_id) and list_is_allowed(self.request, list_id):
            sending_list = SendingList.objects.filter(pk=int(list_id)).first()
        if sending_list is None:
            raise exceptions.NotFound(f"No sending list {list_id}.")
        return sending_list

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.sending_list  # noqa: B018 - an unknown or out-of-scope list is a 404 for every method

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CustomField.objects.none()
        return CustomField.objects.filter(sending_list=self.sending_list)

    @extend_schema(
        summary="Create a custom field",
        description="Returns the field with its id and key; values are then given keyed by either.",
        parameters=[LIST_ID, IDEMPOTENCY_PARAMETER],
        responses={201: CustomFieldSerializer},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        field = custom_field_create(
            sending_list=self.sending_list,
            key=data["key"],
            label=data.get("label", ""),
            field_type=data.get("field_type", "text"),
            choices=data.get("choices"),
        )
        return Response(self.get_serializer(field).data, status=status.HTTP_201_CREATED)
