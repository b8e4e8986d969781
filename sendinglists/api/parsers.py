"""JSON bodies with a NUL character anywhere are a 400 naming the field: PostgreSQL text and jsonb
cannot store one, and free-form objects (custom_fields, choices) reach the database unvalidated by
DRF's string fields, which already refuse it. JSON nested more than MAX_JSON_DEPTH levels is a 400
too, checked before anything walks it (contacts/jsonsafe.py)."""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from contacts.jsonsafe import MAX_JSON_DEPTH, json_depth_exceeds

NUL_MESSAGE = "Null characters are not allowed."
TOO_DEEP_MESSAGE = f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep."


def nul_path(value, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) holding a NUL character, else None."""
    if isinstance(value, str):
        return (path or "non_field_errors") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here.replace("\x00", "\\u0000")
            found = nul_path(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP_MESSAGE) from None
        if json_depth_exceeds(data):
            raise exceptions.ParseError(TOO_DEEP_MESSAGE)
        path = nul_path(data)  # recursive: only on data bounded to MAX_JSON_DEPTH
        if path:
            raise exceptions.ValidationError({path: [NUL_MESSAGE]})
        return data
