"""Files as real files come: encodings, delimiters, quoting, ragged rows, and the files that cannot
be imported at all, each with its message."""

import codecs

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.imports.models import ImportChunk, ImportRowError
from sendinglists.imports.selectors import import_preview
from sendinglists.imports.services import import_create, import_start
from sendinglists.models import ImportJob, ListContact
from tests.sendinglists.imports.conftest import counts_of, csv_file, run_import

ACCENTED = "phone,first_name,last_name\n+14155550101,José,Müller\n+14155550102,Zoë,Ørsted\n"


def create(sending_list, content, **kwargs) -> ImportJob:
    return import_create(
        sending_list=sending_list, uploaded_file=csv_file(content), actor=Actor.system("t"), **kwargs
    )


def file_error(sending_list, content, **kwargs) -> str:
    with pytest.raises(ValidationError) as caught:
        create(sending_list, content, **kwargs)
    return caught.value.message_dict["file"][0]


def names() -> list[tuple[str, str]]:
    return list(Contact.objects.order_by("phone_number").values_list("first_name", "last_name"))


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (ACCENTED.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + ACCENTED.encode("utf-8"), "UTF-8 (with BOM)"),
        (ACCENTED.encode("utf-16"), "UTF-16 LE"),
        (codecs.BOM_UTF16_BE + ACCENTED.encode("utf-16-be"), "UTF-16 BE"),
        (ACCENTED.encode("utf-16-le"), "UTF-16 LE"),
        (ACCENTED.replace("Ørsted", "Orsted").encode("cp1252"), "Windows-1252"),
    ],
)
def test_every_encoding_real_files_have_imports_the_same_names(sending_list, data, label):
    job = run_import(sending_list, data)

    assert job.encoding == label
    expected_last = "Orsted" if label == "Windows-1252" else "Ørsted"
    assert names() == [("José", "Müller"), ("Zoë", expected_last)]
    assert counts_of(job) == {"rows_read": 2, "contacts_created": 2, "memberships_created": 2}


def test_a_file_that_turns_out_not_to_be_utf8_after_the_first_block_falls_back_to_windows_1252(sending_list):
    filler = "".join(f"+1415555{n:04d},Ana,Smith\n" for n in range(1, 3000))  # > 64 KB of ASCII
    data = ("phone,first_name,last_name\n" + filler).encode() + "+14155559999,Renée,Café\n".encode("cp1252")

    job = run_import(sending_list, data)

    assert job.encoding == "Windows-1252"
    assert Contact.objects.get(phone_number="+14155559999").last_name == "Café"
    assert job.rows_read == 3000


@pytest.mark.parametrize(("delimiter", "score"), [(",", "3.5"), (";", "3,5"), ("\t", "3,5"), ("|", "3,5")])
def test_comma_semicolon_tab_and_pipe_delimiters_are_detected(sending_list, delimiter, score):
    content = f"phone{delimiter}first_name{delimiter}score\n+14155550101{delimiter}Ana{delimiter}{score}\n"

    job = run_import(sending_list, content)

    assert job.delimiter == delimiter
    assert job.header == ["phone", "first_name", "score"]
    assert names() == [("Ana", "")]


def test_quoted_fields_with_embedded_newlines_and_delimiters_keep_their_line_numbers(sending_list):
    content = (
        "phone,first_name,notes\n"
        '+14155550101,Ana,"line one\nline two, with comma"\n'
        '+14155550102,"Ben ""The Man""",x\n'
        'oops,Cleo,"a\nb"\n'
        "+14155550103,Dev,y\n"
    )

    job = run_import(sending_list, content, chunk_rows=2)

    assert job.total_chunks == 3  # the header counts towards the first chunk
    assert counts_of(job) == {"rows_read": 4, "contacts_created": 3, "memberships_created": 3, "errors": 1}
    assert ListContact.objects.get(contact__phone_number="+14155550101").custom_fields == {
        "notes": "line one\nline two, with comma"
    }
    assert Contact.objects.get(phone_number="+14155550102").first_name == 'Ben "The Man"'
    error = ImportRowError.objects.get(job=job)
    assert (error.line, error.values) == (5, ["oops", "Cleo", "a\nb"])


def test_blank_lines_are_skipped_and_not_counted(sending_list):
    job = run_import(sending_list, "\n\nphone,first_name\n\n+14155550101,Ana\n\n  \n,\n+14155550102,Ben\n\n")

    assert job.header == ["phone", "first_name"]
    assert counts_of(job) == {"rows_read": 2, "contacts_created": 2, "memberships_created": 2}


def test_crlf_and_old_mac_line_endings_import_the_same(sending_list):
    job = run_import(sending_list, "phone,first_name\r+14155550101,Ana\r+14155550102,Ben\r")
    other = run_import(sending_list, "phone,first_name\r\n+14155550103,Cleo\r\n")

    assert (job.rows_read, other.rows_read) == (2, 1)
    assert names() == [("Ana", ""), ("Ben", ""), ("Cleo", "")]


def test_rows_with_extra_or_missing_columns_are_reported_unless_nothing_mapped_is_missing(sending_list):
    content = (
        "phone,first_name,state,notes\n"
        "+14155550101,Ana,CA,hello\n"
        "+14155550102,Ben,NY\n"  # the last column is missing: nothing lost, imported
        "+14155550103,Cleo\n"  # the state column is missing: reported
        "+14155550104,Dev,TX,hi,extra\n"  # a shifted row: reported
        "+14155550105,Eli,WA,ok,,\n"  # trailing empty cells: imported
    )

    job = run_import(
        sending_list,
        content,
        mapping={"phone": "phone", "first_name": "first_name", "state": "custom:state", "notes": ""},
    )

    assert counts_of(job) == {"rows_read": 5, "contacts_created": 3, "memberships_created": 3, "errors": 2}
    assert list(ImportRowError.objects.filter(job=job).values_list("line", "reason")) == [
        (4, "Line 4: the row has 2 values but the header has 4 columns (missing: 'state')."),
        (
            5,
            "Line 5: the row has 5 values but the header has 4 columns (a value with an unquoted delimiter?).",
        ),
    ]


def test_a_file_without_a_header_row_is_detected_and_its_phone_column_found_by_content(sending_list):
    job = run_import(sending_list, "Ana,+14155550101,ana@example.com\nBen,(415) 555-0102,ben@example.com\n")

    assert job.has_header is False
    assert job.header == ["Column 1", "Column 2", "Column 3"]
    assert job.mapping == {"0": "", "1": "phone", "2": "email"}
    assert counts_of(job) == {"rows_read": 2, "contacts_created": 2, "memberships_created": 2}


def test_the_preview_shows_the_first_data_rows(sending_list):
    job = create(
        sending_list, "phone,first_name\n" + "".join(f"+1415555{n:04d},N{n}\n" for n in range(1, 20))
    )

    preview = import_preview(job=job)

    assert len(preview) == 10
    assert preview[0] == ["+14155550001", "N1"]
    assert (job.rows_total, job.status, job.encoding, job.delimiter) == (19, "pending", "UTF-8", ",")


def test_an_empty_file_is_refused(sending_list):
    assert file_error(sending_list, b"") == "The file is empty."


def test_a_file_of_blank_lines_is_refused(sending_list):
    assert file_error(sending_list, "\n\n \n\r\n") == "The file is empty: it has no rows, only blank lines."


def test_a_header_without_rows_is_refused(sending_list):
    assert file_error(sending_list, "phone,first_name\n\n") == "The file has a header row but no data rows."


def test_a_binary_file_is_refused(sending_list):
    assert file_error(sending_list, b"\x00\x01\x02\x03binary\x00stuff\xff\xfe" * 10) == (
        "This is not a text CSV file: it contains binary data (a NUL byte at byte 1)."
    )


def test_binary_data_after_the_first_block_is_refused(sending_list):
    data = b"phone\n" + b"+14155550101\n" * 6000 + b"\x00\x00garbage"

    assert file_error(sending_list, data) == (
        "This is not a text CSV file: it contains binary data (a NUL character near byte 78,007)."
    )
    assert ImportJob.objects.count() == 0


def test_an_excel_workbook_is_refused_with_what_to_do(sending_list):
    assert file_error(sending_list, b"PK\x03\x04\x14\x00\x06\x00rest-of-xlsx") == (
        "This is a ZIP or Excel workbook (.xlsx), not a CSV file: in Excel use File > Save As > CSV UTF-8, "
        "then upload the .csv file."
    )


def test_a_file_over_the_size_limit_is_refused(sending_list, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1024 * 1024

    message = file_error(sending_list, b"phone\n" + b"+14155550101\n" * 90_000)

    assert message == (
        "The file is 1.1 MB; the largest file an import accepts is 1.0 MB. Split it into smaller files."
    )
    assert ImportJob.objects.count() == 0


def test_a_file_with_no_phone_column_cannot_start(sending_list):
    job = create(sending_list, "first_name,last_name\nAna,Smith\n")

    with pytest.raises(ValidationError) as caught:
        import_start(consent_attestation="They signed up in store.", job=job)

    assert caught.value.message_dict["mapping"] == [
        "No column is mapped to the phone number; map the column that holds the numbers to phone."
    ]
    job.refresh_from_db()
    assert job.status == "pending"
    assert Contact.objects.count() == 0


def test_a_quoted_field_that_is_never_closed_is_one_reported_row_not_a_crash(sending_list):
    content = 'phone,first_name\n+14155550101,Ana\n+14155550102,"Ben\n' + "+14155550103,x\n" * 20

    job = run_import(sending_list, content)

    assert job.status == "completed"
    assert counts_of(job) == {"rows_read": 2, "contacts_created": 1, "memberships_created": 1, "errors": 1}
    error = ImportRowError.objects.get(job=job)
    assert (error.line, error.reason) == (3, "Line 3: first_name: longer than 100 characters.")
    assert error.values[1].startswith("Ben\n+14155550103,x\n")


def test_the_chunk_plan_covers_the_whole_file_at_row_boundaries(sending_list):
    rows = "".join(f'+1415555{n:04d},"N\n{n}"\n' for n in range(1, 11))
    job = create(sending_list, "phone,name\n" + rows, chunk_rows=4)

    chunks = list(ImportChunk.objects.filter(job=job).values_list("index", "first_line", "rows"))

    assert chunks == [(0, 1, 4), (1, 8, 4), (2, 16, 3)]
    stored = job.file.open("rb").read()
    spans = ImportChunk.objects.filter(job=job).values_list("start_byte", "end_byte")
    assert [s for s, _ in spans][0] == 0 and [e for _, e in spans][-1] == len(stored)
    assert all(stored[start - 1 : start] == b"\n" for start, _ in list(spans)[1:])


def test_an_unknown_region_is_refused(sending_list):
    with pytest.raises(ValidationError) as caught:
        create(sending_list, "phone\n+14155550101\n", region="ZZ")

    assert caught.value.message_dict["region"] == ["'ZZ' is not a known country code (use e.g. US, GB, DE)."]
    assert ImportJob.objects.count() == 0


def test_a_first_row_taken_for_a_header_can_be_imported_as_data(sending_list):
    job = create(sending_list, "Ana,+14155550101\nBen,+14155550102\n", has_header=True)
    assert (job.header, job.rows_total) == (["Ana", "+14155550101"], 1)

    with TestCase.captureOnCommitCallbacks(execute=True):
        import_start(
            consent_attestation="They signed up in store.",
            job=job,
            mapping={"1": "phone", "0": "first_name"},
            has_header=False,
        )

    job.refresh_from_db()
    assert (job.has_header, job.header, job.rows_total, job.rows_read) == (
        False,
        ["Column 1", "Column 2"],
        2,
        2,
    )
    assert names() == [("Ana", ""), ("Ben", "")]
