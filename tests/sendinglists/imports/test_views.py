"""The import pages through the Django test client: upload, preview and mapping, start, progress,
counts, cancel, error report; login and permissions."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission

from contacts.models import Contact
from sendinglists.choices import ImportStatus
from sendinglists.models import CustomField, ImportJob, ListContact
from tests.factories import UserFactory
from tests.sendinglists.imports.conftest import csv_file, run_import

CONTENT = (
    "Phone Number,First Name,E-mail,State,Score\n+14155550101,Ana,ana@example.com,CA,10\n555,Ben,,NY,x\n"
)


def staff_with(username, *codenames):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def operator(db):
    return staff_with("operator", "view_importjob", "add_importjob", "view_sendinglist")


@pytest.fixture
def viewer(db):
    return staff_with("viewer", "view_importjob")


def upload(client, sending_list, content=CONTENT, name="contacts.csv", **data):
    return client.post(
        f"/imports/new/?list={sending_list.pk}",
        {"sending_list": sending_list.pk, "file": csv_file(content, name=name), "region": "", **data},
    )


def test_anonymous_users_go_to_the_login_page(client, sending_list):
    response = client.get("/imports/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_uploading_needs_the_add_import_permission(client, sending_list, viewer):
    client.force_login(viewer)

    assert client.get("/imports/").status_code == 200
    assert client.get(f"/imports/new/?list={sending_list.pk}").status_code == 403
    assert upload(client, sending_list).status_code == 403
    assert ImportJob.objects.count() == 0


def test_upload_shows_the_preview_detected_format_and_guessed_mapping(client, sending_list, operator):
    client.force_login(operator)

    page = client.get(f"/imports/new/?list={sending_list.pk}")
    assert page.status_code == 200
    assert page.context["form"]["sending_list"].value() == sending_list.pk

    response = upload(client, sending_list)

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    detail = client.get(response["Location"])
    html = detail.content.decode()
    assert detail.status_code == 200
    assert '<dd id="detected-encoding">UTF-8</dd>' in html
    assert '<dd id="detected-delimiter">comma</dd>' in html
    assert 'id="no-phone-column"' not in html
    assert detail.context["preview"] == [
        ["+14155550101", "Ana", "ana@example.com", "CA", "10"],
        ["555", "Ben", "", "NY", "x"],
    ]
    form = detail.context["form"]
    assert [form[f"col_{i}"].value() for i in range(5)] == ["phone", "first_name", "email", "new", "new"]
    assert [form[f"col_{i}_key"].value() for i in (3, 4)] == ["state", "score"]
    assert job.status == ImportStatus.PENDING
    assert Contact.objects.count() == 0


def test_starting_with_a_chosen_mapping_runs_the_import_and_shows_the_counts(
    client, sending_list, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/imports/{job.pk}/",
            {
                "has_header": "on",
                "consent_confirmed": "on",
                "consent_how": "Signed up in store",
                "col_0": "phone",
                "col_1": "first_name",
                "col_2": "email",
                "col_3": "new",
                "col_3_key": "home_state",
                "col_3_type": "text",
                "col_4": "new",
                "col_4_key": "score",
                "col_4_type": "number",
            },
        )

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED
    assert (job.memberships_created, job.errors) == (1, 2 - 1)
    assert list(CustomField.objects.order_by("key").values_list("key", "field_type")) == [
        ("home_state", "text"),
        ("score", "number"),
    ]
    assert ListContact.objects.get().custom_fields == {"home_state": "CA", "score": 10}
    page = client.get(f"/imports/{job.pk}/")
    html = page.content.decode()
    assert '<td class="num" data-count="rows_read">2</td>' in html
    assert '<td class="num" data-count="memberships_created">1</td>' in html
    assert '<td class="num" data-count="errors">1</td>' in html
    assert f'href="/imports/{job.pk}/errors.csv"' in html


def test_a_mapping_without_phone_is_refused_on_the_page_and_nothing_starts(client, sending_list, operator):
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()

    response = client.post(
        f"/imports/{job.pk}/",
        {
            "has_header": "on",
            "consent_confirmed": "on",
            "consent_how": "in store",
            "col_0": "",
            "col_1": "first_name",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "No column is mapped to the phone number; map the column that holds the numbers to phone."
    ]
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING


def test_a_viewer_cannot_start_an_import(client, sending_list, operator, viewer):
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()
    client.force_login(viewer)

    response = client.post(f"/imports/{job.pk}/", {"has_header": "on", "col_0": "phone"})

    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (
            b"PK\x03\x04rest",
            "This is a ZIP or Excel workbook (.xlsx), not a CSV file: in Excel use File &gt; Save As &gt; CSV UTF-8, then upload the .csv file.",
        ),
        (b"phone\n", "The file has a header row but no data rows."),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_on_the_upload_page(
    client, sending_list, operator, content, message
):
    client.force_login(operator)

    response = upload(client, sending_list, content=content)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_progress_endpoint_answers_json(client, sending_list, operator):
    job = run_import(sending_list, "phone\n+14155550101\n")
    client.force_login(operator)

    data = client.get(f"/imports/{job.pk}/progress/").json()

    assert {k: data[k] for k in ("status", "is_finished", "rows_done", "rows_total", "percent")} == {
        "status": "completed",
        "is_finished": True,
        "rows_done": 1,
        "rows_total": 1,
        "percent": 100.0,
    }
    assert data["counts"]["memberships_created"] == 1


def test_cancel_stops_a_pending_import(client, sending_list, operator):
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()

    response = client.post(f"/imports/{job.pk}/cancel/")

    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Cancelled: the rows counted below were imported" in page


def test_the_error_report_downloads_as_csv(client, sending_list, operator):
    job = run_import(sending_list, "phone,name\n+14155550101,Ana\nnope,Ben\n", name="spring.csv")
    client.force_login(operator)

    response = client.get(f"/imports/{job.pk}/errors.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="spring-errors-import-{job.pk}.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["phone", "name", "Import line", "Import error"],
        ["nope", "Ben", "3", "Line 3: phone: 'nope' is not a valid phone number (contains letters)."],
    ]


def test_the_index_lists_imports_newest_first_with_their_counts(
    client, sending_list, viewer, django_assert_max_num_queries
):
    first = run_import(sending_list, "phone\n+14155550101\n", name="first.csv")
    second = run_import(sending_list, "phone\n+14155550102\nbad\n", name="second.csv")
    client.force_login(viewer)

    with django_assert_max_num_queries(8):
        response = client.get("/imports/")

    assert [job.pk for job in response.context["jobs"]] == [second.pk, first.pk]
    html = response.content.decode()
    assert "second.csv" in html and "first.csv" in html
    assert f'<a href="/imports/{second.pk}/errors.csv">1</a>' in html


def test_the_preview_says_when_no_column_looks_like_phone_numbers(client, sending_list, operator):
    client.force_login(operator)
    upload(client, sending_list, content="Name,City\nAna,Paris\nBen,Lyon\n")
    job = ImportJob.objects.get()

    html = client.get(f"/imports/{job.pk}/").content.decode()

    assert 'id="no-phone-column"' in html
    assert "No column looks like phone numbers." in html
    assert job.status == ImportStatus.PENDING


def test_an_import_that_subscribes_waits_for_the_operators_consent_attestation(
    client, sending_list, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()
    mapping = {"has_header": "on", "col_0": "phone", "col_1": "first_name"}

    refused = client.post(f"/imports/{job.pk}/", mapping)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"/imports/{job.pk}/",
            {**mapping, "consent_confirmed": "on", "consent_how": "Signed up at the till"},
        )

    assert refused.status_code == 200
    assert refused.context["form"].errors == {
        "consent_confirmed": ["Confirm the contacts' consent to start an import that subscribes."],
        "consent_how": ["Say how these contacts gave consent."],
    }
    assert started.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED
    assert job.consent_attestation == (
        f"I confirm that these contacts gave consent to receive text messages from {sending_list.phone_number} "
        f"({sending_list.name}). How: Signed up at the till"
    )
    assert (job.attested_by, job.attested_at is not None) == (operator, True)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "Signed up at the till" in page


def test_an_opt_out_file_from_the_page_needs_no_attestation_and_opts_every_number_out(
    client, sending_list, operator, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    member = run_import(sending_list, "phone\n+14155550101\n").sending_list.memberships.get()

    upload(
        client, sending_list, content="phone,reason\n+14155550101,complaint\n+14155550102,\n", mode="opt_out"
    )
    job = ImportJob.objects.latest("id")
    detail = client.get(f"/imports/{job.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/", {"has_header": "on", "col_0": "phone", "col_1": "reason"})

    assert "This is an opt-out file" in detail
    job.refresh_from_db()
    assert (job.mode, job.status, job.opted_out, job.consent_attestation) == ("opt_out", "completed", 2, "")
    member.refresh_from_db()
    assert (member.active, member.unsub_reason) == (False, "complaint")
    assert ListContact.objects.get(contact__phone_number="+14155550102").active is False


HOSTILE = (
    "Phone,First name,=Note,Memo\n"
    '"=HYPERLINK(""http://evil.example"",""x"")",=Bob,@SUM(1+1),"\t=1+1"\n'
    "+cmd,''=quoted,-2+3,\"\r=1+1\"\n"
)


def test_the_error_report_download_neutralises_formulas(client, sending_list, operator):
    job = run_import(sending_list, HOSTILE)
    client.force_login(operator)

    response = client.get(f"/imports/{job.pk}/errors.csv")

    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = [row[:4] for row in csv.reader(io.StringIO(text, newline=""))]
    assert rows == [
        ["Phone", "First name", "'=Note", "Memo"],
        ['\'=HYPERLINK("http://evil.example","x")', "'=Bob", "'@SUM(1+1)", "'\t=1+1"],
        ["'+cmd", "''=quoted", "'-2+3", "'\r=1+1"],
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"PK\x03\x04rest",
        b"phone\n",
        b"\xff\xfe\x00\x00",
        b"Phone,Name\n+14155550101,Ana\x00\n",
        b"Phone,A,B,C\n+14155550101,1,2,3\n",
    ],
)
def test_a_refused_upload_on_the_page_leaves_no_import_and_no_stored_file(
    client, settings, sending_list, operator, content
):
    settings.IMPORT_MAX_COLUMNS = 3
    client.force_login(operator)

    response = upload(client, sending_list, content=content)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert ImportJob.objects.count() == 0
    root = settings.MEDIA_ROOT
    assert not root.exists() or [path for path in root.rglob("*") if path.is_file()] == []


def test_starting_an_import_over_the_custom_field_limit_shows_the_limit_and_creates_none(
    client, settings, sending_list, operator
):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 1
    client.force_login(operator)
    upload(client, sending_list)
    job = ImportJob.objects.get()

    response = client.post(
        f"/imports/{job.pk}/",
        {
            "has_header": "on",
            "consent_confirmed": "on",
            "consent_how": "Signed up in store",
            "col_0": "phone",
            "col_3": "new",
            "col_3_key": "state",
            "col_3_type": "text",
            "col_4": "new",
            "col_4_key": "score",
            "col_4_type": "number",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme Deals' has 0, "
        "and 2 more would make 2. Ignore the columns you do not need, or map them to existing fields."
    ]
    assert CustomField.objects.count() == 0
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING
