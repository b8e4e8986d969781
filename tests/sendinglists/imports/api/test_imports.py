import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.models import CustomField, ImportJob, ListContact
from sendinglists.services import list_contact_opt_out, list_contact_subscribe
from tests.factories import ContactFactory, SendingListFactory

CSV = (
    "Phone,First name,Plan\n"
    "14155550001,Ana,pro\n"
    "(415) 555-0002,Ben,free\n"
    "not a phone,Cleo,pro\n"
    "+14155550004,Dev,pro\n"
)

CONSENT = "They signed up at checkout."


def upload(client, sending_list, content: str = CSV, **fields):
    file = SimpleUploadedFile("contacts.csv", content.encode(), content_type="text/csv")
    return client.post(
        "/api/v1/imports/",
        {"file": file, "sending_list": sending_list.pk, "consent_attestation": CONSENT, **fields},
        format="multipart",
    )


def test_upload_with_a_mapping_imports_and_reports_counts(client, django_capture_on_commit_callbacks):
    sending_list = SendingListFactory()
    stopped = ContactFactory(phone_number="+14155550004")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=stopped, signup_method="api", actor=Actor.system("test")
    ).membership
    list_contact_opt_out(membership=membership, reason="message", actor=Actor.system("test"))
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(
            client, sending_list, mapping='{"0": "phone", "1": "first_name", "2": "custom:plan"}'
        )
    assert response.status_code == 201, response.json()
    job = ImportJob.objects.get()
    body = client.get(f"/api/v1/imports/{job.pk}/").json()
    assert body["status"] == "completed"
    assert body["sending_list"] == sending_list.pk
    assert body["rows_total"] == 4
    assert body["counts"] == {
        "rows_read": 4,
        "contacts_created": 2,
        "contacts_updated": 1,
        "memberships_created": 2,
        "memberships_updated": 0,
        "skipped_opted_out": 1,
        "skipped_blocked": 0,
        "opted_out": 0,
        "duplicates": 0,
        "errors": 1,
    }
    assert body["error_report"] == f"http://testserver/api/v1/imports/{job.pk}/errors"
    assert ListContact.objects.get(
        sending_list=sending_list, contact__phone_number="+14155550001"
    ).custom_fields == {"plan": "pro"}
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "message")
    assert job.api_token_id == client.token.pk


def test_error_report_downloads_the_failed_rows_as_csv(client, django_capture_on_commit_callbacks):
    sending_list = SendingListFactory()
    with django_capture_on_commit_callbacks(execute=True):
        job_id = upload(client, sending_list).json()["id"]
    response = client.get(f"/api/v1/imports/{job_id}/errors/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "Phone,First name,Plan,Import line,Import error"
    assert len(lines) == 2
    assert lines[1].startswith("not a phone,Cleo,pro,4,")


def test_upload_without_start_waits_with_the_guessed_mapping_then_starts(
    client, django_capture_on_commit_callbacks
):
    sending_list = SendingListFactory()
    response = upload(client, sending_list, start="false")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert body["header"] == ["Phone", "First name", "Plan"]
    assert body["mapping"]["0"] == "phone"
    assert Contact.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"/api/v1/imports/{body['id']}/start/",
            {"mapping": {"0": "phone"}, "consent_attestation": CONSENT},
            format="json",
        )
    assert started.status_code == 200
    assert client.get(f"/api/v1/imports/{body['id']}/").json()["status"] == "completed"
    assert Contact.objects.count() == 3
    again = client.post(f"/api/v1/imports/{body['id']}/start/", {}, format="json")
    assert again.status_code == 400
    assert again.json()["field_errors"] == {"status": ["This import is completed; it cannot start again."]}


def test_a_bad_file_or_mapping_is_a_400_naming_it(client):
    sending_list = SendingListFactory()
    response = upload(client, sending_list, content="")
    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["file"]
    response = upload(client, sending_list, mapping="[1, 2]")
    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "mapping": ['Expected a JSON object, e.g. {"0": "phone", "2": "custom:plan"}.']
    }
    response = upload(client, sending_list, mapping='{"9": "phone"}')
    assert response.status_code == 400
    assert "mapping" in next(iter(response.json()["field_errors"]))
    assert ImportJob.objects.count() == 0


def test_cancel_a_waiting_import(client):
    sending_list = SendingListFactory()
    job_id = upload(client, sending_list, start="false").json()["id"]
    response = client.post(f"/api/v1/imports/{job_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Contact.objects.count() == 0


def test_imports_are_scoped_and_read_only_tokens_cannot_upload(make_client):
    mine, theirs = SendingListFactory(), SendingListFactory()
    admin = make_client()
    their_job = upload(admin, theirs, start="false").json()["id"]
    scoped = make_client(sending_lists=[mine])
    assert scoped.get("/api/v1/imports/").json()["results"] == []
    assert scoped.get(f"/api/v1/imports/{their_job}/").status_code == 404
    assert scoped.get(f"/api/v1/imports/{their_job}/errors/").status_code == 404
    assert scoped.post(f"/api/v1/imports/{their_job}/start/", {}, format="json").status_code == 404
    assert scoped.post(f"/api/v1/imports/{their_job}/cancel/").status_code == 404
    response = upload(scoped, theirs)
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"sending_list": [f"No sending list {theirs.pk}."]}
    assert ImportJob.objects.get(pk=their_job).status == "pending"
    read_only = make_client(read_only=True)
    assert upload(read_only, mine).status_code == 403
    assert read_only.post(f"/api/v1/imports/{their_job}/cancel/").status_code == 403
    assert ImportJob.objects.count() == 1
    assert read_only.get(f"/api/v1/imports/{their_job}/").status_code == 200


def test_an_upload_retried_with_its_idempotency_key_creates_one_import(client):
    sending_list = SendingListFactory()

    def post(content: str = CSV):
        file = SimpleUploadedFile("contacts.csv", content.encode(), content_type="text/csv")
        data = {"file": file, "sending_list": sending_list.pk, "start": "false"}
        return client.post(
            "/api/v1/imports/", data, format="multipart", headers={"Idempotency-Key": "upload-1"}
        )

    first, retried = post(), post()
    other_file = post(CSV + "4155550005,Eli,pro\n")

    assert (first.status_code, retried.status_code) == (201, 201), first.json()
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.json()["id"] == first.json()["id"]
    assert ImportJob.objects.count() == 1
    # Same key, same file name, other content: a different request.
    assert (other_file.status_code, other_file.json()["code"]) == (422, "idempotency_key_reused")


def test_a_fixed_error_report_imports_its_hostile_cells_as_the_original_text(
    client, django_capture_on_commit_callbacks
):
    sending_list = SendingListFactory()
    hostile = (
        "Phone,First name,=Note,Memo\n"
        '"=HYPERLINK(""http://evil.example"",""x"")",=Bob,@SUM(1+1),"\t=1+1"\n'
        "+cmd,''=quoted,-2+3,\"\r=1+1\"\n"
        "not a phone,+Ann,'x,plain\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(client, sending_list, content=hostile)
    assert first.status_code == 201, first.json()
    job_id = first.json()["id"]
    assert client.get(f"/api/v1/imports/{job_id}/").json()["counts"]["errors"] == 3
    report = client.get(f"/api/v1/imports/{job_id}/errors/")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Phone", "First name", "'=Note", "Memo", "Import line", "Import error"]
    assert [row[:4] for row in rows[1:]] == [
        ['\'=HYPERLINK("http://evil.example","x")', "'=Bob", "'@SUM(1+1)", "'\t=1+1"],
        ["'+cmd", "''=quoted", "'-2+3", "'\r=1+1"],
        ["not a phone", "'+Ann", "'x", "plain"],
    ]
    # The person fixes the phone column (one number quoted the way a spreadsheet keeps its +).
    for row, phone in zip(rows[1:], ["'+14155550101", "+14155550102", "(415) 555-0103"], strict=True):
        row[0] = phone
    fixed = io.StringIO(newline="")
    csv.writer(fixed).writerows(rows)

    with django_capture_on_commit_callbacks(execute=True):
        second = upload(client, sending_list, content="\ufeff" + fixed.getvalue())

    assert second.status_code == 201, second.json()
    counts = client.get(f"/api/v1/imports/{second.json()['id']}/").json()["counts"]
    assert (counts["errors"], counts["memberships_created"]) == (0, 3)
    stored = {
        membership.contact.phone_number: (membership.contact.first_name, membership.custom_fields)
        for membership in ListContact.objects.filter(sending_list=sending_list).select_related("contact")
    }
    # Text custom values are trimmed on import (a direct import of the first file would trim too).
    assert stored == {
        "+14155550101": ("=Bob", {"note": "@SUM(1+1)", "memo": "=1+1"}),
        "+14155550102": ("'=quoted", {"note": "-2+3", "memo": "=1+1"}),
        "+14155550103": ("+Ann", {"note": "'x", "memo": "plain"}),
    }


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return (
        sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
        if root.exists()
        else []
    )


@pytest.mark.parametrize(
    ("content", "fields", "headers", "refused"),
    [
        # No column holds phone numbers: the guessed mapping cannot start.
        ("Name,City\nAna,Paris\n", {}, {}, "mapping"),
        ("Name,City\nAna,Paris\n", {}, {"Idempotency-Key": "upload-no-phone"}, "mapping"),
        ("Phone,Plan\n+14155550001,pro\n", {"mapping": '{"1": "phone", "0": "phone"}'}, {}, "mapping"),
        ("phone\n", {}, {}, "file"),
        ("", {}, {}, "file"),
    ],
)
def test_a_refused_upload_leaves_no_import_and_no_stored_file(
    client, settings, content, fields, headers, refused
):
    sending_list = SendingListFactory()
    file = SimpleUploadedFile("contacts.csv", content.encode(), content_type="text/csv")

    response = client.post(
        "/api/v1/imports/",
        {"file": file, "sending_list": sending_list.pk, "consent_attestation": CONSENT, **fields},
        format="multipart",
        headers=headers,
    )

    assert response.status_code == 400, response.json()
    assert list(response.json()["field_errors"]) == [refused]
    assert ImportJob.objects.count() == 0
    assert stored_files(settings) == []


def test_a_file_whose_columns_would_pass_the_custom_field_limit_is_refused_and_creates_none(
    client, settings, django_capture_on_commit_callbacks
):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 3
    sending_list = SendingListFactory(name="Acme")
    CustomField.objects.create(sending_list=sending_list, key="plan", label="Plan")
    content = "Phone,Plan,A,B,C\n+14155550001,pro,1,2,3\n"

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, sending_list, content=content)

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "mapping": [
            "A list can have at most 3 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, "
            "and 3 more would make 4. Ignore the columns you do not need, or map them to existing fields."
        ]
    }
    assert list(CustomField.objects.values_list("key", flat=True)) == ["plan"]
    assert ImportJob.objects.count() == 0
    assert Contact.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        ignored = upload(
            client,
            sending_list,
            content=content,
            mapping='{"0": "phone", "1": "custom:plan", "2": "custom:a"}',
        )
    assert ignored.status_code == 201, ignored.json()
    assert sorted(CustomField.objects.values_list("key", flat=True)) == ["a", "plan"]


def test_a_file_with_10000_columns_is_refused_naming_the_limit(client, settings):
    sending_list = SendingListFactory()
    header = ",".join(["Phone", *(f"c{i}" for i in range(9999))])
    row = ",".join(["+14155550001", *("1" for _ in range(9999))])

    response = upload(client, sending_list, content=f"{header}\n{row}\n")

    assert response.status_code == 400
    assert response.json()["field_errors"] == {
        "file": [
            "The file has 10,000 columns; an import reads at most 500 (IMPORT_MAX_COLUMNS). "
            "Remove the columns you do not need and upload it again."
        ]
    }
    assert ImportJob.objects.count() == 0
    assert CustomField.objects.count() == 0
    assert stored_files(settings) == []
