from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter
from rest_framework.parsers import FormParser, MultiPartParser

from sendinglists.actors import Actor
from sendinglists.api.authentication import TokenAuthentication
from sendinglists.api.dbtimestamps import c_timestamp_loading
from sendinglists.api.errors import error_body
from sendinglists.api.idempotency import HEADER, KEY_TTL
from sendinglists.api.pagination import KeysetPagination
from sendinglists.api.parsers import StrictJSONParser
from sendinglists.api.permissions import HasApiToken
from sendinglists.api.schema import ApiAutoSchema
from sendinglists.api.throttling import ApiTokenRateThrottle

# Integer ids in paths: at most 18 digits, so every one fits a 64-bit column (a longer one is a 404,
# not a database overflow).
ID_PATTERN = r"[0-9]{1,18}"
MAX_ID = 2**63 - 1

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string (a UUID). A retry with the same key and body returns the first response "
        f"(header Idempotent-Replayed: true) instead of acting twice; keys are kept for {KEY_TTL}."
    ),
)


class ApiViewSetMixin:
    """Token authentication, per-token throttling, keyset pagination and filters for every endpoint."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [HasApiToken]
    throttle_classes = [ApiTokenRateThrottle]
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    parser_classes = [StrictJSONParser, FormParser, MultiPartParser]
    schema = ApiAutoSchema()

    def dispatch(self, request, *args, **kwargs):
        with c_timestamp_loading():
            return super().dispatch(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        # django-filter deep-copies its filters and validates a form on every request; when the
        # query names none of them that changes nothing, so it is skipped (most reads).
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            params = self.request.query_params
            if not any(name in params for name in filterset_class.base_filters):
                return queryset
        return super().filter_queryset(queryset)

    @property
    def actor(self) -> Actor:
        return Actor.for_token(self.request.auth)


@csrf_exempt  # a POST to an unknown path is a JSON 404, not a CSRF page (the API has no sessions)
def api_not_found(request, *args, **kwargs):
    """Unknown API paths (an integer on a v2 path included) get the JSON error shape, not a page."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}."), status=404)
