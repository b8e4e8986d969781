"""The Celery wiring end to end: a real worker process on Redis runs a task enqueued after commit."""

import pytest
from django.db import transaction

from sendinglists.lists.services import list_status_counts
from sendinglists.lists.tasks import squash_list_status_counts
from sendinglists.models import ListStatusCount
from tests.conftest import wait_for
from tests.factories import SendingListFactory


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_enqueued_on_commit(celery_worker):
    sending_list = SendingListFactory()
    ListStatusCount.objects.bulk_create(
        ListStatusCount(sending_list=sending_list, status="active", count=1) for _ in range(3)
    )

    with transaction.atomic():
        squash_list_status_counts.delay_on_commit()
        # Not sent before the commit: the worker cannot have run it yet.
        assert ListStatusCount.objects.filter(is_squashed=True).count() == 0

    wait_for(lambda: ListStatusCount.objects.filter(sending_list=sending_list, is_squashed=True).exists(), 60)
    assert list(ListStatusCount.objects.values_list("status", "count", "is_squashed")) == [
        ("active", 3, True)
    ]
    assert list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]["active"] == 3
