"""Applying one chunk: read its rows, validate, fold duplicates, decide, write — in one transaction.

The one place that decides what each row becomes is `decide.chunk_decide_subscribe`, which asks
`sendinglists.subscriptions.subscribe.subscription_outcome` per distinct phone with the membership state and the
opt-out history fetched set-based for the whole chunk. What every row became is counted in exactly
one bucket:

    rows_read = memberships_created + memberships_updated + skipped_opted_out + skipped_blocked + opted_out
                + duplicates + errors

`duplicates` are valid rows whose phone an earlier row of the file already had (their values are
merged into the same contact and membership). `contacts_created` counts new contacts,
`contacts_updated` existing contacts whose values the file changed.
"""

import gc
import logging
from collections import Counter
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Contact
from contacts.services import tags_get_or_create
from sendinglists.choices import ImportMode, ImportStatus
from sendinglists.imports.decide import OPTED_OUT_NOW, chunk_decide_opt_outs, chunk_decide_subscribe
from sendinglists.imports.mapping import mapping_compile
from sendinglists.imports.models import ImportChunk, ImportChunkPart, ImportJob
from sendinglists.imports.parse import read_chunk
from sendinglists.imports.rows import RowReader, fold
from sendinglists.imports.writers import ChunkWriter
from sendinglists.subscriptions.models import ListContact
from sendinglists.subscriptions.subscribe import Outcome

logger = logging.getLogger(__name__)

COUNT_FIELDS = (
    "rows_read",
    "contacts_created",
    "contacts_updated",
    "memberships_created",
    "memberships_updated",
    "skipped_opted_out",
    "skipped_blocked",
    "opted_out",
    "duplicates",
    "errors",
)
OUTCOME_COUNTS = {
    OPTED_OUT_NOW: "opted_out",
    Outcome.CREATED: "memberships_created",
    Outcome.UPDATED: "memberships_updated",
    Outcome.SKIPPED_OPTED_OUT: "skipped_opted_out",
    Outcome.SKIPPED_BLOCKED: "skipped_blocked",
}
RUNNABLE = (ImportStatus.QUEUED, ImportStatus.RUNNING)
# Write transactions per chunk (see ImportChunkPart). More parts: shorter waits between workers
# that share numbers, more commits. SQLite has one writer at a time: one part.
PARTS_PER_CHUNK = 4


def parts_per_chunk() -> int:
    return PARTS_PER_CHUNK if connection.vendor == "postgresql" else 1


def chunk_apply(*, chunk_id: int) -> dict | None:
    """Apply one chunk: read and validate its rows once, then write them in one transaction per
    part (numbers split by their digits), each adding its counts to the job.

    Idempotent: each part row is locked first and marked applied in the same transaction as its
    writes, so a second run (a redelivered task, a worker killed half-way) writes only the parts
    that had not committed, and returns None when there were none. A run killed inside a part left
    nothing of that part behind. Stops (None, or the counts so far) when the job is cancelled or
    fails meanwhile.
    """
    chunk = ImportChunk.objects.filter(pk=chunk_id).first()
    if chunk is None or chunk.applied:
        return None
    job = ImportJob.objects.select_related("sending_list").get(pk=chunk.job_id)
    if job.status not in RUNNABLE:
        return None
    applied = dict(ImportChunkPart.objects.filter(chunk=chunk).values_list("part", "applied"))
    pending = {part for part, done in applied.items() if not done}
    totals: Counter = Counter()
    with _cyclic_gc_paused():
        records, errors = _read(job, chunk) if pending else ({}, [])
        parts: list[dict] = [{} for _ in range(len(applied))]
        for phone, record in records.items():
            parts[int(phone[1:]) % len(applied)][phone] = record
        for part in sorted(pending):
            counts = _apply_part(job, chunk, part, parts[part], errors if part == 0 else [])
            if counts is _STOPPED:
                break
            if counts is not None:
                totals.update(counts)
    if not pending:
        _chunk_finish(job, chunk)  # a run that died between its last part and the chunk's finish
    return dict(totals) if totals else None


_STOPPED = object()


def _read(job: ImportJob, chunk: ImportChunk) -> tuple[dict, list]:
    """The chunk's valid rows folded per phone (every row is in a record's lines or an error)."""
    sending_list = job.sending_list
    custom_fields = {field.key: field for field in sending_list.custom_fields.all()}
    mapping = mapping_compile(mapping=job.mapping, header=job.header, custom_fields=custom_fields)
    reader = RowReader(mapping, job.region or sending_list.default_region)
    with job.file.open("rb") as handle:
        rows = read_chunk(
            handle,
            start_byte=chunk.start_byte,
            end_byte=chunk.end_byte,
            first_line=chunk.first_line,
            delimiter=job.delimiter,
        )
        if chunk.index == 0 and job.has_header:
            next(rows, None)
        valid, errors, _ = reader.read(rows)
    existing_tags = _existing_tags(valid) if mapping.tags else None
    records, tag_errors = fold(valid, existing_tags)
    errors.extend(tag_errors)
    errors.sort(key=lambda error: error.line)
    return records, errors


def _apply_part(job: ImportJob, chunk: ImportChunk, part: int, records: dict, errors: list):
    """One part in one transaction; None when it was applied already, _STOPPED when the job was
    cancelled or failed meanwhile, else its counts."""
    with transaction.atomic():
        # Locks the part row only (`of`, and no ordering that would join other tables).
        part_row = (
            ImportChunkPart.objects.select_for_update(of=("self",))
            .filter(chunk=chunk, part=part)
            .order_by()
            .first()
        )
        if part_row is None or part_row.applied:
            return None
        if ImportJob.objects.filter(pk=job.pk).values_list("status", flat=True).first() not in RUNNABLE:
            return _STOPPED
        now = timezone.now()
        counts = dict.fromkeys(COUNT_FIELDS, 0)
        counts["rows_read"] = len(errors) + sum(len(record.lines) for record in records.values())
        counts["errors"] = len(errors)
        if records or errors:
            writer = ChunkWriter(job_id=job.pk, sending_list_id=job.sending_list_id, now=now)
            try:
                if errors:
                    writer.row_errors_create(errors)
                if records:
                    _write_records(job, writer, records, counts)
            except BaseException:
                writer.close(drop_tables=False)  # the rollback drops them; the transaction may be aborted
                raise
            writer.close()
        part_row.applied = True
        part_row.applied_at = now
        part_row.counts = counts
        part_row.save(update_fields=["applied", "applied_at", "counts"])
        # Last statements of the transaction: the job row is locked only for the commit.
        finished_chunk = _chunk_finish(job, chunk, in_transaction=True)
        ImportJob.objects.filter(pk=job.pk).update(
            progress_at=now,
            **{name: F(name) + counts[name] for name in COUNT_FIELDS if counts[name]},
            **finished_chunk,
        )
    return counts


def _chunk_finish(job: ImportJob, chunk: ImportChunk, *, in_transaction: bool = False) -> dict:
    """Mark the chunk applied once every part is; returns the job counter updates that go with it
    (applied on their own when not called inside a part's transaction)."""
    with transaction.atomic():
        # The chunk row lock orders concurrent runs of the same chunk: exactly one finishes it.
        locked = ImportChunk.objects.select_for_update(of=("self",)).filter(pk=chunk.pk).order_by().first()
        if locked is None or locked.applied:
            return {}
        parts = list(ImportChunkPart.objects.filter(chunk=chunk).values_list("applied", "counts"))
        if not all(applied for applied, _ in parts):
            return {}
        totals: Counter = Counter()
        for _, counts in parts:
            totals.update(counts)
        locked.applied = True
        locked.applied_at = timezone.now()
        locked.counts = {name: totals[name] for name in COUNT_FIELDS}
        locked.save(update_fields=["applied", "applied_at", "counts"])
        updates = {
            "chunks_done": F("chunks_done") + 1,
            "bytes_done": F("bytes_done") + (chunk.end_byte - chunk.start_byte),
        }
        if not in_transaction:
            ImportJob.objects.filter(pk=job.pk).update(**updates)
            return {}
        return updates


@contextmanager
def _cyclic_gc_paused():
    """A chunk allocates ~10 containers per row and creates no reference cycles; the cyclic
    collector would scan them again and again as they survive (a third of the row loop's time).
    Reference counting still frees everything; the collector resumes when the chunk is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _write_records(job: ImportJob, writer: ChunkWriter, records: dict, counts: dict) -> None:
    writer.stage_contacts(sorted(records.values(), key=lambda record: record.phone))
    first_in_job = writer.seen_first()
    # An import by a list-scoped token leaves contacts other lists hold as they are (fields, tags).
    scope = job.api_token.list_scope() if job.api_token_id else None
    contacts_created, contacts_updated = writer.contacts_upsert(scope_list_ids=scope)
    state = writer.contacts_state()
    decide = chunk_decide_opt_outs if job.mode == ImportMode.OPT_OUT else chunk_decide_subscribe
    outcomes = decide(job, writer, records, state)
    for phone, record in records.items():
        rows = len(record.lines)
        if int(phone[1:]) in first_in_job:
            counts[OUTCOME_COUNTS[outcomes[phone]]] += 1
            counts["duplicates"] += rows - 1
            counts["contacts_updated"] += phone in contacts_updated
        else:
            counts["duplicates"] += rows
        counts["contacts_created"] += phone in contacts_created
    if scope is not None:
        shared = _held_outside(contact_ids=[state[phone][0] for phone in records], list_ids=scope)
        records = {phone: record for phone, record in records.items() if state[phone][0] not in shared}
    _add_tags(records, state)


def _held_outside(*, contact_ids: list[int], list_ids: list[int]) -> set[int]:
    """The contacts that lists other than `list_ids` hold."""
    held: set[int] = set()
    for start in range(0, len(contact_ids), 5000):
        held.update(
            ListContact.objects.filter(contact_id__in=contact_ids[start : start + 5000])
            .exclude(sending_list_id__in=list_ids)
            .values_list("contact_id", flat=True)
        )
    return held


def _existing_tags(valid: list) -> dict:
    phones = list({row.phone for row in valid if row.tags})
    through = Contact.tags.through
    existing: dict[str, dict] = {}
    for start in range(0, len(phones), 5000):
        # Through the number's holder: a phone channel's row adds to its contact's tags.
        pairs = through.objects.filter(
            contact__numbers__phone_number__in=phones[start : start + 5000]
        ).values_list("contact__numbers__phone_number", "tag__name")
        for phone, name in pairs:
            existing.setdefault(phone, {})[name.lower()] = name
    return existing


def _add_tags(records: dict, state: dict) -> None:
    names = {lower: name for record in records.values() for lower, name in record.tags.items()}
    if not names:
        return
    tag_ids = {tag.name.lower(): tag.pk for tag in tags_get_or_create(names.values())}
    through = Contact.tags.through
    through.objects.bulk_create(
        [
            through(contact_id=state[phone][0], tag_id=tag_ids[lower])
            for phone, record in records.items()
            for lower in record.tags
        ],
        ignore_conflicts=True,
        batch_size=5000,
    )
