import re
from functools import cached_property

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.models import Contact
from contacts.selectors import contact_tag_names
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import (
    allowed_list_ids,
    contact_held_outside_scope,
    contact_subscribed_in_scope,
    list_is_allowed,
    scope_contacts,
)
from sendinglists.api.viewsets import ID_PATTERN, IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.choices import UnsubReason
from sendinglists.contacts.api.upserts import api_contact_upsert
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.api.filters import MembershipFilter
from sendinglists.subscriptions.api.serializers import (
    CONTACT_FIELDS_WITHHELD,
    CONTACT_SUBSCRIBED_IN_SCOPE,
    MEMBERSHIP_ROW_FIELDS,
    MembershipSerializer,
    MembershipUpdateSerializer,
    SubscribeResultSerializer,
    SubscribeSerializer,
    UnsubscribeResultSerializer,
    UnsubscribeSerializer,
    memberships_data,
)
from sendinglists.subscriptions.memberships import list_contact_delete, list_contact_update_custom_fields
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import Outcome


def with_contact_fields_withheld(queryset, request):
    """Memberships annotated with what their contact looks like to the request's token: whether its
    personal fields are withheld, and whether it is subscribed to one of the token's lists (its
    seed 001 status). MembershipSerializer and the fast list path read both."""
    return queryset.annotate(
        **{
            CONTACT_FIELDS_WITHHELD: contact_held_outside_scope(request, "contact_id"),
            CONTACT_SUBSCRIBED_IN_SCOPE: contact_subscribed_in_scope(request, "contact_id"),
        }
    )


LIST_ID = OpenApiParameter("list_id", int, OpenApiParameter.PATH, description="The sending list's id.")
CONTACT_ID = OpenApiParameter("contact_id", int, OpenApiParameter.PATH, description="The contact's (v1) id.")


@extend_schema_view(
    list=extend_schema(summary="List a sending list's memberships", parameters=[LIST_ID]),
    retrieve=extend_schema(summary="Get a membership", parameters=[LIST_ID, CONTACT_ID]),
)
class MembershipViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A list's contacts: subscribe, update custom fields, unsubscribe, engagement counters."""

    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    lookup_field = "contact_id"
    lookup_value_regex = ID_PATTERN
    # Each order is backed by an index on (sending_list, field, id): see ListContact.Meta.indexes.
    keyset_orderings = [
        "id",
        "send_count",
        "click_count",
        "conversion_count",
        "revenue_total",
        "last_sent_at",
        "last_clicked_at",
    ]
    keyset_default_ordering = "-id"

    @cached_property
    def list_id(self) -> int:
        """The path's list id; a 404 (without a query) when the token may not see that list."""
        list_id = self.kwargs["list_id"]
        if not re.fullmatch(ID_PATTERN, list_id) or not list_is_allowed(self.request, list_id):
            raise exceptions.NotFound(f"No sending list {list_id}.")
        return int(list_id)

    @cached_property
    def sending_list(self) -> SendingList:
        sending_list = SendingList.objects.filter(pk=self.list_id).first()
        if sending_list is None:
            raise exceptions.NotFound(f"No sending list {self.kwargs['list_id']}.")
        return sending_list

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ListContact.objects.none()
        return with_contact_fields_withheld(
            ListContact.objects.filter(sending_list_id=self.list_id)
            .select_related("contact")
            .prefetch_related("contact__tags"),
            self.request,
        )

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A list outside the token's scope, or missing, is a 404 for every method. A page with rows
        # proves the list exists, so the list page looks the list up only when it is empty.
        if self.action == "list":
            self.list_id  # noqa: B018
        else:
            self.sending_list  # noqa: B018

    def list(self, request, *args, **kwargs):
        try:
            queryset = self.filter_queryset(self.get_queryset())
            # Rows as dicts of exactly the columns shown, and the page's tags in one query: model
            # instances and prefetch machinery cost more CPU than the queries themselves.
            rows = self.paginate_queryset(queryset.prefetch_related(None).values(*MEMBERSHIP_ROW_FIELDS))
        except exceptions.ValidationError:
            self.sending_list  # noqa: B018 - a missing list is a 404 before a bad parameter is a 400
            raise
        if not rows:
            self.sending_list  # noqa: B018 - and so is its empty page
        tags = contact_tag_names(contact_ids=[row["contact_id"] for row in rows])
        return self.get_paginated_response(memberships_data(rows, tags))

    def _membership_data(self, membership_id: int) -> dict:
        return self.get_serializer(self.get_queryset().get(pk=membership_id)).data

    @extend_schema(
        summary="Subscribe a contact",
        description=(
            "Upserts the contact (by phone, any format, or an existing contact_id) and subscribes it with "
            "the given signup method (api, import, journey, inbound or manual; default api; anything else "
            "is a 400): 201 with outcome created; 200 with updated (custom fields merged into an "
            "active membership). An opted-out membership is never reactivated and a blocked contact never "
            "subscribed: 200 with outcome skipped_opted_out / skipped_blocked and the reason. A token "
            "limited to some lists does not change the personal fields of a contact that other lists also "
            "hold: the given values are not applied, and the membership's contact shows them withheld "
            "(`withheld_fields`)."
        ),
        parameters=[LIST_ID, IDEMPOTENCY_PARAMETER],
        request=SubscribeSerializer,
        responses={201: SubscribeResultSerializer, 200: SubscribeResultSerializer},
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = SubscribeSerializer(
            data=request.data, context={"region": self.sending_list.default_region}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "contact_id" in data:
            contact_id = data.pop("contact_id")
            contact = scope_contacts(Contact.objects.all(), request).filter(pk=contact_id).first()
            if contact is None:
                raise serializers.ValidationError({"contact_id": [f"No contact {contact_id}."]})
            phone_number = contact.phone_number
        else:
            phone_number = data.pop("phone_number")
        tags = data.pop("tags", None)
        custom_fields = data.pop("custom_fields", None)
        signup_method = data.pop("signup_method")
        result = api_contact_upsert(
            phone_number=phone_number,
            values=data,
            tags=tags,
            sending_list=self.sending_list,
            custom_fields=custom_fields,
            signup_method=signup_method,
            actor=self.actor,
            allowed_list_ids=allowed_list_ids(request),
        )
        subscription = result.subscription
        membership = subscription.membership if result.contact is not None else None
        body = {
            "outcome": subscription.outcome.value,
            "reason": subscription.reason,
            "membership": self._membership_data(membership.pk) if membership else None,
        }
        created = subscription.outcome == Outcome.CREATED
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Update a membership's custom fields",
        parameters=[LIST_ID, CONTACT_ID],
        request=MembershipUpdateSerializer,
        responses=MembershipSerializer,
    )
    def partial_update(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        list_contact_update_custom_fields(
            membership=membership,
            values=serializer.validated_data["custom_fields"],
            replace=serializer.validated_data["replace"],
        )
        return Response(self._membership_data(membership.pk))

    @extend_schema(
        summary="Remove a membership",
        description="Deletes the membership row. An opt-out stays on record: the number cannot be re-subscribed by an upsert.",
        parameters=[LIST_ID, CONTACT_ID],
        responses={204: None},
    )
    def destroy(self, request, *args, **kwargs):
        list_contact_delete(membership=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Unsubscribe (reason manual)",
        description="Opts the membership out with reason manual; an already unsubscribed membership is left as it is.",
        parameters=[LIST_ID, CONTACT_ID],
        request=UnsubscribeSerializer,
        responses=UnsubscribeResultSerializer,
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def unsubscribe(self, request, *args, **kwargs):
        membership = self.get_object()
        serializer = UnsubscribeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        change = list_contact_opt_out(
            membership=membership,
            reason=UnsubReason.MANUAL,
            actor=self.actor,
            note=serializer.validated_data.get("note", ""),
        )
        return Response(
            {
                "changed": change.changed,
                "reason": change.reason,
                "membership": self._membership_data(membership.pk),
            }
        )
