"""One JSON error shape for every API failure: {"code", "message", "field_errors"}.

`field_errors` maps a dotted field path (`phone_number`, `custom_fields.plan`,
`contacts.3.phone_number`) to a list of messages; it is empty for errors that are not about a field.
Django ValidationErrors raised by services become 400s with their field errors, so a rule enforced
in a service reads the same through the API as through a form.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from contacts.selectors import NUMBER_HELD, NUMBER_HELD_ANONYMOUSLY
from sendinglists.api.permissions import contact_is_wholly_in_scope

NON_FIELD_KEY = "non_field_errors"


def _flatten(detail, prefix: str, into: dict[str, list[str]]) -> None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            key = NON_FIELD_KEY if key == "__all__" else str(key)
            path = f"{prefix}.{key}" if prefix else key
            _flatten(value, path, into)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            into.setdefault(prefix or NON_FIELD_KEY, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:  # DRF reports list items without errors as {}
                    _flatten(item, f"{prefix}.{index}" if prefix else str(index), into)
    else:
        into.setdefault(prefix or NON_FIELD_KEY, []).append(str(detail))


def field_errors_of(detail) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _flatten(detail, "", errors)
    return errors


def django_validation_detail(exc: DjangoValidationError, request):
    """The field errors of a service's ValidationError, as `request`'s token may read them: a
    refusal of a number another contact holds (code NUMBER_HELD) names that contact only to a token
    that may know of it (`contact_is_wholly_in_scope`); to a list-scoped token it is "held by
    another contact". Every API answer carrying a Django ValidationError goes through here."""
    if hasattr(exc, "error_dict"):
        return {key: _messages(errors, request) for key, errors in exc.error_dict.items()}
    return {NON_FIELD_KEY: _messages(exc.error_list, request)}


def _messages(errors: list[DjangoValidationError], request) -> list[str]:
    messages = []
    for error in errors:
        if error.code == NUMBER_HELD and not contact_is_wholly_in_scope(request, error.params["contact_id"]):
            messages.append(NUMBER_HELD_ANONYMOUSLY % error.params)
        else:
            messages.extend(str(message) for message in error.messages)
    return messages


def validation_message(field_errors: dict[str, list[str]]) -> str:
    if list(field_errors) == [NON_FIELD_KEY]:
        return field_errors[NON_FIELD_KEY][0]
    if len(field_errors) == 1:
        ((path, messages),) = field_errors.items()
        return f"{path}: {messages[0]}"
    return f"{len(field_errors)} fields are invalid: {', '.join(sorted(field_errors))}."


def error_body(code: str, message: str, field_errors: dict | None = None) -> dict:
    return {"code": code, "message": message, "field_errors": field_errors or {}}


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every handled error in the one shape, headers (Retry-After,
    WWW-Authenticate) kept. Anything unexpected propagates (a bug, to be fixed, not hidden)."""
    if isinstance(exc, DjangoValidationError):
        field_errors = field_errors_of(django_validation_detail(exc, context["request"]))
        return Response(
            error_body("invalid", validation_message(field_errors), field_errors),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.ValidationError):
        field_errors = field_errors_of(exc.detail)
        return Response(
            error_body("invalid", validation_message(field_errors), field_errors),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc.default_detail)
    else:
        code, message = "error", str(exc)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        message = f"Too many requests for this token; retry in {int(exc.wait) + 1} s."
    response.data = error_body(code, message)
    return response
