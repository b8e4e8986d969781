"""OpenAPI: the token security scheme and the error responses every operation can give."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from contacts.phones import NumberForm

ERROR_RESPONSES = {
    "400": "Invalid input: `field_errors` names each field and why.",
    "401": "No token, an unknown token or a revoked token.",
    "403": "The token may not do this (read-only, or limited to other sending lists).",
    "404": "No such object, or one outside the token's sending lists.",
    "422": "The Idempotency-Key was already used with a different request.",
    "429": "Too many requests for this token; see Retry-After.",
}
# Only operations that take a body can get these.
BODY_ERROR_RESPONSES = {
    "415": "The body's Content-Type is missing or not one the operation accepts (see requestBody).",
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "message", "field_errors"],
    "properties": {
        "code": {"type": "string", "description": "Machine-readable: invalid, not_found, throttled, …"},
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "field_errors": {
            "type": "object",
            "description": "Dotted field path (custom_fields.plan, contacts.3.phone_number) -> messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sendinglists.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; create a key with `manage.py create_api_token NAME` or in the admin.",
        }


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the shared Error schema on every API operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = ERROR_RESPONSES | (BODY_ERROR_RESPONSES if "requestBody" in operation else {})
            for code, description in errors.items():
                operation["responses"].setdefault(code, {"description": description, "content": reference})
    return result


def close_request_bodies(result, generator, request, public):
    """drf-spectacular postprocessing hook: request bodies take only their declared properties
    (`additionalProperties: false`): an unknown or read-only key is a 400 (contacts/api/strict.py).
    Request components are the `…Request` ones (COMPONENT_SPLIT_REQUEST)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and "properties" in component:
            component["additionalProperties"] = False
    return result


# Appended to the description of each operation of a view that says how it writes numbers
# (`number_form`: the contact views, routed on both seed 001's paths and the plural aliases).
NUMBER_FORM_NOTES = {
    NumberForm.DIGITS: (
        "Seed 001's path. Numbers are accepted in any form and answered as E.164 digits without "
        "the plus (14155553434), every number in the answer. The same operation answers at the plural "
        "alias (…/contacts/…) with E.164 numbers with the plus."
    ),
    NumberForm.E164: (
        "Alias of seed 001's path (…/contact/…: the same operation). Here numbers are answered in "
        "E.164 with the plus (+14155553434); seed 001's path answers them as digits without the plus."
    ),
}


class ApiAutoSchema(AutoSchema):
    """Operation ids carry the API version (`v1_contacts_list`, `v2_contacts_list`), so v1 and v2
    operations do not collide in generated clients."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        note = NUMBER_FORM_NOTES.get(getattr(self.view, "number_form", None))
        if operation is not None and note:
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        version = re.match(r"^/api/(v[0-9]+)/", self.path)
        return f"{version.group(1)}_{operation_id}" if version else operation_id

    def get_tags(self) -> list[str]:
        version = re.match(r"^/api/(v[0-9]+)/", self.path)
        tags = super().get_tags()
        return [f"{tag} ({version.group(1)})" for tag in tags] if version else tags
