"""Celery wrappers around the import services. They take ids, and are safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from sendinglists.imports.models import ImportChunk
from sendinglists.imports.running import (
    import_chunk_run,
    import_cleanup,
    import_fail,
    imports_resume_stalled,
)

logger = logging.getLogger(__name__)

CHUNK_MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=CHUNK_MAX_RETRIES)
def import_chunk_task(self, chunk_id: int) -> dict | None:
    """Apply one chunk of an import. Idempotent (the chunk is marked applied in its own
    transaction); database errors (a deadlock, a lost connection) are retried with backoff, and a
    chunk that keeps failing fails its import with the reason."""
    try:
        return import_chunk_run(chunk_id=chunk_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < CHUNK_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
        _fail(chunk_id, exc)
        raise
    except DatabaseError as exc:
        _fail(chunk_id, exc)
        raise
    except Exception as exc:
        logger.exception("import chunk %s failed", chunk_id)
        _fail(chunk_id, exc)
        return None


def _fail(chunk_id: int, exc: Exception) -> None:
    chunk = ImportChunk.objects.filter(pk=chunk_id).only("job_id", "index", "first_line").first()
    if chunk is not None:
        import_fail(
            job_id=chunk.job_id,
            reason=f"Chunk {chunk.index + 1} (from line {chunk.first_line}) could not be applied: "
            f"{type(exc).__name__}: {exc}",
        )


@shared_task
def import_cleanup_task(job_id: int) -> int:
    """Drop a finished import's seen-phone rows. Idempotent."""
    return import_cleanup(job_id=job_id)


@shared_task
def imports_resume_stalled_task() -> int:
    """Re-enqueue the unapplied chunks of imports without progress for IMPORT_STALLED_AFTER_S
    (periodic). Safe: an applied chunk does nothing when it runs again."""
    return imports_resume_stalled(stalled_after_s=settings.IMPORT_STALLED_AFTER_S)
