"""Running an import: its chunks, one task each, and what follows them (finish, fail, cancel,
clean up, resume a stalled job). The Celery tasks in `sendinglists.imports.tasks` call these; they
name the tasks they enqueue (`config.celery.enqueue_on_commit`) and never import that module.

Creating and starting a job is in `sendinglists.imports.services`; a chunk's rows are applied by
`sendinglists.imports.pipeline.chunk_apply`.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.celery import enqueue_on_commit
from sendinglists.choices import ImportStatus
from sendinglists.imports.models import ImportChunk, ImportJob, ImportSeenPhone
from sendinglists.imports.pipeline import RUNNABLE, chunk_apply
from sendinglists.imports.selectors import FINISHED

logger = logging.getLogger(__name__)

CHUNK_TASK = "sendinglists.imports.tasks.import_chunk_task"
CLEANUP_TASK = "sendinglists.imports.tasks.import_cleanup_task"


def import_chunks_enqueue(*, chunk_ids) -> None:
    """Enqueue a chunk task per id once the current transaction commits (eagerly, in order, without
    a broker)."""
    for chunk_id in chunk_ids:
        enqueue_on_commit(CHUNK_TASK, chunk_id)


def import_cancel(*, job: ImportJob) -> bool:
    """Stop an import: chunks not yet applied will not run; a chunk running now finishes (its rows
    are counted). Returns False when the import had already finished."""
    cancelled = ImportJob.objects.filter(pk=job.pk, status__in=[ImportStatus.PENDING, *RUNNABLE]).update(
        status=ImportStatus.CANCELLED, finished_at=timezone.now()
    )
    if cancelled:
        transaction.on_commit(lambda: _enqueue_cleanup(job.pk))
    return bool(cancelled)


def import_chunk_run(*, chunk_id: int) -> dict | None:
    """The chunk task's body: mark the job running, apply the chunk, finish the job after its last
    chunk. A failure that is not the database's (those are retried by the task) fails the job
    with a reason naming the chunk's lines; the applied chunks stay applied and counted."""
    chunk = ImportChunk.objects.filter(pk=chunk_id).only("job_id", "index", "first_line").first()
    if chunk is None:
        return None
    ImportJob.objects.filter(pk=chunk.job_id, status=ImportStatus.QUEUED).update(status=ImportStatus.RUNNING)
    try:
        counts = chunk_apply(chunk_id=chunk_id)
    except ValidationError as exc:
        import_fail(
            job_id=chunk.job_id,
            reason=f"Chunk {chunk.index + 1} (from line {chunk.first_line}): {_messages(exc)}",
        )
        return None
    import_finish(job_id=chunk.job_id)
    return counts


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def import_fail(*, job_id: int, reason: str) -> bool:
    """Mark a running import failed with `reason`; chunks not yet applied will not run."""
    logger.error("import %s failed: %s", job_id, reason)
    failed = ImportJob.objects.filter(pk=job_id, status__in=[ImportStatus.PENDING, *RUNNABLE]).update(
        status=ImportStatus.FAILED, failure_reason=reason[:2000], finished_at=timezone.now()
    )
    if failed:
        _enqueue_cleanup(job_id)
    return bool(failed)


def import_finish(*, job_id: int) -> bool:
    """Complete the import once every chunk is applied (idempotent; exactly one caller wins)."""
    if ImportChunk.objects.filter(job_id=job_id, applied=False).exists():
        return False
    finished = ImportJob.objects.filter(pk=job_id, status__in=RUNNABLE).update(
        status=ImportStatus.COMPLETED, finished_at=timezone.now()
    )
    if finished:
        _enqueue_cleanup(job_id)
    return bool(finished)


def _enqueue_cleanup(job_id: int) -> None:
    enqueue_on_commit(CLEANUP_TASK, job_id)


def import_cleanup(*, job_id: int) -> int:
    """Drop a finished job's seen-phone bookkeeping (only needed while chunks run)."""
    if ImportJob.objects.filter(pk=job_id, status__in=FINISHED).exists():
        deleted, _ = ImportSeenPhone.objects.filter(job_id=job_id).delete()
        return deleted
    return 0


def import_resume(*, job: ImportJob) -> int:
    """Enqueue again every chunk of a queued or running job that has not been applied (a worker
    died and its task will only come back after the broker's visibility timeout). Safe to call at
    any time: a chunk applied twice does nothing the second time. Returns how many were enqueued."""
    if job.status not in RUNNABLE:
        return 0
    chunk_ids = list(ImportChunk.objects.filter(job=job, applied=False).values_list("pk", flat=True))
    with transaction.atomic():
        # Counts as progress, so the stalled-import sweep waits a whole period before enqueuing
        # the same chunks again (a job that is only waiting behind a long queue gets one extra copy
        # per period, not one per sweep).
        ImportJob.objects.filter(pk=job.pk).update(progress_at=timezone.now())
        import_chunks_enqueue(chunk_ids=chunk_ids)
    return len(chunk_ids)


def imports_resume_stalled(*, stalled_after_s: int) -> int:
    """Resume every running import without progress for `stalled_after_s` seconds (periodic)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stalled_after_s)
    resumed = 0
    for job in ImportJob.objects.filter(status__in=RUNNABLE, started_at__lt=cutoff):
        if (job.progress_at or job.started_at) < cutoff:
            resumed += bool(import_resume(job=job))
    return resumed
