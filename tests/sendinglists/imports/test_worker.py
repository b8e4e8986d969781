"""Imports on real Celery workers (Redis broker, PostgreSQL): chunks in parallel, and a worker
killed in the middle of a chunk that leaves no duplicate once the task is delivered again."""

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import ActorKind, EventKind, ImportStatus
from sendinglists.imports.models import ImportChunk
from sendinglists.imports.pipeline import COUNT_FIELDS
from sendinglists.imports.services import import_create, import_start
from sendinglists.lists.services import list_status_counts
from sendinglists.models import ImportJob, ListContact, ListStatusCount, SubscriptionEvent
from tests.conftest import _test_database_url, wait_for
from tests.factories import SendingListFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shared_media(settings, monkeypatch):
    """Workers read the uploaded file from the same storage as the web process (here: the test's
    MEDIA_ROOT); requested before `celery_worker` so the worker starts with it."""
    monkeypatch.setenv("DJANGO_MEDIA_ROOT", str(settings.MEDIA_ROOT))


NEW = 2550
EXISTING_ACTIVE = 270
EXISTING_OPTED_OUT = 30
INVALID = 60
DUPLICATES = 90
ROWS = NEW + EXISTING_ACTIVE + EXISTING_OPTED_OUT + INVALID + DUPLICATES  # 3000


def phone(i: int) -> str:
    return f"+1{415 + i // 10_000}555{i % 10_000:04d}"


def national(i: int) -> str:
    digits = phone(i)[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def prepare_list():
    """A list whose first 300 numbers are members (the first 30 opted out), and a 3,000-row file:
    2,850 distinct numbers in mixed formats, 60 invalid rows, then 90 repeats of new numbers."""
    sending_list = SendingListFactory(phone_number="+18005550100")
    now = timezone.now()
    existing = Contact.objects.bulk_create(
        Contact(phone_number=phone(i), first_name="Old")
        for i in range(1, EXISTING_ACTIVE + EXISTING_OPTED_OUT + 1)
    )
    ListContact.objects.bulk_create(
        ListContact(
            sending_list=sending_list,
            contact=contact,
            active=i > EXISTING_OPTED_OUT,
            unsub_reason="" if i > EXISTING_OPTED_OUT else "message",
            opted_out_at=None if i > EXISTING_OPTED_OUT else now,
            subscribed_at=now,
            status_changed_at=now,
            signup_method="api",
        )
        for i, contact in enumerate(existing, start=1)
    )
    ListStatusCount.objects.bulk_create(
        [
            ListStatusCount(sending_list=sending_list, status="active", count=EXISTING_ACTIVE),
            ListStatusCount(sending_list=sending_list, status="message", count=EXISTING_OPTED_OUT),
        ]
    )
    lines = ["Phone Number,First Name,State"]
    distinct = NEW + EXISTING_ACTIVE + EXISTING_OPTED_OUT
    bad = 0
    for i in range(1, distinct + 1):
        lines.append(f"{national(i) if i % 2 else phone(i)[1:]},N{i},CA")
        if i % 47 == 0 and bad < INVALID:
            bad += 1
            lines.append(f"555-{bad:04d},Bad{bad},NY")
    while bad < INVALID:
        bad += 1
        lines.append(f"555-{bad:04d},Bad{bad},NY")
    lines += [f"{phone(i)},N{i},TX" for i in range(2000, 2000 + DUPLICATES)]
    assert len(lines) == ROWS + 1
    upload = SimpleUploadedFile("big.csv", ("\n".join(lines) + "\n").encode())
    job = import_create(
        sending_list=sending_list, uploaded_file=upload, actor=Actor.system("test"), chunk_rows=400
    )
    return sending_list, job


def assert_imported_exactly_once(sending_list, job):
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED
    assert (job.total_chunks, job.chunks_done) == (8, 8)
    assert {
        name: getattr(job, name)
        for name in COUNT_FIELDS
        if name != "opted_out"  # an opt-out file's count
    } == {
        "rows_read": ROWS,
        "contacts_created": NEW,
        "contacts_updated": EXISTING_ACTIVE + EXISTING_OPTED_OUT,
        "memberships_created": NEW,
        "memberships_updated": EXISTING_ACTIVE,
        "skipped_opted_out": EXISTING_OPTED_OUT,
        "skipped_blocked": 0,
        "duplicates": DUPLICATES,
        "errors": INVALID,
    }
    total = NEW + EXISTING_ACTIVE + EXISTING_OPTED_OUT
    assert Contact.objects.count() == total
    assert ListContact.objects.filter(sending_list=sending_list).count() == total
    assert ListContact.objects.filter(sending_list=sending_list, active=False).count() == EXISTING_OPTED_OUT
    events = SubscriptionEvent.objects.filter(actor_kind=ActorKind.IMPORT, actor_id=str(job.pk))
    assert events.count() == NEW
    assert events.values("list_contact_id").distinct().count() == NEW
    assert set(events.values_list("kind", flat=True)) == {EventKind.SUBSCRIBED}
    assert job.row_errors.count() == INVALID
    assert list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]["active"] == (
        EXISTING_ACTIVE + NEW
    )
    assert ListContact.objects.get(contact__phone_number=phone(2000)).custom_fields == {"state": "TX"}
    assert ListContact.objects.get(contact__phone_number=phone(5)).custom_fields == {}  # opted out: untouched


def test_a_real_worker_imports_a_file_in_parallel_chunks(shared_media, celery_worker):
    sending_list, job = prepare_list()

    import_start(consent_attestation="They signed up in store.", job=job)

    wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.COMPLETED, timeout_s=120)
    assert_imported_exactly_once(sending_list, job)


def _blocked_on_events_lock(database: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND query ILIKE %s",
            # Whatever statement the chunk writes its events with (COPY or INSERT … SELECT).
            [database, "%sendinglists_subscriptionevent%"],
        )
        return cursor.fetchone()[0]


def test_a_worker_killed_mid_chunk_leaves_no_duplicate_once_the_task_runs_again(
    shared_media, celery_worker, monkeypatch
):
    sending_list, job = prepare_list()
    database = connection.settings_dict["NAME"]
    # Another transaction holds the events table, so every chunk stops half-way through its writes
    # (contacts and memberships inserted, not committed) until the worker is killed.
    blocker = psycopg.connect(_test_database_url())
    try:
        blocker.execute("LOCK TABLE sendinglists_subscriptionevent IN SHARE MODE")
        import_start(consent_attestation="They signed up in store.", job=job)
        wait_for(lambda: _blocked_on_events_lock(database) >= 1, timeout_s=60)
        celery_worker.kill()
    finally:
        # Released on every path: a lock left behind would block the test database's teardown.
        blocker.rollback()
        blocker.close()

    def orphans_gone():
        return (
            _blocked_on_events_lock(database) == 0 and not ImportChunk.objects.filter(applied=True).exists()
        )

    wait_for(orphans_gone, timeout_s=30)
    job.refresh_from_db()
    assert (job.status, job.chunks_done, job.rows_read) == (ImportStatus.RUNNING, 0, 0)
    assert Contact.objects.count() == EXISTING_ACTIVE + EXISTING_OPTED_OUT  # nothing half-imported

    # The broker hands unacknowledged tasks back once their visibility timeout has passed.
    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT_S", "1")
    celery_worker.start()

    wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == ImportStatus.COMPLETED, timeout_s=120)
    assert_imported_exactly_once(sending_list, job)
