"""Typed custom field values: one converter per type, shared by the API, pages, imports, audiences."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from sendinglists.choices import FieldType

MAX_TEXT_LENGTH = 500
MAX_NUMBER_DIGITS = 30
_TRUE = {"true", "yes", "y", "1", "t", "on"}
_FALSE = {"false", "no", "n", "0", "f", "off"}
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")


def is_blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def convert_value(field_type: str, raw, choices: list | None = None):
    """The stored JSON value of `raw` for a field of `field_type`; ValueError says why not.

    Dates are stored as ISO strings (so they compare correctly as text and as JSON), numbers as
    JSON numbers, booleans as JSON booleans, choices as the canonical spelling of the choice.
    """
    if field_type == FieldType.TEXT:
        text = str(raw).strip()
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueError(f"longer than {MAX_TEXT_LENGTH} characters")
        return text
    if field_type == FieldType.NUMBER:
        if isinstance(raw, bool):
            raise ValueError("expected a number, got a yes/no value")
        if isinstance(raw, int | float):
            number = Decimal(str(raw))
        else:
            try:
                number = Decimal(str(raw).strip().replace(",", ""))
            except InvalidOperation:
                raise ValueError(f"{str(raw)[:40]!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{str(raw)[:40]!r} is not a finite number")
        # int() of 1e999999999 would build a billion-digit integer, and a stored integer past 4,300
        # digits cannot even be written as JSON: numbers that large are refused, not converted.
        if number and number.adjusted() >= MAX_NUMBER_DIGITS:
            raise ValueError(
                f"{str(raw)[:40]!r} is too large (a number has at most {MAX_NUMBER_DIGITS} digits)"
            )
        return int(number) if number == number.to_integral_value() else float(number)
    if field_type == FieldType.DATE:
        if isinstance(raw, dt.date):
            return raw.isoformat()
        text = str(raw).strip()
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date().isoformat()
            except ValueError:
                continue
        raise ValueError(f"{text[:40]!r} is not a date (use YYYY-MM-DD)")
    if field_type == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{str(raw)[:40]!r} is not yes/no (use true or false)")
    if field_type == FieldType.CHOICE:
        text = str(raw).strip()
        for choice in choices or []:
            if str(choice).lower() == text.lower():
                return choice
        allowed = ", ".join(str(c) for c in choices or [])
        raise ValueError(f"{text[:40]!r} is not one of: {allowed}")
    raise ValueError(f"unknown field type {field_type!r}")


def custom_fields_clean(*, fields: list, values: dict) -> dict:
    """Validate `values` keyed by field key or by field id against the list's `fields`.

    Blank values are dropped (a merge never blanks a known value). Every problem is reported at
    once as a ValidationError keyed `custom_fields.<key>`.
    """
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "Expected an object keyed by field key or field id."})
    by_key = {field.key: field for field in fields}
    by_id = {str(field.pk): field for field in fields}
    cleaned, errors = {}, {}
    for name, raw in values.items():
        field = by_key.get(str(name)) or by_id.get(str(name))
        if field is None:
            errors[f"custom_fields.{name}"] = (
                f"No custom field {name!r} on this list; define it first (keys: {', '.join(sorted(by_key)) or 'none'})."
            )
            continue
        if is_blank(raw):
            continue
        try:
            cleaned[field.key] = convert_value(field.field_type, raw, field.choices)
        except ValueError as exc:
            errors[f"custom_fields.{field.key}"] = f"{field.label}: {exc}."
    if errors:
        raise ValidationError(errors)
    return cleaned
