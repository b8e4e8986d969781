from celery import shared_task

from sendinglists.lists.services import list_status_counts_squash


@shared_task
def squash_list_status_counts() -> int:
    """Fold membership count deltas (periodic). Idempotent: squashing twice changes nothing."""
    return list_status_counts_squash()
