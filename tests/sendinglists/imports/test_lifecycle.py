"""An import's life: start, progress, cancel, failure, resume, and the error report round trip."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import timezone

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import ImportStatus
from sendinglists.imports.models import ImportChunk
from sendinglists.imports.running import import_cancel, import_resume, imports_resume_stalled
from sendinglists.imports.selectors import import_error_report_lines, import_progress
from sendinglists.imports.services import import_create, import_start
from sendinglists.models import ImportJob, ListContact
from tests.factories import UserFactory
from tests.sendinglists.imports.conftest import counts_of, csv_file, run_import


def report_rows(job) -> list[list[str]]:
    text = "".join(import_error_report_lines(job=job))
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_error_report_lists_exactly_the_failed_rows_as_they_were_with_line_and_reason(sending_list):
    job = run_import(
        sending_list,
        "Phone,First Name,Email\n+14155550101,Ana,ana@example.com\n555,Ben,ben@example.com\n"
        '+14155550103,Cleo,cleo@\n+14155550104,"Dev, Jr",\n',
    )

    assert report_rows(job) == [
        ["Phone", "First Name", "Email", "Import line", "Import error"],
        [
            "555",
            "Ben",
            "ben@example.com",
            "3",
            "Line 3: Phone: '555' is not a valid phone number (wrong number of digits).",
        ],
        ["+14155550103", "Cleo", "cleo@", "4", "Line 4: Email: 'cleo@' is not a valid email address."],
    ]


def test_a_fixed_error_report_uploaded_again_imports_with_zero_errors(sending_list):
    job = run_import(
        sending_list,
        "Phone,First Name,Email,State\n+14155550101,Ana,ana@example.com,CA\n555,Ben,ben@example.com,NY\n"
        "+14155550103,Cleo,cleo@,TX\n",
    )
    assert counts_of(job)["errors"] == 2
    rows = report_rows(job)
    rows[1][0] = "(415) 555-0102"
    rows[2][2] = "cleo@example.com"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)

    again = run_import(sending_list, ("\ufeff" + buffer.getvalue()).encode())

    assert again.mapping == {
        "0": "phone",
        "1": "first_name",
        "2": "email",
        "3": "custom:state",
        "4": "",
        "5": "",
    }
    assert counts_of(again) == {"rows_read": 2, "contacts_created": 2, "memberships_created": 2}
    assert list(
        ListContact.objects.filter(sending_list=sending_list)
        .order_by("contact__phone_number")
        .values_list("contact__phone_number", "contact__email", "custom_fields")
    ) == [
        ("+14155550101", "ana@example.com", {"state": "CA"}),
        ("+14155550102", "ben@example.com", {"state": "NY"}),
        ("+14155550103", "cleo@example.com", {"state": "TX"}),
    ]


def test_progress_reports_rows_done_rate_and_counts(sending_list):
    job = run_import(sending_list, "phone\n+14155550101\n+14155550102\nbad\n", chunk_rows=2)

    progress = import_progress(job=job)

    assert {k: progress[k] for k in ("status", "is_finished", "rows_total", "rows_done", "percent")} == {
        "status": "completed",
        "is_finished": True,
        "rows_total": 3,
        "rows_done": 3,
        "percent": 100.0,
    }
    assert (progress["chunks_total"], progress["chunks_done"], progress["seconds_left"]) == (2, 2, None)
    assert progress["counts"] == {
        "rows_read": 3,
        "contacts_created": 2,
        "contacts_updated": 0,
        "memberships_created": 2,
        "memberships_updated": 0,
        "skipped_opted_out": 0,
        "skipped_blocked": 0,
        "opted_out": 0,
        "duplicates": 0,
        "errors": 1,
    }


def test_a_cancelled_import_runs_no_further_chunks(sending_list):
    job = import_create(
        sending_list=sending_list,
        uploaded_file=csv_file("phone\n+14155550101\n+14155550102\n+14155550103\n"),
        chunk_rows=2,
    )
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        import_start(consent_attestation="They signed up in store.", job=job)
    assert import_cancel(job=job) is True

    for callback in callbacks:  # the enqueued chunk tasks arrive after the cancel
        callback()

    job.refresh_from_db()
    assert (job.status, job.rows_read, job.chunks_done) == (ImportStatus.CANCELLED, 0, 0)
    assert Contact.objects.count() == 0
    assert import_cancel(job=job) is False


def test_an_import_starts_only_once(sending_list):
    job = run_import(sending_list, "phone\n+14155550101\n")

    with pytest.raises(ValidationError) as caught:
        import_start(consent_attestation="They signed up in store.", job=job)

    assert caught.value.message_dict["status"] == ["This import is completed; it cannot start again."]
    assert ListContact.objects.count() == 1


def test_a_chunk_that_cannot_be_applied_fails_the_import_with_its_reason_and_keeps_applied_chunks(
    sending_list,
):
    from sendinglists.models import CustomField

    job = import_create(
        sending_list=sending_list,
        uploaded_file=csv_file("phone,state\n+14155550101,CA\n+14155550102,NY\n+14155550103,TX\n"),
        chunk_rows=2,
    )
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        import_start(consent_attestation="They signed up in store.", job=job)
    callbacks[0]()
    CustomField.objects.filter(key="state").delete()  # the mapping now names a field that is gone
    callbacks[1]()

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.failure_reason == "Chunk 2 (from line 3) could not be applied: KeyError: 'state'"
    assert (job.rows_read, job.chunks_done, Contact.objects.count()) == (1, 1, 1)


def test_resume_enqueues_only_the_chunks_not_applied(sending_list):
    job = import_create(
        sending_list=sending_list,
        uploaded_file=csv_file("phone\n+14155550101\n+14155550102\n+14155550103\n"),
        chunk_rows=2,
    )
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        import_start(consent_attestation="They signed up in store.", job=job)
    callbacks[0]()  # the first chunk ran; the second task was lost with its worker
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING

    with TestCase.captureOnCommitCallbacks(execute=True) as resumed:
        assert import_resume(job=job) == 1

    job.refresh_from_db()
    assert len(resumed) >= 1
    assert (job.status, job.rows_read, job.memberships_created) == (ImportStatus.COMPLETED, 3, 3)
    assert list(ImportChunk.objects.filter(job=job).values_list("applied", flat=True)) == [True, True]


def test_the_stalled_import_sweep_resumes_imports_without_recent_progress(sending_list):
    job = import_create(sending_list=sending_list, uploaded_file=csv_file("phone\n+14155550101\n"))
    with TestCase.captureOnCommitCallbacks(execute=False):
        import_start(consent_attestation="They signed up in store.", job=job)

    assert imports_resume_stalled(stalled_after_s=3600) == 0
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    with TestCase.captureOnCommitCallbacks(execute=False) as enqueued:
        assert imports_resume_stalled(stalled_after_s=600) == 1
        assert imports_resume_stalled(stalled_after_s=600) == 0  # resumed: it waits another period
    for callback in enqueued:
        callback()

    job.refresh_from_db()
    assert (job.status, job.memberships_created) == (ImportStatus.COMPLETED, 1)


def test_the_job_records_who_started_it(sending_list):
    user = UserFactory(username="olivia")
    job = import_create(
        sending_list=sending_list, uploaded_file=csv_file("phone\n+14155550101\n"), actor=Actor.for_user(user)
    )

    assert (job.created_by, job.api_token, job.original_filename) == (user, None, "contacts.csv")
    assert ImportJob.objects.get().file.name.startswith("imports/")


def test_deleting_an_import_deletes_its_bookkeeping(sending_list):
    from sendinglists.imports.models import ImportRowError, ImportSeenPhone

    job = import_create(sending_list=sending_list, uploaded_file=csv_file("phone\n+14155550101\nbad\n"))
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        import_start(consent_attestation="They signed up in store.", job=job)
    callbacks[0]()  # the chunk ran; the cleanup task has not
    assert (
        ImportSeenPhone.objects.filter(job=job).count(),
        ImportRowError.objects.filter(job=job).count(),
    ) == (1, 1)

    job.delete()

    assert (ImportSeenPhone.objects.count(), ImportRowError.objects.count(), ImportChunk.objects.count()) == (
        0,
        0,
        0,
    )
    assert ListContact.objects.count() == 1  # what the import did stays
