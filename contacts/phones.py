"""Phone number normalization: any input in, E.164 (with `+`) or a specific reason out.

One function, `normalize_phone`, serves every surface (forms, API, imports, webhooks, search).
It never raises on arbitrary text: invalid input is a `PhoneResult` with `is_valid=False` and a
reason a person can act on.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonenumberutil import _number_type_helper

from contacts.choices import LineType

MAX_INPUT_LENGTH = 64
DEFAULT_REGION = "US"

_LINE_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
    PhoneNumberType.VOIP: LineType.VOIP,
    PhoneNumberType.TOLL_FREE: LineType.TOLL_FREE,
    # North American numbers are FIXED_LINE_OR_MOBILE in the metadata: the digits cannot tell,
    # only a carrier lookup can, so we say "unknown" rather than guess.
}

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

_ALLOWED_PUNCTUATION = set(" ()-./+\u00a0\t")
_PLAIN = re.compile(r"[0-9 ()\-./+\t]+")
_NOT_DIGITS = str.maketrans("", "", " ()-./+\t")
# The North American Numbering Plan: one country code, +1, shared by these regions; the first is
# the one phonenumbers tries first when it looks for a +1 number's region.
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
_NANP_FIRST_METADATA = PhoneMetadata.metadata_for_region(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1][0])


@dataclass(frozen=True, slots=True)
class PhoneResult:
    e164: str
    """The number in E.164 with a leading `+`; empty when invalid."""
    line_type: str
    is_valid: bool
    error: str
    """Why the input is not a valid number; empty when valid."""


def _invalid(reason: str) -> PhoneResult:
    return PhoneResult(e164="", line_type=LineType.UNKNOWN, is_valid=False, error=reason)


def _region_or_none(region: str | None) -> str | None:
    if not region:
        return None
    region = region.upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _parse(text: str, region: str | None) -> tuple[phonenumbers.PhoneNumber | None, str]:
    try:
        return phonenumbers.parse(text, region), ""
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and region is None:
            return None, "no country code and no default region"
        return None, _PARSE_ERRORS.get(exc.error_type, "not a phone number")


@lru_cache(maxsize=65_536)
def normalize_phone(raw: object, region: str | None = DEFAULT_REGION) -> PhoneResult:
    """Parse any input into E.164.

    Accepts `+14155551234`, seed 001's `14155551234` (digits without `+`), national formats for
    `region` (`(415) 555-1234`, `415.555.1234`), spaces, dots, dashes, parentheses. Digits that do
    not form a valid number for `region` are retried as an international number (`447911123456`).
    Results are cached: imports see the same numbers again and again.
    """
    return _normalize(raw, region)


def _normalize(raw: object, region: str | None, *, nanp_shortcut: bool = True) -> PhoneResult:
    if raw is None:
        return _invalid("empty")
    text = str(raw).strip()
    if not text:
        return _invalid("empty")
    if len(text) > MAX_INPUT_LENGTH:
        return _invalid("too long")
    if _PLAIN.fullmatch(text):
        # ASCII digits and punctuation only (nearly every input): one pass instead of three.
        digits = text.translate(_NOT_DIGITS)
    else:
        if any(ch.isalpha() for ch in text):
            # phonenumbers maps letters to keypad digits (1-800-FLOWERS); in a contact list a
            # letter means a wrong column or a typo, so we refuse it with a reason.
            return _invalid("contains letters")
        if any(not (ch.isdigit() or ch in _ALLOWED_PUNCTUATION) for ch in text):
            return _invalid("contains characters that are not part of a phone number")
        digits = "".join(ch for ch in text if ch.isdigit())

    region = _region_or_none(region)
    nanp = _nanp_number(text, digits, region) if nanp_shortcut else None
    if nanp is not None:
        return nanp
    if region and not text.startswith("+") and digits == text and not digits.startswith("0"):
        # Bare digits that begin with the region's own country code are seed 001's E.164-without-plus
        # (`4915123456789` in DE), even where the same digits would also pass as a national number.
        country_code = str(phonenumbers.country_code_for_region(region))
        if digits.startswith(country_code):
            international, _ = _parse("+" + digits, None)
            kind = _number_type(international)
            if kind != PhoneNumberType.UNKNOWN:
                return _valid(international, kind)
    number, error = _parse(text, region)
    kind = _number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        if not text.startswith("+") and len(digits) >= 8:
            # Seed 001 sends international numbers as bare digits (14155551234, 447911123456).
            retried, _ = _parse("+" + digits, None)
            retried_kind = _number_type(retried)
            if retried_kind != PhoneNumberType.UNKNOWN:
                number, error, kind = retried, "", retried_kind
        if number is None:
            return _invalid(error)
        if kind == PhoneNumberType.UNKNOWN:
            if not phonenumbers.is_possible_number(number):
                return _invalid("wrong number of digits")
            where = phonenumbers.region_code_for_number(number) or region or "any country"
            return _invalid(f"not a valid number for {where}")

    return _valid(number, kind)


def _nanp_number(text: str, digits: str, region: str | None) -> PhoneResult | None:
    """A valid North American number, or None to take the general path.

    Most numbers an SMS list sees are +1 numbers written one of a few ways (`+14155551234`,
    `14155551234`, `(415) 555-1234`, `415.555.1234`). For those the national number is the digits
    themselves, so the number is built directly instead of through `phonenumbers.parse` (half of
    the cost of a parse) and validated exactly as the general path validates it. Only a valid
    number is answered here: anything else gets its reason from the general path.
    """
    if not text.isascii() or "+" in text[1:]:
        return None
    if text[0] == "+" or region not in _NANP_REGIONS:
        if text[0] != "+" or len(digits) != 11 or digits[0] != "1":
            return None
        national = digits[1:]
    elif len(digits) == 10:
        national = digits
    elif len(digits) == 11 and digits[0] == "1":
        national = digits[1:]
    else:
        return None
    if national[0] in "01":
        return None
    # `number_type` would find the region (trying the first NANP region's patterns) and then match
    # that region's patterns again; a number valid in the first region has its type from one match.
    kind = _number_type_helper(national, _NANP_FIRST_METADATA)
    if kind != PhoneNumberType.UNKNOWN:
        return PhoneResult(
            e164=f"+1{national}", line_type=_LINE_TYPES.get(kind, LineType.UNKNOWN), is_valid=True, error=""
        )
    number = PhoneNumber(country_code=1, national_number=int(national))
    kind = _number_type(number)
    return None if kind == PhoneNumberType.UNKNOWN else _valid(number, kind)


def _number_type(number: phonenumbers.PhoneNumber | None) -> int:
    """The number's type, UNKNOWN for None or an invalid number.

    `number_type(n) != UNKNOWN` is exactly `is_valid_number(n)` (both find the number's region and
    match its digits against that region's patterns); asking once instead of validating and then
    asking for the type halves the cost of the most expensive step of an import.
    """
    return PhoneNumberType.UNKNOWN if number is None else phonenumbers.number_type(number)


def _valid(number: phonenumbers.PhoneNumber, kind: int) -> PhoneResult:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return PhoneResult(e164=e164, line_type=_LINE_TYPES.get(kind, LineType.UNKNOWN), is_valid=True, error="")


def format_phone_for_display(e164: str, region: str | None = DEFAULT_REGION) -> str:
    """`+14155551234` -> `(415) 555-1234` in its own region, international format elsewhere."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if region and phonenumbers.region_code_for_number(number) == region.upper():
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def phone_search_candidates(text: str, region: str | None = DEFAULT_REGION) -> str:
    """The E.164 form of a search box's text when it reads as a phone number, else empty."""
    result = normalize_phone(text, region)
    return result.e164 if result.is_valid else ""


class NumberForm(StrEnum):
    """How an API answer writes a number: E.164 with the plus (the platform's form, and storage's),
    or seed 001's E.164 digits without the plus (`14155553434`), answered on seed 001's paths."""

    E164 = "e164"
    DIGITS = "digits"


def number_in_form(e164: str, form: NumberForm) -> str:
    """A stored E.164 number as `form` writes it."""
    return e164.removeprefix("+") if form == NumberForm.DIGITS else e164
