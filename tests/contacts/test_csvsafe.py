import datetime as dt
from decimal import Decimal

import pytest

from contacts.csvsafe import neutralize_formula, restore_formula


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("+14155551234 =1+1", "'+14155551234 =1+1"),
        ("-", "'-"),
        ("+", "'+"),
        ("-1e10", "'-1e10"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("'=already quoted", "''=already quoted"),
        ("''+1", "'''+1"),
    ],
)
def test_text_starting_with_a_formula_character_gets_a_quote_prefix(value, expected):
    assert neutralize_formula(value) == expected


@pytest.mark.parametrize(
    "value",
    ["Jane", "", "jane@example.com", "a=b", "x+1", " =leading space", "'Connor", "O'Brien", "'"],
)
def test_ordinary_text_is_unchanged(value):
    assert neutralize_formula(value) == value


@pytest.mark.parametrize("value", ["+14155551234", "+447911123456", "-12.50", "-7", "+3.25"])
def test_a_plain_signed_number_such_as_an_e164_phone_is_unchanged(value):
    assert neutralize_formula(value) == value


@pytest.mark.parametrize(
    "value", [None, -5, 3.5, Decimal("-12.50"), True, dt.date(2024, 1, 2), ["=x"], {"a": "=b"}]
)
def test_values_that_are_not_text_are_returned_as_they_are(value):
    assert neutralize_formula(value) is value


def test_a_bare_formula_character_is_neutralized():
    assert [neutralize_formula(ch) for ch in "=+-@\t\r"] == ["'=", "'+", "'-", "'@", "'\t", "'\r"]


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil.example","click")',
        "@SUM(A1:A2)",
        "+cmd",
        "-2+3",
        "\t=1+1",
        "\r=1+1",
        "'=already quoted",
        "''=twice",
        "'+14155551234",
        "+14155551234",
        "-12.50",
        "'Connor",
        "O'Brien",
        "'",
        "''",
        "Jane",
        "",
    ],
)
def test_restore_formula_undoes_exactly_what_neutralize_formula_did(value):
    assert restore_formula(neutralize_formula(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'=Bob", "=Bob"),
        ("'+14155550100", "+14155550100"),
        ("'-5", "-5"),
        ("'\t=1", "\t=1"),
        ("''=x", "'=x"),
        ("'Connor", "'Connor"),
        ("'", "'"),
        ("Jane", "Jane"),
    ],
)
def test_restore_formula_removes_one_quote_before_a_formula_character(value, expected):
    assert restore_formula(value) == expected
