"""Celery tasks for audiences: thin wrappers that take ids and call the services."""

from celery import shared_task

from sendinglists.audiences.hygiene import hygiene_job_fail, hygiene_job_run


@shared_task(acks_late=True)
def run_hygiene_job(job_id: int) -> dict:
    """Run a list hygiene job to the end. Safe to run twice: it resumes after the last committed
    chunk and does nothing once the job is finished. Enqueued after commit by hygiene_job_start."""
    try:
        job = hygiene_job_run(job_id=job_id)
    except Exception as exc:
        hygiene_job_fail(job_id=job_id, reason=f"{type(exc).__name__}: {exc}")
        raise
    return {"job": job.pk, "status": job.status, "processed": job.processed, "removed": job.removed}
