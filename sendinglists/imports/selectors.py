"""Reads of an import that the pages, the command and the API share: the preview, the progress
(rows done, rate, time left, counts) and the error report."""

import csv
import io
from collections.abc import Iterator

from django.utils import timezone

from contacts.csvsafe import neutralize_formula
from sendinglists.choices import ImportStatus
from sendinglists.imports.detect import DELIMITER_NAMES, HEAD_BYTES, head_rows
from sendinglists.imports.mapping import REPORT_ERROR_COLUMN, REPORT_LINE_COLUMN
from sendinglists.imports.models import ImportJob, ImportRowError
from sendinglists.imports.pipeline import RUNNABLE

PREVIEW_ROWS = 10
FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)


def import_preview(*, job: ImportJob, rows: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first data rows of the stored file, as cells, for the preview table."""
    with job.file.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.decode("utf-8", errors="ignore")
    if len(head) == HEAD_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]
    sample = head_rows(text, job.delimiter, limit=rows + 1)
    return sample[1:] if job.has_header else sample[:rows]


def delimiter_label(delimiter: str) -> str:
    return DELIMITER_NAMES.get(delimiter, repr(delimiter))


def import_progress(*, job: ImportJob) -> dict:
    """What the progress bar shows: rows done, rows per second, seconds left, and the counts."""
    rows_done = job.rows_read
    elapsed_s = None
    if job.started_at:
        end = job.finished_at or (job.progress_at if job.status in FINISHED else timezone.now())
        elapsed_s = max((end or timezone.now()) - job.started_at, timezone.timedelta(0)).total_seconds()
    rows_per_s = round(rows_done / elapsed_s) if elapsed_s and rows_done else 0
    remaining = max(job.rows_total - rows_done, 0)
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": job.get_status_display(),
        "is_finished": job.status in FINISHED,
        "rows_total": job.rows_total,
        "rows_done": rows_done,
        "percent": round(100 * rows_done / job.rows_total, 1) if job.rows_total else 0,
        "chunks_total": job.total_chunks,
        "chunks_done": job.chunks_done,
        "rows_per_s": rows_per_s,
        "seconds_left": round(remaining / rows_per_s) if rows_per_s and job.status in RUNNABLE else None,
        "elapsed_s": round(elapsed_s, 1) if elapsed_s is not None else None,
        "failure_reason": job.failure_reason,
        "counts": {
            "rows_read": job.rows_read,
            "contacts_created": job.contacts_created,
            "contacts_updated": job.contacts_updated,
            "memberships_created": job.memberships_created,
            "memberships_updated": job.memberships_updated,
            "skipped_opted_out": job.skipped_opted_out,
            "skipped_blocked": job.skipped_blocked,
            "opted_out": job.opted_out,
            "duplicates": job.duplicates,
            "errors": job.errors,
        },
    }


def import_error_report_lines(*, job: ImportJob) -> Iterator[str]:
    """The error report as CSV text, streamed: the file's header, then each failed row as it was,
    plus its line number and the reason. Upload it again once fixed: the two extra columns are
    ignored by the column guess. Starts with a UTF-8 BOM so spreadsheet programs read accents.

    Every cell goes through `neutralize_formula` (a row is in the report because it is suspect), and
    the importer reads the quoted cells back as the text they were (`restore_formula`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([*map(neutralize_formula, job.header), REPORT_LINE_COLUMN, REPORT_ERROR_COLUMN])
    yield "\ufeff" + flush()
    width = len(job.header)
    errors = (
        ImportRowError.objects.filter(job=job).order_by("line", "id").values_list("line", "reason", "values")
    )
    for count, (line, reason, values) in enumerate(errors.iterator(chunk_size=2000), start=1):
        cells = list(values or [])
        cells.extend([""] * (width - len(cells)))
        writer.writerow([*map(neutralize_formula, cells), line, neutralize_formula(reason)])
        if count % 500 == 0:
            yield flush()
    yield flush()
