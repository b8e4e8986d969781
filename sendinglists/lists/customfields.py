"""Typed custom field values: one converter per type, shared by the API, pages, imports, audiences."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
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


@dataclass(slots=True)
class ResolvedValues:
    """Custom values resolved against field definitions (custom_values_resolve)."""

    by_list: dict[int, dict] = dataclass_field(default_factory=dict)
    """{sending_list_id: {key: typed value}}; with `keep_blanks`, None stands for "clear it"."""
    unknown: list[str] = dataclass_field(default_factory=list)
    """The names given that match no field among those offered (the caller words why)."""
    errors: dict[str, list[str]] = dataclass_field(default_factory=dict)
    """`custom_fields.<name as given>` -> messages: a value of the wrong type, a field given twice."""


def custom_values_resolve(*, fields: Iterable, values: dict, keep_blanks: bool = False) -> ResolvedValues:
    """The one rule for custom values keyed by field key or by field id (seed 001), against
    `fields`: the CustomFields of one sending list or of several.

    A name is a key when some field has that key, else a field id. A key may be all digits: a name
    that is both one field's id and another field's key is an error naming both, never a guess. A key names the field of that key on every list among `fields` that defines it (each
    value typed by its own list's field); an id names one field. Blank values are dropped (a merge
    never blanks a known value) unless `keep_blanks`, which keeps them as None (an explicit edit
    clears them). A field named twice (by key and by id) is an error, not a silent overwrite.
    """
    by_key: dict[str, list] = {}
    by_id = {}
    for field in fields:
        by_key.setdefault(field.key, []).append(field)
        by_id[str(field.pk)] = field
    resolved = ResolvedValues()
    named: dict[int, str] = {}  # field id -> the name that set it
    for name, raw in values.items():
        name = str(name)
        matches = by_key.get(name) or ([by_id[name]] if name in by_id else [])
        identified = by_id.get(name)
        if identified is not None and identified not in matches:
            others = ", ".join(sorted({repr(field.label) for field in matches}))
            resolved.errors.setdefault(f"custom_fields.{name}", []).append(
                f"{name!r} is both the id of the field {identified.label!r} (key {identified.key!r}) and "
                f"the key of {others}: name {identified.label!r} by its key {identified.key!r}, and "
                f"the other by its id."
            )
            continue
        if not matches:
            resolved.unknown.append(name)
            continue
        for field in matches:
            if field.pk in named:
                resolved.errors.setdefault(f"custom_fields.{name}", []).append(
                    f"{field.label}: given twice (as {named[field.pk]!r} and as {name!r})."
                )
                continue
            named[field.pk] = name
            if is_blank(raw):
                if keep_blanks:
                    resolved.by_list.setdefault(field.sending_list_id, {})[field.key] = None
                continue
            try:
                value = convert_value(field.field_type, raw, field.choices)
            except ValueError as exc:
                resolved.errors.setdefault(f"custom_fields.{name}", []).append(f"{field.label}: {exc}.")
                continue
            resolved.by_list.setdefault(field.sending_list_id, {})[field.key] = value
    return resolved


def custom_fields_clean(*, fields: list, values: dict) -> dict:
    """Validate `values` keyed by field key or by field id against one list's `fields`
    (custom_values_resolve's rule).

    Blank values are dropped (a merge never blanks a known value). Every problem is reported at
    once as a ValidationError keyed `custom_fields.<name>`.
    """
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": "Expected an object keyed by field key or field id."})
    resolved = custom_values_resolve(fields=fields, values=values)
    errors = dict(resolved.errors)
    keys = ", ".join(sorted({field.key for field in fields})) or "none"
    for name in resolved.unknown:
        errors[f"custom_fields.{name}"] = [
            f"No custom field {name!r} on this list; define it first (keys: {keys})."
        ]
    if errors:
        raise ValidationError(errors)
    return {key: value for values in resolved.by_list.values() for key, value in values.items()}
