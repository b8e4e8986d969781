"""Column guessing and mapping validation."""

import pytest
from django.core.exceptions import ValidationError

from sendinglists.imports.detect import sniff_delimiter, sniff_encoding
from sendinglists.imports.mapping import guess_mapping, mapping_clean, normalize_header
from tests.factories import CustomFieldFactory


def guess(header, rows=(), custom_fields=None):
    return guess_mapping(
        header=header, sample_rows=list(rows), custom_fields=custom_fields or {}, region="US"
    )


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("phone", "phone"),
        ("Phone Number", "phone"),
        ("PHONE_NUMBER", "phone"),
        (" mobile ", "phone"),
        ("Cell", "phone"),
        ("Cell Phone", "phone"),
        ("First Name", "first_name"),
        ("first-name", "first_name"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Name", "full_name"),
        ("Full name", "full_name"),
        ("Surname", "last_name"),
        ("Time Zone", "timezone"),
        ("Carrier", "carrier"),
        ("Tags", "tags"),
    ],
)
def test_headers_are_guessed_ignoring_case_spacing_and_punctuation(header, target):
    assert guess([header])["0"] == target


def test_other_columns_are_proposed_as_text_custom_fields_keyed_by_their_slug():
    assert guess(["Phone", "State", "Favorite Color", "Signup Date (UTC)"]) == {
        "0": "phone",
        "1": "custom:state",
        "2": "custom:favorite_color",
        "3": "custom:signup_date_utc",
    }


def test_an_existing_custom_field_with_the_slug_is_reused(db):
    field = CustomFieldFactory(key="score", field_type="number")

    assert guess(["phone", "Score"], custom_fields={"score": field}) == {"0": "phone", "1": "custom:score"}


def test_a_second_phone_like_column_becomes_a_custom_field():
    assert guess(["Phone", "Mobile", "Email", "E-mail"]) == {
        "0": "phone",
        "1": "custom:mobile",
        "2": "email",
        "3": "custom:e_mail",
    }


def test_the_error_reports_own_columns_are_ignored():
    assert guess(["phone", "Import line", "Import error"]) == {"0": "phone", "1": "", "2": ""}


def test_without_a_phone_header_the_column_of_valid_numbers_is_the_phone():
    rows = [["Ana", "(415) 555-0101"], ["Ben", "415.555.0102"], ["Cleo", "nope"]]

    assert guess(["Who", "Digits"], rows) == {"0": "custom:who", "1": "phone"}


def test_normalize_header():
    assert normalize_header(" Phone-Number (Mobile) ") == "phonenumbermobile"


def test_a_mapping_may_name_columns_by_header_or_index(db):
    field = CustomFieldFactory(key="state")

    cleaned = mapping_clean(
        mapping={"Phone Number": "phone", "2": "custom:state", "first name": "first_name"},
        header=["Phone Number", "First Name", "State", "Notes"],
        custom_fields={"state": field},
    )

    assert cleaned == {"0": "phone", "1": "first_name", "2": "custom:state", "3": ""}


def test_a_bad_mapping_reports_every_problem_at_once():
    with pytest.raises(ValidationError) as caught:
        mapping_clean(
            mapping={
                "Email": "email",
                "Other": "email",
                "Nope": "phone",
                "Score": "custom:score:money",
                "X": "zip",
            },
            header=["Email", "Other", "Score", "X"],
            custom_fields={},
        )

    assert caught.value.message_dict["mapping"] == [
        "No column 'Nope' in the file (columns: Email, Other, Score, X).",
        "Column 'Score': unknown custom field type 'money' (use one of: text, number, date, boolean, choice).",
        "Column 'X': unknown field 'zip' (use one of: phone, email, first_name, last_name, full_name, timezone, "
        "carrier, tags, reason, custom:<key>, custom:<key>:<type>, ignore).",
        "No column is mapped to the phone number; map the column that holds the numbers to phone.",
        "Email is mapped from more than one column ('Email', 'Other').",
    ]


def test_a_new_field_cannot_change_the_type_of_an_existing_one(db):
    field = CustomFieldFactory(key="score", field_type="number")

    with pytest.raises(ValidationError) as caught:
        mapping_clean(
            mapping={"phone": "phone", "score": "custom:score:date"},
            header=["phone", "score"],
            custom_fields={"score": field},
        )

    assert caught.value.message_dict["mapping"] == [
        "Column 'score': the list's custom field 'score' is number, not date."
    ]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("phone,name\n1,a\n", ","),
        ("phone;name;score\n1;a;3,5\n2;b;4,0\n", ";"),
        ("phone\tname\n1\ta, b\n", "\t"),
        ("phone|name\n1|a\n", "|"),
        ("+14155550101\n+14155550102\n", ","),
    ],
)
def test_the_delimiter_is_the_one_that_splits_rows_consistently(text, delimiter):
    assert sniff_delimiter(text) == delimiter


def test_latin1_bytes_that_are_not_windows_1252_are_read_as_latin1():
    assert sniff_encoding("phone,name\n1,Ren\x81e\n".encode("latin-1")).label == "Latin-1 (ISO-8859-1)"
