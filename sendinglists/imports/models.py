"""The import pipeline's bookkeeping: chunks (the unit of work and of idempotency), the phones a job
has seen (duplicates across chunks), and the rows that failed (the error report)."""

from django.conf import settings
from django.db import models

from sendinglists.choices import (
    ImportMode,
    ImportStatus,
)
from sendinglists.lists.models import SendingList


class ImportChunk(models.Model):
    """A byte range of an import's stored file, applied in one transaction.

    `applied` is set in the same transaction as the chunk's writes, so a chunk that runs twice
    (a killed worker, a redelivered task) finds it set and does nothing the second time.
    """

    job = models.ForeignKey("sendinglists.ImportJob", on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start_byte = models.BigIntegerField()
    end_byte = models.BigIntegerField()
    first_line = models.PositiveIntegerField(help_text="Line number (1-based) of the chunk's first line")
    rows = models.PositiveIntegerField(help_text="Data rows in the chunk (blank lines excluded)")
    applied = models.BooleanField(default=False, help_text="Every part applied")
    applied_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="What the chunk's rows became")

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="importchunk_job_index_unique"),
        ]

    def __str__(self) -> str:
        return f"Import #{self.job_id} chunk {self.index}"


class ImportChunkPart(models.Model):
    """The numbers of a chunk whose E.164 digits modulo PARTS_PER_CHUNK equal `part`: the unit of
    a write transaction. A chunk's parts commit one after the other, so two workers on
    neighbouring chunks that share numbers wait for each other one part at a time, then run in
    step (part n of one chunk while the other does part n+1) instead of one whole chunk after the
    other. `applied` is set in the part's own transaction (idempotency, as for the chunk)."""

    chunk = models.ForeignKey(ImportChunk, on_delete=models.CASCADE, related_name="parts")
    part = models.PositiveSmallIntegerField()
    applied = models.BooleanField(default=False)
    applied_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["chunk_id", "part"]
        constraints = [
            models.UniqueConstraint(fields=["chunk", "part"], name="importchunkpart_chunk_part_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.chunk} part {self.part}"


class ImportSeenPhone(models.Model):
    """A phone (E.164 digits as an integer) an import has already applied: later rows with it are
    duplicates. Written in the chunk's transaction; deleted when the import finishes."""

    # One row per distinct number of a file (a million for a big import), so the row is as small as
    # it gets: the (job, phone) key is the primary key (no id, no second index) and the job is not
    # a database foreign key (a check per row, and every chunk locking the job row); the ORM still
    # deletes the rows with their job.
    pk = models.CompositePrimaryKey("job", "phone")
    job = models.ForeignKey(
        "sendinglists.ImportJob",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    phone = models.BigIntegerField()

    def __str__(self) -> str:
        return f"+{self.phone}"


class ImportRowError(models.Model):
    """A row that was not imported: its line, the column at fault, why, and the row as it was."""

    job = models.ForeignKey("sendinglists.ImportJob", on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField(help_text="Line number in the file (1-based) where the row starts")
    column = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    values = models.JSONField(default=list, help_text="The row's cells as they were in the file")

    class Meta:
        ordering = ["job_id", "line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="importrowerror_job_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportJob(models.Model):
    """One CSV import into one sending list, with its mapping, progress and final counts."""

    sending_list = models.ForeignKey(SendingList, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_token = models.ForeignKey(
        "ApiToken", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=300)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField(default=0)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    header = models.JSONField(default=list, blank=True)
    has_header = models.BooleanField(default=True, help_text="False: the first row is data")
    rows_total = models.PositiveIntegerField(default=0, help_text="Data rows in the file, counted at upload")
    mapping = models.JSONField(default=dict, blank=True, help_text="column index -> field")
    region = models.CharField(max_length=2, blank=True)
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.SUBSCRIBE)
    consent_attestation = models.TextField(
        blank=True, help_text="The operator's statement that the contacts consented to texts from this sender"
    )
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attested_by_label = models.CharField(max_length=200, blank=True, help_text="Who attested (user or token)")
    attested_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    failure_reason = models.TextField(blank=True)
    total_chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    contacts_created = models.PositiveIntegerField(default=0)
    contacts_updated = models.PositiveIntegerField(default=0)
    memberships_created = models.PositiveIntegerField(default=0)
    memberships_updated = models.PositiveIntegerField(default=0)
    skipped_opted_out = models.PositiveIntegerField(default=0)
    skipped_blocked = models.PositiveIntegerField(default=0)
    opted_out = models.PositiveIntegerField(default=0, help_text="Opt-out files: numbers opted out now")
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, help_text="When the latest chunk committed")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["sending_list", "-id"], name="importjob_list_id")]

    def __str__(self) -> str:
        return f"Import #{self.pk} of {self.original_filename}"
