from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from contacts.services import region_or_error
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import scope_lists
from sendinglists.api.viewsets import ID_PATTERN, IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.lists.api.filters import CustomFieldFilter
from sendinglists.lists.api.serializers import CustomFieldSerializer, SendingListSerializer
from sendinglists.lists.models import CustomField, SendingList
from sendinglists.lists.services import custom_field_create, sending_list_create
from sendinglists.subscriptions.selectors import list_member_counts


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


@extend_schema_view(
    list=extend_schema(summary="List custom fields", description="Seed 001's contact-fields: ids and keys."),
    retrieve=extend_schema(summary="Get a custom field"),
)
class CustomFieldViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Custom fields per sending list. Values are accepted keyed by `key` or by `id`."""

    serializer_class = CustomFieldSerializer
    filterset_class = CustomFieldFilter
    lookup_value_regex = ID_PATTERN
    keyset_orderings = ["id"]
    keyset_default_ordering = "id"

    def get_queryset(self):
        return scope_lists(CustomField.objects.all(), self.request, "sending_list_id")

    def get_serializer_context(self):
        return {
            **super().get_serializer_context(),
            "sending_lists": scope_lists(SendingList.objects.all(), self.request),
        }

    @extend_schema(
        summary="Create a custom field",
        description="Returns the field with its id and key (seed 001: POST /v1/contact-fields).",
        responses={201: CustomFieldSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        field = custom_field_create(
            sending_list=data["sending_list"],
            key=data["key"],
            label=data.get("label", ""),
            field_type=data.get("field_type", "text"),
            choices=data.get("choices"),
        )
        return Response(self.get_serializer(field).data, status=status.HTTP_201_CREATED)
