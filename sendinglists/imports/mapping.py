"""Which column becomes what: guessing from headers (and from content when there is no header),
validating a mapping a person or API consumer chose, and compiling it for the row loop.

A mapping is `{column index (str): target}`; a target is one of CONTACT_TARGETS, `custom:<key>` (an
existing custom field of the list, or a new text field), `custom:<key>:<type>` (a new field of that
type), or "" (ignore the column). The page, the command (`--map COLUMN=FIELD`) and the API all
speak this form; columns may also be named by header instead of index.
"""

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from contacts.phones import normalize_phone
from sendinglists.choices import FieldType

CONTACT_TARGETS = {
    "phone": "Phone number",
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name (split into first and last)",
    "timezone": "Time zone",
    "carrier": "Carrier",
    "tags": "Tags (comma-separated)",
    "reason": "Opt-out reason (opt-out files)",
}
# Contact fields a row sets directly (the rest are derived or go elsewhere).
CONTACT_VALUE_FIELDS = ("email", "first_name", "last_name", "timezone", "carrier")
CUSTOM_PREFIX = "custom:"
IGNORE = ""
# The two columns an error report adds; re-uploading a fixed report ignores them.
REPORT_LINE_COLUMN = "Import line"
REPORT_ERROR_COLUMN = "Import error"

_SYNONYMS = {
    "phone": "phone",
    "phonenumber": "phone",
    "phoneno": "phone",
    "phonenum": "phone",
    "mobile": "phone",
    "mobilenumber": "phone",
    "mobilephone": "phone",
    "mobileno": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "cellnumber": "phone",
    "cellular": "phone",
    "telephone": "phone",
    "tel": "phone",
    "telephonenumber": "phone",
    "msisdn": "phone",
    "number": "phone",
    "smsnumber": "phone",
    "contactnumber": "phone",
    "phonee164": "phone",
    "email": "email",
    "emailaddress": "email",
    "mail": "email",
    "emailid": "email",
    "firstname": "first_name",
    "first": "first_name",
    "givenname": "first_name",
    "fname": "first_name",
    "forename": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "lname": "last_name",
    "name": "full_name",
    "fullname": "full_name",
    "contactname": "full_name",
    "customername": "full_name",
    "timezone": "timezone",
    "tz": "timezone",
    "tzname": "timezone",
    "carrier": "carrier",
    "mobilecarrier": "carrier",
    "network": "carrier",
    "operator": "carrier",
    "tags": "tags",
    "tag": "tags",
    "labels": "tags",
    "reason": "reason",
    "unsubreason": "reason",
    "optoutreason": "reason",
    "importline": IGNORE,
    "importerror": IGNORE,
}
_GENERATED_HEADER = re.compile(r"^Column \d+$")


def normalize_header(header: str) -> str:
    """`Phone Number`, `phone_number`, ` PHONE-number ` -> `phonenumber`."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


def custom_key_for(header: str) -> str:
    """The custom field key proposed for a header: its slug (`State` -> `state`)."""
    return slugify(header).replace("-", "_")[:64].strip("_")


def guess_mapping(
    *, header: list[str], sample_rows: list[list[str]], custom_fields: dict, region: str
) -> dict[str, str]:
    """Propose a target per column; `custom_fields` is the list's {key: CustomField}.

    Known headers map to contact fields (first one wins: a second phone-like column becomes a
    custom field); other named columns become text custom fields keyed by their slug (an existing
    field with that key is reused). When no header names a phone column, the column whose values
    are mostly valid numbers is the phone.
    """
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        target = _SYNONYMS.get(normalize_header(name))
        if target is None or (target and target in used and target != "tags"):
            target = None
        if target is None:
            key = "" if _GENERATED_HEADER.match(name) else custom_key_for(name)
            if key:
                while f"{CUSTOM_PREFIX}{key}" in used:
                    key = f"{key}_{index + 1}"
                target = f"{CUSTOM_PREFIX}{key}"
            else:
                target = IGNORE
        if target:
            used.add(target)
        mapping[str(index)] = target
    if "phone" not in used:
        column = _phone_column_by_content(len(header), sample_rows, region)
        if column is not None:
            mapping[str(column)] = "phone"
    for index, name in enumerate(header):
        if "email" in mapping.values():
            break
        if mapping[str(index)] == IGNORE and _GENERATED_HEADER.match(name):
            values = [row[index] for row in sample_rows if index < len(row) and row[index].strip()]
            if values and sum("@" in value for value in values) / len(values) > 0.5:
                mapping[str(index)] = "email"
    return mapping


def _phone_column_by_content(width: int, rows: list[list[str]], region: str) -> int | None:
    best, best_share = None, 0.5
    for index in range(width):
        values = [row[index] for row in rows if index < len(row) and row[index].strip()]
        if not values:
            continue
        share = sum(normalize_phone(value, region).is_valid for value in values) / len(values)
        if share > best_share:
            best, best_share = index, share
    return best


def header_for(header: list[str], index: int) -> str:
    return header[index] if index < len(header) else f"Column {index + 1}"


def mapping_clean(*, mapping: dict, header: list[str], custom_fields: dict) -> dict[str, str]:
    """Validate a mapping; keys may be column indexes or header names. Every problem is reported
    at once (ValidationError keyed `mapping`). Returns `{index: target}` for every column."""
    errors: list[str] = []
    by_name = _names(header)
    cleaned = dict.fromkeys((str(i) for i in range(len(header))), IGNORE)
    for column, raw_target in (mapping or {}).items():
        index = _column_index(str(column), by_name, len(header))
        if index is None:
            errors.append(f"No column {column!r} in the file (columns: {', '.join(header) or 'none'}).")
            continue
        target, problem = _clean_target(str(raw_target or "").strip(), custom_fields)
        if problem:
            errors.append(f"Column {header_for(header, index)!r}: {problem}")
            continue
        cleaned[str(index)] = target
    targets = [t for t in cleaned.values() if t]
    phones = targets.count("phone")
    if phones == 0:
        errors.append(
            "No column is mapped to the phone number; map the column that holds the numbers to phone."
        )
    for target in dict.fromkeys(targets):
        if target != "tags" and targets.count(target) > 1:
            where = ", ".join(repr(header_for(header, int(i))) for i, t in cleaned.items() if t == target)
            errors.append(f"{_target_label(target)} is mapped from more than one column ({where}).")
    if errors:
        raise ValidationError({"mapping": errors})
    return cleaned


def _names(header: list[str]) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for index, name in enumerate(header):
        by_name.setdefault(name.strip().lower(), index)
        by_name.setdefault(normalize_header(name), index)
    return by_name


def _column_index(column: str, by_name: dict, width: int) -> int | None:
    index = by_name.get(column.strip().lower())
    if index is None and normalize_header(column):
        index = by_name.get(normalize_header(column))
    if index is None and column.isdigit() and int(column) < width:
        index = int(column)
    return index


def mapping_override(*, mapping: dict[str, str], overrides: dict, header: list[str]) -> dict[str, str]:
    """`mapping` (by index) with some columns, named by header or index, set to other targets; the
    result still needs `mapping_clean`. An unknown column is a ValidationError keyed `mapping`."""
    by_name = _names(header)
    merged = dict(mapping)
    unknown = []
    for column, target in overrides.items():
        index = _column_index(str(column), by_name, len(header))
        if index is None:
            unknown.append(f"No column {column!r} in the file (columns: {', '.join(header) or 'none'}).")
            continue
        merged[str(index)] = target
    if unknown:
        raise ValidationError({"mapping": unknown})
    return merged


def _clean_target(target: str, custom_fields: dict) -> tuple[str, str]:
    if target in ("", "ignore", "-"):
        return IGNORE, ""
    if target in CONTACT_TARGETS:
        return target, ""
    if not target.startswith(CUSTOM_PREFIX):
        known = ", ".join([*CONTACT_TARGETS, "custom:<key>", "custom:<key>:<type>", "ignore"])
        return "", f"unknown field {target!r} (use one of: {known})."
    key, _, field_type = target[len(CUSTOM_PREFIX) :].partition(":")
    if not key or custom_key_for(key) != key:
        return "", f"{key!r} is not a valid custom field key (lower-case letters, digits and _)."
    field = custom_fields.get(key)
    if field is not None:
        if field_type and field_type != field.field_type:
            return "", f"the list's custom field {key!r} is {field.field_type}, not {field_type}."
        return f"{CUSTOM_PREFIX}{key}", ""
    if field_type and field_type not in FieldType.values:
        return "", f"unknown custom field type {field_type!r} (use one of: {', '.join(FieldType.values)})."
    if field_type == FieldType.CHOICE:
        return "", "a new choice field needs its choices: define it on the list first."
    return f"{CUSTOM_PREFIX}{key}:{field_type or FieldType.TEXT}", ""


def _target_label(target: str) -> str:
    if target.startswith(CUSTOM_PREFIX):
        return f"Custom field {target[len(CUSTOM_PREFIX) :].partition(':')[0]!r}"
    return CONTACT_TARGETS.get(target, target)


def new_custom_fields(mapping: dict[str, str]) -> list[tuple[str, str]]:
    """(key, type) of the custom fields a cleaned mapping creates."""
    fields = []
    for target in mapping.values():
        if target.startswith(CUSTOM_PREFIX) and target.count(":") == 2:
            key, field_type = target[len(CUSTOM_PREFIX) :].split(":")
            fields.append((key, field_type))
    return fields


def mapping_resolved(mapping: dict[str, str]) -> dict[str, str]:
    """The mapping once its new custom fields exist: `custom:<key>:<type>` -> `custom:<key>`."""
    return {
        index: (target.rsplit(":", 1)[0] if target.count(":") == 2 else target)
        for index, target in mapping.items()
    }


def target_label(target: str, custom_fields: dict) -> str:
    """What a person reads for a target on the import page."""
    if not target:
        return "Ignore"
    if target.startswith(CUSTOM_PREFIX):
        key, _, field_type = target[len(CUSTOM_PREFIX) :].partition(":")
        field = custom_fields.get(key)
        if field is not None:
            return f"Custom field: {field.label} ({field.get_field_type_display()})"
        return f"New custom field: {key} ({field_type or FieldType.TEXT})"
    return CONTACT_TARGETS.get(target, target)


@dataclass(frozen=True, slots=True)
class CustomColumn:
    index: int
    key: str
    label: str
    field_type: str
    choices: tuple


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """A cleaned, resolved mapping in the shape the row loop reads fastest."""

    width: int
    header: tuple
    phone: int
    values: tuple
    """(contact field, column index) pairs."""
    full_name: int | None
    tags: tuple
    custom: tuple
    reason: int | None = None
    """The opt-out reason column of an opt-out file."""


def mapping_compile(*, mapping: dict[str, str], header: list[str], custom_fields: dict) -> CompiledMapping:
    values, tags, custom = [], [], []
    phone = full_name = reason = None
    for index_text, target in sorted(mapping.items(), key=lambda item: int(item[0])):
        index = int(index_text)
        if target == "phone":
            phone = index
        elif target == "reason":
            reason = index
        elif target == "full_name":
            full_name = index
        elif target == "tags":
            tags.append(index)
        elif target in CONTACT_VALUE_FIELDS:
            values.append((target, index))
        elif target.startswith(CUSTOM_PREFIX):
            field = custom_fields[target[len(CUSTOM_PREFIX) :]]
            custom.append(
                CustomColumn(index, field.key, field.label, field.field_type, tuple(field.choices or ()))
            )
    if phone is None:
        raise ValidationError({"mapping": ["No column is mapped to the phone number."]})
    return CompiledMapping(
        width=len(header),
        header=tuple(header),
        phone=phone,
        values=tuple(values),
        full_name=full_name,
        tags=tuple(tags),
        custom=tuple(custom),
        reason=reason,
    )
