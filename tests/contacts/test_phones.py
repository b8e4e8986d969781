import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.choices import LineType
from contacts.phones import _normalize, format_phone_for_display, normalize_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # seed 000's E.164 form and seed 001's digits-without-plus form
        ("+14155551234", "US", "+14155551234"),
        ("14155551234", "US", "+14155551234"),
        ("(415) 555-1234", "US", "+14155551234"),
        ("415-555-1234", "US", "+14155551234"),
        ("415.555.1234", "US", "+14155551234"),
        ("415 555 1234", "US", "+14155551234"),
        ("  +1 (415) 555-1234  ", "US", "+14155551234"),
        ("1-415-555-1234", "US", "+14155551234"),
        ("+1.415.555.1234", "US", "+14155551234"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("447911123456", "US", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("+33 6 12 34 56 78", "US", "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+1 800 555 1234", "US", "+18005551234"),
        ("(415)\u00a0555-1234", "US", "+14155551234"),
    ],
)
def test_normalize_phone_accepts_real_formats(raw, region, expected):
    result = normalize_phone(raw, region)

    assert result.is_valid, result.error
    assert result.e164 == expected
    assert result.error == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("abc", "contains letters"),
        ("1-800-FLOWERS", "contains letters"),
        ("415#555#1234", "contains characters that are not part of a phone number"),
        ("12", "wrong number of digits"),
        ("555-1234", "not a valid number for US"),
        ("+999 1234567", "unknown country code"),
        ("1" * 70, "too long"),
        ("+1 415 555 12345678", "wrong number of digits"),
    ],
)
def test_normalize_phone_gives_a_specific_reason_for_invalid_input(raw, reason):
    result = normalize_phone(raw, "US")

    assert result.is_valid is False
    assert result.e164 == ""
    assert result.error == reason


def test_normalize_phone_without_region_needs_a_country_code():
    assert normalize_phone("(415) 555-1234", None).error == "no country code and no default region"
    assert normalize_phone("+14155551234", None).e164 == "+14155551234"


def test_normalize_phone_reports_line_type_where_the_digits_tell():
    assert normalize_phone("+447911123456").line_type == LineType.MOBILE
    assert normalize_phone("+442079460018").line_type == LineType.LANDLINE
    assert normalize_phone("+18005551234").line_type == LineType.TOLL_FREE
    # North American numbers do not say mobile or landline: only a carrier lookup can.
    assert normalize_phone("+14155551234").line_type == LineType.UNKNOWN


def test_unknown_region_falls_back_to_international_parsing():
    assert normalize_phone("+14155551234", "ZZ").e164 == "+14155551234"
    assert normalize_phone("4155551234", "zz").is_valid is False


def test_format_phone_for_display_is_national_at_home_and_international_abroad():
    assert format_phone_for_display("+14155551234", "US") == "(415) 555-1234"
    assert format_phone_for_display("+447911123456", "US") == "+44 7911 123456"
    assert format_phone_for_display("not a phone", "US") == "not a phone"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_normalize_phone_never_raises_on_arbitrary_text(text):
    result = normalize_phone(text, "US")

    assert result.is_valid == (result.error == "")
    assert result.is_valid == bool(result.e164)
    if result.is_valid:
        assert result.e164.startswith("+")
        assert result.e164[1:].isdigit()


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789 +-().", max_size=30), st.sampled_from(["US", "GB", "FR", "DE", "IN", None])
)
def test_normalize_phone_never_raises_on_phone_like_text(text, region):
    result = normalize_phone(text, region)

    assert isinstance(result.is_valid, bool)


# Valid numbers from the library's own metadata, in many regions: the round-trip property's input.
_EXAMPLES = [
    phonenumbers.example_number_for_type(region, number_type)
    for region in ["US", "CA", "GB", "FR", "DE", "IN", "BR", "AU", "MX", "JP", "ZA", "NG"]
    for number_type in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
]
_EXAMPLES = [number for number in _EXAMPLES if number is not None]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_EXAMPLES),
    st.sampled_from(["e164", "international", "national", "digits", "rfc3966"]),
)
def test_formatting_round_trips_to_the_same_e164(number, style):
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    text = {
        "e164": e164,
        "international": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        "national": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        "digits": e164.lstrip("+"),
        "rfc3966": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL).replace(
            " ", "-"
        ),
    }[style]

    result = normalize_phone(text, region)

    assert result.is_valid, (text, result.error)
    assert result.e164 == e164
    assert normalize_phone(result.e164, region).e164 == e164


_NANP_LIKE = st.builds(
    lambda prefix, digits, separators: (
        prefix + "".join(digit + separator for digit, separator in zip(digits, separators, strict=False))
    ),
    st.sampled_from(["", "+", "+1 ", "1-", "(", " ", "\u00a0", "1 ("]),
    st.text(alphabet="0123456789", min_size=8, max_size=12),
    st.lists(st.sampled_from(["", "", "", " ", "-", ".", ")", "/", "+"]), min_size=12, max_size=12),
)


@settings(max_examples=600, deadline=None)
@given(_NANP_LIKE, st.sampled_from(["US", "CA", "PR", "JM", "GB", "DE", "FR", None]))
def test_the_north_american_shortcut_answers_exactly_as_the_general_parse(text, region):
    # The import path builds +1 numbers directly instead of parsing them: the answer (number,
    # line type, or the reason it is invalid) must be the general path's, whatever the input.
    assert _normalize(text, region) == _normalize(text, region, nanp_shortcut=False)
