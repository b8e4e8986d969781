from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.api.strict import NoBodySerializer
from sendinglists.api.idempotency import idempotent
from sendinglists.api.permissions import scope_lists
from sendinglists.api.viewsets import ID_PATTERN, IDEMPOTENCY_PARAMETER, ApiViewSetMixin
from sendinglists.choices import ImportMode
from sendinglists.imports.api.serializers import (
    ImportCreateSerializer,
    ImportJobSerializer,
    ImportStartSerializer,
)
from sendinglists.imports.models import ImportJob
from sendinglists.imports.running import import_cancel
from sendinglists.imports.selectors import import_error_report_lines
from sendinglists.imports.services import (
    consent_attestation_clean,
    import_create,
    import_discard,
    import_start,
)
from sendinglists.lists.models import SendingList


@extend_schema_view(
    list=extend_schema(summary="List imports"),
    retrieve=extend_schema(summary="An import's status and counts"),
)
class ImportViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """CSV imports into a sending list (the same service as the Import page and `import_contacts`)."""

    serializer_class = ImportJobSerializer
    lookup_value_regex = ID_PATTERN
    keyset_orderings = ["id"]
    keyset_default_ordering = "-id"
    filterset_fields = ["sending_list", "status"]

    def get_queryset(self):
        return scope_lists(ImportJob.objects.all(), self.request, "sending_list_id")

    def _job_data(self, job_id: int) -> dict:
        return self.get_serializer(ImportJob.objects.get(pk=job_id)).data

    @extend_schema(
        summary="Upload a CSV",
        description=(
            "Stores and inspects the file (encoding, delimiter, header, rows) and, unless start is false, "
            "starts the import with the given mapping (or the guessed one). Poll the import for status and "
            "counts. An opted-out membership is never reactivated by an import."
        ),
        request={"multipart/form-data": ImportCreateSerializer},
        responses={201: ImportJobSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = ImportCreateSerializer(
            data=request.data,
            context={"sending_lists": scope_lists(SendingList.objects.all(), request)},
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["start"] and data["mode"] == ImportMode.SUBSCRIBE:
            # Refused before the upload is stored: a refused request leaves nothing behind.
            consent_attestation_clean(data.get("consent_attestation"), sending_list=data["sending_list"])
        job = import_create(
            sending_list=data["sending_list"],
            uploaded_file=data["file"],
            actor=self.actor,
            mapping=data.get("mapping"),
            region=data.get("region", ""),
            has_header=data["has_header"],
            filename=data["file"].name,
            mode=data["mode"],
        )
        if data["start"]:
            try:
                job = import_start(
                    job=job, actor=self.actor, consent_attestation=data.get("consent_attestation")
                )
            except ValidationError:
                import_discard(job=job)  # a refused upload leaves no job and no file
                raise
        return Response(self._job_data(job.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Start a waiting import", request=ImportStartSerializer, responses=ImportJobSerializer
    )
    @action(detail=True, methods=["post"], filterset_fields=None, pagination_class=None)
    def start(self, request, *args, **kwargs):
        job = self.get_object()
        serializer = ImportStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        import_start(
            job=job,
            mapping=serializer.validated_data.get("mapping"),
            has_header=serializer.validated_data["has_header"],
            actor=self.actor,
            consent_attestation=serializer.validated_data.get("consent_attestation"),
        )
        return Response(self._job_data(job.pk))

    @extend_schema(summary="Cancel an import", request=None, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"], filterset_fields=None, pagination_class=None)
    def cancel(self, request, *args, **kwargs):
        job = self.get_object()
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)
        import_cancel(job=job)
        return Response(self._job_data(job.pk))

    @extend_schema(
        summary="Download the error report",
        description="The failed rows as they were, with their line number and the reason (CSV).",
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    @action(detail=True, methods=["get"], url_name="errors", filterset_fields=None, pagination_class=None)
    def errors(self, request, *args, **kwargs):
        job = self.get_object()
        response = StreamingHttpResponse(
            import_error_report_lines(job=job), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response
