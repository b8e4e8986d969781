"""The row loop: cells in, a valid contact record or a row error (line, column, reason) out.

This is the only per-row Python in an import, so it is kept lean: one phone parse per distinct
text (cached), one conversion per distinct custom value of a typed field (cached), no per-row
queries. Rows with the same phone fold into one record (later non-blank values win, like
successive upserts that never blank a known value).
"""

import re
import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from contacts.models import MAX_TAGS_PER_CONTACT, Contact
from contacts.phones import normalize_phone
from sendinglists.choices import FieldType, UnsubReason
from sendinglists.imports.mapping import CompiledMapping
from sendinglists.lists.customfields import convert_value

TAG_SEPARATORS = str.maketrans({";": ",", "|": ","})
MAX_TAG_LENGTH = 50


class _EmailValidator(EmailValidator):
    """Django's email validator with its lazily compiled patterns resolved once: on a million rows
    the lazy proxies cost more than the matching."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


_validate_email = _EmailValidator()
_MAX_LENGTHS = {
    name: Contact._meta.get_field(name).max_length
    for name in ("email", "first_name", "last_name", "timezone", "carrier")
}


@lru_cache(maxsize=1)
def _time_zones() -> frozenset:
    return frozenset(zoneinfo.available_timezones())


@dataclass(slots=True)
class RowError:
    line: int
    column: str
    reason: str
    cells: list


@dataclass(slots=True)
class ValidRow:
    line: int
    phone: str
    line_type: str
    values: dict
    custom: dict
    tags: list
    cells: list
    reason: str = ""


@dataclass(slots=True)
class ContactRecord:
    """Every valid row of one phone in a chunk, folded."""

    phone: str
    line_type: str
    values: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)  # lower-case name -> name
    lines: list = field(default_factory=list)
    reason: str = ""  # opt-out files: the reason of its last row that gives one


class RowReader:
    """Validates rows against a compiled mapping; one instance per chunk (its caches are per chunk,
    on top of normalize_phone's process-wide cache)."""

    def __init__(self, mapping: CompiledMapping, region: str):
        self.mapping = mapping
        self.region = region
        self.phone_header = mapping.header[mapping.phone]
        self.needed_width = 1 + max(
            [
                mapping.phone,
                *(i for _, i in mapping.values),
                *(c.index for c in mapping.custom),
                *mapping.tags,
            ]
            + ([mapping.full_name] if mapping.full_name is not None else [])
            + ([mapping.reason] if mapping.reason is not None else [])
        )
        self._phones: dict = {}
        self._converted: dict = {}

    def read(self, rows) -> tuple[list[ValidRow], list[RowError], int]:
        """(valid rows, errors, rows read) for `rows` of (line, cells, csv_problem)."""
        mapping = self.mapping
        width = mapping.width
        needed = self.needed_width
        phone_index = mapping.phone
        phones = self._phones
        region = self.region
        valid: list[ValidRow] = []
        errors: list[RowError] = []
        read = 0
        for line, cells, csv_problem in rows:
            read += 1
            if cells is None:
                errors.append(RowError(line, "", f"Line {line}: {csv_problem}.", []))
                continue
            count = len(cells)
            if count != width:
                if count > width and "".join(cells[width:]).strip():
                    errors.append(
                        RowError(
                            line,
                            "",
                            f"Line {line}: the row has {count} values but the header has {width} columns "
                            "(a value with an unquoted delimiter?).",
                            cells,
                        )
                    )
                    continue
                if count < needed:
                    missing = ", ".join(repr(h) for h in mapping.header[count:needed])
                    errors.append(
                        RowError(
                            line,
                            "",
                            f"Line {line}: the row has {count} values but the header has {width} columns "
                            f"(missing: {missing}).",
                            cells,
                        )
                    )
                    continue
            raw = cells[phone_index]
            phone = phones.get(raw)
            if phone is None:
                phone = phones[raw] = normalize_phone(raw, region)
            problems = None
            if not phone.is_valid:
                shown = raw.strip()
                problems = [
                    (
                        self.phone_header,
                        f"{shown[:40]!r} is not a valid phone number ({phone.error})"
                        if shown
                        else "the phone number is empty",
                    )
                ]
            values, more = self._values(cells)
            if more:
                problems = [*(problems or []), *more]
            custom, more = self._custom(cells) if mapping.custom else ({}, None)
            if more:
                problems = [*(problems or []), *more]
            tags, more = self._tags(cells) if mapping.tags else ([], None)
            if more:
                problems = [*(problems or []), *more]
            reason = ""
            if mapping.reason is not None:
                reason, problem = opt_out_reason(cells[mapping.reason])
                if problem:
                    problems = [*(problems or []), (mapping.header[mapping.reason], problem)]
            if problems:
                errors.append(_row_error(line, problems, cells))
                continue
            valid.append(ValidRow(line, phone.e164, phone.line_type, values, custom, tags, cells, reason))
        return valid, errors, read

    def _values(self, cells: list) -> tuple[dict, list | None]:
        values = {}
        problems = None
        mapping = self.mapping
        if mapping.full_name is not None:
            first, last = split_full_name(cells[mapping.full_name])
            if first:
                values["first_name"] = first
            if last:
                values["last_name"] = last
        for name, index in mapping.values:
            value = cells[index].strip()
            if not value:
                continue
            problem = _check_value(name, value)
            if problem:
                problems = [*(problems or []), (mapping.header[index], problem)]
                continue
            values[name] = value
        for name in ("first_name", "last_name"):
            if len(values.get(name, "")) > _MAX_LENGTHS[name]:
                column = mapping.header[mapping.full_name] if mapping.full_name is not None else name
                problems = [
                    *(problems or []),
                    (column, f"longer than {_MAX_LENGTHS[name]} characters"),
                ]
        return values, problems

    def _custom(self, cells: list) -> tuple[dict, list | None]:
        custom = {}
        problems = None
        converted = self._converted
        for column in self.mapping.custom:
            raw = cells[column.index]
            if not raw or raw.isspace():
                continue
            if column.field_type == FieldType.TEXT:
                try:
                    custom[column.key] = convert_value(FieldType.TEXT, raw)
                except ValueError as exc:
                    problems = [*(problems or []), (self.mapping.header[column.index], str(exc))]
                continue
            cache_key = (column.index, raw)
            value = converted.get(cache_key, _MISSING)
            if value is _MISSING:
                try:
                    value = convert_value(column.field_type, raw, list(column.choices))
                except ValueError as exc:
                    value = _Invalid(str(exc))
                converted[cache_key] = value
            if isinstance(value, _Invalid):
                problems = [*(problems or []), (self.mapping.header[column.index], value.reason)]
                continue
            custom[column.key] = value
        return custom, problems

    def _tags(self, cells: list) -> tuple[list, list | None]:
        names: dict = {}
        for index in self.mapping.tags:
            for name in cells[index].translate(TAG_SEPARATORS).split(","):
                name = name.strip()
                if name:
                    if len(name) > MAX_TAG_LENGTH:
                        return [], [
                            (
                                self.mapping.header[index],
                                f"tag {name[:20]!r}… is longer than {MAX_TAG_LENGTH} characters",
                            )
                        ]
                    names.setdefault(name.lower(), name)
        if len(names) > MAX_TAGS_PER_CONTACT:
            index = self.mapping.tags[0]
            return [], [
                (
                    self.mapping.header[index],
                    f"{len(names)} tags; a contact can have at most {MAX_TAGS_PER_CONTACT}",
                )
            ]
        return list(names.values()), None


class _Invalid:
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


_MISSING = object()


def _check_value(name: str, value: str) -> str:
    if len(value) > _MAX_LENGTHS[name]:
        return f"longer than {_MAX_LENGTHS[name]} characters"
    if name == "email":
        try:
            _validate_email(value)
        except ValidationError:
            return f"{value[:60]!r} is not a valid email address"
    elif name == "timezone" and value not in _time_zones():
        return f"{value[:40]!r} is not a time zone (use an IANA name such as America/New_York)"
    return ""


def _row_error(line: int, problems: list, cells: list) -> RowError:
    columns = ", ".join(dict.fromkeys(column for column, _ in problems))
    reason = "; ".join(f"{column}: {problem}" for column, problem in problems)
    return RowError(line, columns[:200], f"Line {line}: {reason}.", cells)


_REASONS = {
    **{value: value for value in UnsubReason.values},
    **{str(label).lower(): value for value, label in UnsubReason.choices},
    "opted out": UnsubReason.MESSAGE,
    "opt-out": UnsubReason.MESSAGE,
    "stop": UnsubReason.MESSAGE,
}


def opt_out_reason(raw: str) -> tuple[str, str]:
    """(seed 000's reason value, "") for a reason cell (a value or its label, any case; empty is
    "", the import's default), or ("", why not)."""
    text = raw.strip().lower().replace("_", " ")
    if not text:
        return "", ""
    reason = _REASONS.get(text) or _REASONS.get(text.replace(" ", "_"))
    if reason is None:
        return "", (
            f"{raw.strip()[:40]!r} is not an opt-out reason (use message, bad_response, invalid_contact, "
            "manual or complaint)"
        )
    return reason, ""


def split_full_name(text: str) -> tuple[str, str]:
    """`Jane Doe` -> (Jane, Doe); `Mary Ann Smith` -> (Mary Ann, Smith); `Doe, Jane` -> (Jane, Doe)."""
    text = " ".join(text.split())
    if not text:
        return "", ""
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    first, _, last = text.rpartition(" ")
    if not first:
        return last, ""
    return first, last


def fold(valid: list[ValidRow], existing_tags: dict | None = None) -> tuple[dict, list[RowError]]:
    """Fold valid rows into one record per phone, in line order; `existing_tags` ({phone: {lower:
    name}}) enforces the tag limit per contact, which turns an offending row into an error."""
    records: dict[str, ContactRecord] = {}
    errors: list[RowError] = []
    for row in valid:
        record = records.get(row.phone)
        if row.tags and existing_tags is not None:
            current = dict(existing_tags.get(row.phone, {}))
            if record is not None:
                current.update(record.tags)
            added = [name for name in row.tags if name.lower() not in current]
            if len(current) + len(added) > MAX_TAGS_PER_CONTACT:
                errors.append(
                    RowError(
                        row.line,
                        "tags",
                        f"Line {row.line}: Tags: the contact already has {len(current)} tags "
                        f"({', '.join(sorted(current.values()))}); adding {', '.join(added)} would make "
                        f"{len(current) + len(added)} (at most {MAX_TAGS_PER_CONTACT}).",
                        row.cells,
                    )
                )
                continue
        if record is None:
            # The row's own dicts become the record's: rows are not read again after the fold.
            records[row.phone] = ContactRecord(
                row.phone,
                row.line_type,
                row.values,
                row.custom,
                {name.lower(): name for name in row.tags} if row.tags else {},
                [row.line],
                row.reason,
            )
            continue
        if row.reason:
            record.reason = row.reason
        record.values.update(row.values)
        if row.custom:
            record.custom.update(row.custom)
        for name in row.tags:
            record.tags.setdefault(name.lower(), name)
        record.lines.append(row.line)
    return records, errors
