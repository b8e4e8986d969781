"""Spreadsheet formula injection: exported text that a spreadsheet would run as a formula.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is evaluated by Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`), so a contact who names themselves
`=cmd|' /C calc'!A0` must not reach an operator's spreadsheet as a formula. Every CSV/TSV export
passes its text cells through `neutralize_formula`.

A plain signed number (`+14155551234`, `-12.50`) is left alone: it cannot run anything, and quoting
it would turn an exported E.164 phone number into `'+14155551234`, which the CSV import (rightly)
refuses, so an export would no longer import.
"""

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def neutralize_formula(value):
    """`value` with a `'` in front when it is text a spreadsheet would read as a formula.

    Anything that is not a string (numbers, dates, None) is returned unchanged, and so is a string
    that is only a signed number: both are data, not formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
