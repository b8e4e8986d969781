from django.urls import reverse
from rest_framework import serializers

from contacts.api.strict import StrictKeysMixin
from contacts.jsonsafe import json_loads_bounded
from sendinglists.choices import ImportMode
from sendinglists.imports.models import ImportJob
from sendinglists.lists.models import SendingList

MAPPING_HELP = (
    "A JSON object: column (0-based index, or header) -> target: phone, email, first_name, last_name, "
    'full_name, timezone, carrier, tags, custom:<key>, custom:<key>:<type> (a new field), or "" to '
    "ignore the column. Omitted: guessed from the header and the content."
)


class MappingField(serializers.JSONField):
    """A JSON object: in a JSON body as is, in a multipart upload as a JSON-encoded string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", MAPPING_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str | bytes):
            try:
                data = json_loads_bounded(data)
            except ValueError:
                raise serializers.ValidationError("Not valid JSON.") from None
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                'Expected a JSON object, e.g. {"0": "phone", "2": "custom:plan"}.'
            )
        return super().to_internal_value(data)


def consent_attestation_field() -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Required to start an import that subscribes: how these contacts gave consent to receive "
        "texts from this sender (kept on the import; every subscription it writes names it).",
    )


class ImportCreateSerializer(StrictKeysMixin, serializers.Serializer):
    file = serializers.FileField(help_text="The CSV file (any common encoding and delimiter).")
    sending_list = serializers.PrimaryKeyRelatedField(
        queryset=SendingList.objects.all(),
        error_messages={
            "does_not_exist": "No sending list {pk_value}.",
            "incorrect_type": "Expected a list id.",
        },
    )
    mapping = MappingField(required=False)
    region = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2,
        help_text="Country of national numbers (default: the list's).",
    )
    has_header = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Omitted: detected."
    )
    mode = serializers.ChoiceField(
        choices=ImportMode.choices,
        default=ImportMode.SUBSCRIBE,
        help_text="subscribe (default), or opt_out: every number in the file is opted out of the list "
        "(known or not; an optional reason column).",
    )
    consent_attestation = consent_attestation_field()
    start = serializers.BooleanField(
        default=True,
        help_text="Start at once (default). False: the import waits, with the guessed mapping, for POST …/start/.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = self.context.get("sending_lists")
        if queryset is not None:
            self.fields["sending_list"].queryset = queryset


class ImportStartSerializer(StrictKeysMixin, serializers.Serializer):
    mapping = MappingField(required=False)
    has_header = serializers.BooleanField(required=False, allow_null=True, default=None)
    consent_attestation = consent_attestation_field()


class ImportCountsSerializer(serializers.Serializer):
    rows_read = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    contacts_updated = serializers.IntegerField()
    memberships_created = serializers.IntegerField()
    memberships_updated = serializers.IntegerField()
    skipped_opted_out = serializers.IntegerField()
    skipped_blocked = serializers.IntegerField()
    opted_out = serializers.IntegerField(help_text="Opt-out files: numbers opted out by this import")
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()


class ImportJobSerializer(serializers.ModelSerializer):
    """An import: its file, mapping, status and counts; `error_report` downloads the failed rows."""

    counts = serializers.SerializerMethodField()
    error_report = serializers.SerializerMethodField(help_text="CSV of the failed rows (null: none failed).")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "sending_list",
            "original_filename",
            "size_bytes",
            "encoding",
            "delimiter",
            "header",
            "has_header",
            "mapping",
            "region",
            "mode",
            "consent_attestation",
            "attested_by_label",
            "attested_at",
            "status",
            "failure_reason",
            "rows_total",
            "total_chunks",
            "chunks_done",
            "counts",
            "error_report",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_counts(self, job) -> ImportCountsSerializer:
        return {name: getattr(job, name) for name in ImportCountsSerializer._declared_fields}

    def get_error_report(self, job) -> str | None:
        if not job.errors:
            return None
        path = reverse("api:v1:import-errors", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
