"""The import services: every surface (the pages, `import_contacts`, the REST API, the Celery tasks)
calls these and nothing else.

    job = import_create(sending_list=…, uploaded_file=…, actor=…)   # store, inspect, plan, propose
    import_start(job=job, mapping=…)                                # confirm the mapping, enqueue
    import_discard(job=job)                                         # drop a job that never started

Reads (preview, progress, the error report) are in `sendinglists.imports.selectors`.

A job's chunks run as Celery tasks after the start commits (eagerly, in order, when there is no
broker). Each chunk is one transaction and safe to run twice; see `pipeline.chunk_apply`. Running,
cancelling, finishing, failing and resuming a job are in `sendinglists.imports.running`.
"""

import logging
import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from contacts.phones import normalize_phone
from contacts.services import region_or_error
from sendinglists.actors import Actor
from sendinglists.choices import ActorKind, ImportMode, ImportStatus
from sendinglists.imports.detect import (
    HEAD_BYTES,
    FileRejected,
    head_rows,
    sniff_delimiter,
    sniff_encoding,
)
from sendinglists.imports.files import TemporaryFile, transcode_to_utf8
from sendinglists.imports.mapping import (
    guess_mapping,
    mapping_clean,
    mapping_resolved,
    new_custom_fields,
)
from sendinglists.imports.models import ImportChunk, ImportChunkPart, ImportJob
from sendinglists.imports.parse import plan_chunks
from sendinglists.imports.pipeline import parts_per_chunk
from sendinglists.imports.running import import_chunks_enqueue
from sendinglists.imports.selectors import import_preview
from sendinglists.lists.models import SendingList
from sendinglists.lists.services import custom_field_create, custom_field_room_check

logger = logging.getLogger(__name__)


def _rejected(message: str) -> ValidationError:
    return ValidationError({"file": [message]}, code="invalid_file")


def _size_label(size_bytes: int) -> str:
    return f"{size_bytes / 1024 / 1024:,.1f} MB"


def import_create(
    *,
    sending_list: SendingList,
    uploaded_file,
    actor: Actor | None = None,
    mapping: dict | None = None,
    region: str = "",
    has_header: bool | None = None,
    chunk_rows: int | None = None,
    filename: str = "",
    mode: str = ImportMode.SUBSCRIBE,
) -> ImportJob:
    """Store and inspect an upload: a PENDING job with the detected encoding, delimiter, header, the
    row count, the chunk plan and a mapping (the given one, validated, or a guess).

    Nothing is imported until `import_start`. A file that cannot be imported at all (empty, binary,
    not CSV, over IMPORT_MAX_UPLOAD_BYTES or IMPORT_MAX_COLUMNS, no data rows) raises ValidationError keyed `file` with one
    sentence saying why; a bad `mapping` raises ValidationError keyed `mapping`. `uploaded_file` is
    any Django File (an upload, or `File(open(path, "rb"))`).
    """
    if mode not in ImportMode.values:
        raise ValidationError(
            {"mode": [f"Unknown import mode {mode!r}; use {' or '.join(ImportMode.values)}."]}
        )
    filename = os.path.basename(filename or getattr(uploaded_file, "name", "") or "upload.csv")
    size = uploaded_file.size
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if size > limit:
        raise _rejected(
            f"The file is {_size_label(size)}; the largest file an import accepts is {_size_label(limit)}. "
            "Split it into smaller files."
        )
    region = region_or_error(region or sending_list.default_region)
    uploaded_file.seek(0)
    head = uploaded_file.read(HEAD_BYTES)
    try:
        encoding = sniff_encoding(head)
        head_text = head.decode(encoding.codec, errors="replace")
        cr_only = "\r" in head_text and "\n" not in head_text
        transcoded = transcode_to_utf8(uploaded_file, encoding, line_ends_cr_only=cr_only)
    except FileRejected as exc:
        raise _rejected(str(exc)) from None
    try:
        return _create_job(
            sending_list=sending_list,
            path=transcoded.path,
            encoding_label=transcoded.encoding.label,
            size=size,
            filename=filename,
            actor=actor,
            mapping=mapping,
            region=region,
            has_header=has_header,
            chunk_rows=chunk_rows or settings.IMPORT_CHUNK_ROWS,
            mode=mode,
        )
    finally:
        if os.path.exists(transcoded.path):
            os.unlink(transcoded.path)


def _read_head(path: str) -> str:
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
        more = bool(handle.read(1))
    text = head.decode("utf-8", errors="ignore")
    if more and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    return text


def _create_job(
    *,
    sending_list,
    path,
    encoding_label,
    size,
    filename,
    actor,
    mapping,
    region,
    has_header,
    chunk_rows,
    mode,
) -> ImportJob:
    text = _read_head(path)
    delimiter = sniff_delimiter(text)
    sample = head_rows(text, delimiter)
    if not sample:
        raise _rejected("The file is empty: it has no rows, only blank lines.")
    if has_header is None:
        has_header = not any(normalize_phone(cell, region).is_valid for cell in sample[0])
    if has_header:
        header = [cell.strip() or f"Column {i + 1}" for i, cell in enumerate(sample[0])]
    else:
        header = [f"Column {i + 1}" for i in range(max(len(row) for row in sample))]
    if len(header) > settings.IMPORT_MAX_COLUMNS:
        raise _rejected(
            f"The file has {len(header):,} columns; an import reads at most {settings.IMPORT_MAX_COLUMNS:,} "
            "(IMPORT_MAX_COLUMNS). Remove the columns you do not need and upload it again."
        )
    plan = plan_chunks(path, delimiter=delimiter, chunk_rows=chunk_rows)
    rows_total = plan.rows - (1 if has_header else 0)
    if rows_total <= 0:
        raise _rejected("The file has a header row but no data rows.")
    custom_fields = {field.key: field for field in sending_list.custom_fields.all()}
    if mapping is None:
        data = sample[1:] if has_header else sample
        cleaned = guess_mapping(header=header, sample_rows=data, custom_fields=custom_fields, region=region)
        if mode != ImportMode.OPT_OUT:  # a "reason" column means something only in an opt-out file
            cleaned = {index: ("" if target == "reason" else target) for index, target in cleaned.items()}
    else:
        cleaned = mapping_clean(mapping=mapping, header=header, custom_fields=custom_fields)
    with transaction.atomic():
        job = ImportJob(
            sending_list=sending_list,
            created_by=actor.user if actor is not None else None,
            api_token_id=int(actor.id) if actor is not None and actor.kind == ActorKind.API_TOKEN else None,
            original_filename=filename[:255],
            size_bytes=size,
            encoding=encoding_label,
            delimiter=delimiter,
            header=header,
            has_header=has_header,
            rows_total=rows_total,
            mapping=cleaned,
            region=region,
            mode=mode,
            total_chunks=len(plan.chunks),
        )
        stored = TemporaryFile(path, get_valid_filename(filename) or "upload.csv")
        try:
            job.file.save(stored.name, stored, save=False)
        finally:
            stored.close()
        job.save()
        chunks = ImportChunk.objects.bulk_create(
            ImportChunk(
                job=job,
                index=index,
                start_byte=planned.start_byte,
                end_byte=planned.end_byte,
                first_line=planned.first_line,
                rows=planned.rows,
            )
            for index, planned in enumerate(plan.chunks)
        )
        ImportChunkPart.objects.bulk_create(
            ImportChunkPart(chunk=chunk, part=part) for chunk in chunks for part in range(parts_per_chunk())
        )
    return job


@transaction.atomic
def import_start(
    *,
    job: ImportJob,
    mapping: dict | None = None,
    has_header: bool | None = None,
    actor: Actor | None = None,
    consent_attestation: str | None = None,
) -> ImportJob:
    """Confirm the mapping and enqueue the chunks (after commit). Creates the custom fields the
    mapping defines. Only a PENDING job starts; ValidationError otherwise or for a bad mapping.

    An import that subscribes needs the operator's `consent_attestation` (how these people agreed
    to texts from this sender): it is kept on the job with who attested and when, and every
    SUBSCRIBED event the import writes names it. An opt-out file needs none.

    Without a broker (the embedded default) the chunks run eagerly right after the commit, so the
    call returns when the import is done.
    """
    job = ImportJob.objects.select_for_update(of=("self",)).select_related("sending_list").get(pk=job.pk)
    if job.status != ImportStatus.PENDING:
        raise ValidationError(
            {"status": [f"This import is {job.get_status_display().lower()}; it cannot start again."]}
        )
    if has_header is not None and has_header != job.has_header:
        _set_has_header(job, has_header)
    sending_list = job.sending_list
    custom_fields = {field.key: field for field in sending_list.custom_fields.all()}
    cleaned = mapping_clean(
        mapping=job.mapping if mapping is None else mapping, header=job.header, custom_fields=custom_fields
    )
    new_fields = new_custom_fields(cleaned)
    try:
        custom_field_room_check(sending_list=sending_list, adding=len(new_fields))
    except ValidationError as exc:
        hint = "Ignore the columns you do not need, or map them to existing fields."
        raise ValidationError({"mapping": [f"{' '.join(exc.messages)} {hint}"]}) from None
    for key, field_type in new_fields:
        label = next((job.header[int(i)] for i, t in cleaned.items() if t.startswith(f"custom:{key}:")), "")
        custom_field_create(sending_list=sending_list, key=key, label=label[:100], field_type=field_type)
    if job.mode != ImportMode.OPT_OUT and "reason" in cleaned.values():
        raise ValidationError({"mapping": ["The opt-out reason column is only for opt-out files."]})
    job.mapping = mapping_resolved(cleaned)
    job.status = ImportStatus.QUEUED
    job.started_at = timezone.now()
    if actor is not None and job.created_by is None and actor.user is not None:
        job.created_by = actor.user
    attested = []
    if job.mode == ImportMode.SUBSCRIBE:
        _attest(job, consent_attestation, actor)
        attested = ["consent_attestation", "attested_by", "attested_by_label", "attested_at"]
    job.save(
        update_fields=[
            "mapping",
            "status",
            "started_at",
            "created_by",
            "has_header",
            "header",
            "rows_total",
            *attested,
        ]
    )
    import_chunks_enqueue(
        chunk_ids=ImportChunk.objects.filter(job=job).order_by("index").values_list("pk", flat=True)
    )
    return job


MAX_ATTESTATION_CHARS = 1000


def consent_attestation_clean(text: str | None, *, sending_list: SendingList) -> str:
    """The operator's consent attestation for an import that subscribes, stripped; a
    ValidationError keyed `consent_attestation` when it is missing or too long."""
    text = (text or "").strip()
    if not text:
        raise ValidationError(
            {
                "consent_attestation": [
                    f"Say how these contacts gave consent to receive texts from {sending_list.phone_number} "
                    "(e.g. 'Signed up at checkout on our website'): an import that subscribes needs it."
                ]
            }
        )
    if len(text) > MAX_ATTESTATION_CHARS:
        raise ValidationError(
            {"consent_attestation": [f"At most {MAX_ATTESTATION_CHARS} characters; this is {len(text)}."]}
        )
    return text


def _attest(job: ImportJob, text: str | None, actor: Actor | None) -> None:
    text = consent_attestation_clean(
        text if text is not None else job.consent_attestation, sending_list=job.sending_list
    )
    job.consent_attestation = text
    job.attested_by = actor.user if actor is not None else None
    job.attested_by_label = (actor.label if actor is not None else "unknown")[:200]
    job.attested_at = timezone.now()


def _set_has_header(job: ImportJob, has_header: bool) -> None:
    width = len(job.header)
    job.has_header = has_header
    if has_header:
        sample = import_preview(job=job, rows=1)
        job.header = (
            [cell.strip() or f"Column {i + 1}" for i, cell in enumerate(sample[0])] if sample else job.header
        )
        job.rows_total -= 1
    else:
        job.header = [f"Column {i + 1}" for i in range(width)]
        job.rows_total += 1


def import_discard(*, job: ImportJob) -> bool:
    """Delete an import that never started, with its chunks and its stored file: an upload refused
    after it was stored (the API's upload-and-start whose mapping cannot start) leaves nothing
    behind. The file goes at once, so a caller's transaction that rolls the job back leaves no file
    either. Returns False (and deletes nothing) when the job is not PENDING."""
    name = job.file.name
    deleted, _ = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PENDING).delete()
    if deleted and name:
        job.file.storage.delete(name)
    return bool(deleted)
