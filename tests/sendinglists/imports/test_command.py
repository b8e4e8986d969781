"""`manage.py import_contacts`: the same import from the command line."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from contacts.models import Contact
from sendinglists.models import CustomField, ImportJob, ListContact

# The command commits like it does in production, so its chunks run right after the commit.
pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    if "--opt-outs" not in args and "--consent" not in args:
        args = (*args, "--consent", "They signed up in store.")
    call_command("import_contacts", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def contacts_csv(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "Phone Number,First Name,State\n+14155550101,Ana,CA\n(415) 555-0102,Ben,NY\nbad,Cleo,TX\n"
    )
    return path


def test_the_command_imports_with_the_pages_defaults_and_prints_progress_and_counts(
    sending_list, contacts_csv, tmp_path
):
    report = tmp_path / "errors.csv"

    output = run(
        str(contacts_csv), "--list", "(800) 555-0100", "--chunk-rows", "2", "--error-report", str(report)
    )

    job = ImportJob.objects.get()
    assert output.splitlines() == [
        f"Import #{job.pk} of contacts.csv into Acme Deals (+18005550100): 3 rows, UTF-8, comma-delimited, "
        "with a header row",
        output.splitlines()[1],
        output.splitlines()[2],
        "Columns: Phone Number -> Phone number, First Name -> First name, State -> Custom field: State (Text)",
        "Completed: 3 rows read; 2 contacts created, 0 updated; 2 memberships created, 0 already subscribed; "
        "0 skipped (opted out), 0 skipped (blocked); 0 duplicates; 1 errors",
        f"Error report: {report} (1 rows)",
    ]
    assert output.splitlines()[1].strip().startswith("33.3%  1/3 rows")
    assert output.splitlines()[2].strip().startswith("100.0%  3/3 rows")
    assert report.read_text(encoding="utf-8-sig").splitlines() == [
        "Phone Number,First Name,State,Import line,Import error",
        "bad,Cleo,TX,4,Line 4: Phone Number: 'bad' is not a valid phone number (contains letters).",
    ]
    assert list(CustomField.objects.values_list("key", "field_type")) == [("state", "text")]
    assert ListContact.objects.filter(sending_list=sending_list, signup_method="import").count() == 2


def test_map_overrides_the_guess_for_the_named_columns_only(sending_list, contacts_csv):
    run(str(contacts_csv), "--list", "+18005550100", "--map", "State=ignore", "--map", "1=last_name")

    assert list(Contact.objects.order_by("phone_number").values_list("first_name", "last_name")) == [
        ("", "Ana"),
        ("", "Ben"),
    ]
    assert CustomField.objects.count() == 0
    assert ImportJob.objects.get().mapping == {"0": "phone", "1": "last_name", "2": ""}


def test_region_applies_to_national_numbers(sending_list, tmp_path):
    path = tmp_path / "uk.csv"
    path.write_text("mobile\n07911 123456\n")

    run(str(path), "--list", "+18005550100", "--region", "GB")

    assert list(Contact.objects.values_list("phone_number", flat=True)) == ["+447911123456"]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("", [], "The file is empty."),
        (
            "first,last\nAna,Smith\n",
            [],
            "No column is mapped to the phone number; map the column that holds the numbers to phone.",
        ),
        ("phone\n+14155550101\n", ["--map", "Zip=phone"], "No column 'Zip' in the file (columns: phone)."),
        (
            "phone\n+14155550101\n",
            ["--map", "phone"],
            "--map 'phone': expected COLUMN=FIELD, e.g. --map 'Phone Number=phone'.",
        ),
        (
            "phone\n+14155550101\n",
            ["--map", "phone=zip"],
            "Column 'phone': unknown field 'zip' (use one of: phone, email, first_name, last_name, full_name, timezone, carrier, tags, reason, custom:<key>, custom:<key>:<type>, ignore). No column is mapped to the phone number; map the column that holds the numbers to phone.",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_exits_non_zero_with_a_one_line_reason(
    sending_list, settings, tmp_path, content, args, message
):
    path = tmp_path / "bad.csv"
    path.write_text(content)

    with pytest.raises(CommandError) as caught:
        run(str(path), "--list", "+18005550100", *args)

    assert str(caught.value) == message
    assert Contact.objects.count() == 0
    # A refused import leaves no job and no stored file.
    assert ImportJob.objects.count() == 0
    assert (
        not settings.MEDIA_ROOT.exists() or [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()] == []
    )


def test_an_unknown_list_or_a_missing_file_exits_non_zero(sending_list, contacts_csv, tmp_path):
    with pytest.raises(CommandError, match=r"^No sending list with the number \+18005559999\.$"):
        run(str(contacts_csv), "--list", "+18005559999")
    with pytest.raises(CommandError, match=r"^No such file: .*missing\.csv$"):
        run(str(tmp_path / "missing.csv"), "--list", "+18005550100")
    assert ImportJob.objects.count() == 0
