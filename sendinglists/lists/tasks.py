from celery import shared_task

from sendinglists.lists.services import list_status_counts_squash


# Named as it was before it moved here: a beat schedule or a queued task may name it.
@shared_task(name="sendinglists.tasks.squash_list_status_counts")
def squash_list_status_counts() -> int:
    """Fold membership count deltas (periodic). Idempotent: squashing twice changes nothing."""
    return list_status_counts_squash()
