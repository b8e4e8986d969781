"""Spreadsheet formula injection: exported text that a spreadsheet would run as a formula.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is evaluated by Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`), so a contact who names themselves
`=cmd|' /C calc'!A0` must not reach an operator's spreadsheet as a formula. Every CSV/TSV export
(and the import error report) passes its text cells through `neutralize_formula`, and the CSV import
reads every cell back through `restore_formula`, so an export or an error report imports again as
the text it came from.

A plain signed number (`+14155551234`, `-12.50`) is left alone: it cannot run anything, and quoting
it would needlessly turn an exported E.164 phone number into `'+14155551234` (which the import
would read back as `+14155551234` all the same).

The quoting is reversible: text that already starts with quotes before a formula character
(`'=x`) gets one more (`''=x`), so `restore_formula(neutralize_formula(text)) == text` for any text.
"""

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
# Quotes, then a formula character: the shape `neutralize_formula` quotes and `restore_formula` unquotes.
_QUOTED = re.compile(r"'*[=+\-@\t\r]")


def neutralize_formula(value):
    """`value` with a `'` in front when it is text a spreadsheet would read as a formula (or text
    that already starts with `'` before a formula character, so the quote can be undone exactly).

    Anything that is not a string (numbers, dates, None) is returned unchanged, and so is a string
    that is only a signed number: both are data, not formulas.
    """
    if isinstance(value, str) and _QUOTED.match(value) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def restore_formula(value: str) -> str:
    """The text `neutralize_formula` quoted: one leading `'` removed when a formula character (after
    any further quotes) follows it. `'+14155551234` (a number a person quoted so a spreadsheet keeps
    its `+`) reads as `+14155551234`; `'Connor` and `O'Brien` are left as they are."""
    if value[:1] == "'" and _QUOTED.match(value, 1):
        return value[1:]
    return value
