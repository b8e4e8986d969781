"""Celery interfaces of the engagement services: ids in, idempotent, safe to run twice."""

import datetime as dt
import logging

from celery import shared_task

from engagement.backends import SmsBackendError
from engagement.services import (
    early_delivery_reports_apply,
    inbound_follow_up_run,
    inbound_follow_ups_pending,
)

logger = logging.getLogger(__name__)

# A follow-up normally runs within seconds of the webhook; the sweep leaves younger ones to the queue.
SWEEP_GRACE = dt.timedelta(seconds=60)
SWEEP_BATCH = 500


@shared_task(autoretry_for=(SmsBackendError,), retry_backoff=5, retry_backoff_max=300, max_retries=8)
def inbound_follow_up(message_id: int) -> bool:
    """Run an inbound message's follow-up (confirmation/HELP reply) once; a second run does nothing."""
    return inbound_follow_up_run(message_id=message_id)


@shared_task
def inbound_follow_up_sweep(grace_s: float | None = None, batch: int = SWEEP_BATCH) -> int:
    """Periodic (beat): run follow-ups that never ran — a task lost with a killed worker, a broker
    outage at commit time. Runs at most `batch` per call, oldest first; returns how many ran now."""
    grace = SWEEP_GRACE if grace_s is None else dt.timedelta(seconds=grace_s)
    ran = 0
    for message_id in inbound_follow_ups_pending(older_than=grace, limit=batch):
        try:
            ran += inbound_follow_up_run(message_id=message_id)
        except Exception:
            # One failing message must not hold back the others; the next sweep retries it.
            logger.exception("Follow-up of inbound message %s failed", message_id)
    return ran


@shared_task
def early_delivery_reports_sweep() -> int:
    """Periodic (beat): apply delivery reports that arrived before their send committed and that
    the send itself did not pick up (a race between the two commits); drop the expired ones."""
    return early_delivery_reports_apply()
