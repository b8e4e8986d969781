"""Nothing in a request body is silently dropped: DRF ignores the keys a serializer does not
declare, so every serializer that reads a body takes this mixin, and such a key is a 400 naming it
(`{"colour": ["Unknown field. Allowed: …"]}`; a read-only field such as `id` or `created_at`:
"Read-only …"). Nested serializers check their own keys (`channels.0.colour`). Lives in `contacts`,
the lowest layer, so that the contact serializers take it too; tests/api/test_unexpected_keys.py
sends an unknown key to every writing operation of the schema."""

from collections.abc import Mapping

from rest_framework import serializers

READ_ONLY_MESSAGE = "Read-only: set by the server, not taken in a request."


def unexpected_key_errors(serializer: serializers.Serializer, data) -> dict[str, list[str]]:
    """{key: [why]} for each key of `data` that `serializer` does not take (empty when none)."""
    if not isinstance(data, Mapping):
        return {}
    fields = serializer.fields
    writable = [name for name, field in fields.items() if not field.read_only]
    errors = {}
    for key in data:
        if key in writable:
            continue
        if key in fields:
            errors[str(key)] = [READ_ONLY_MESSAGE]
        else:
            allowed = ", ".join(writable) if writable else "none (this request takes no body)"
            errors[str(key)] = [f"Unknown field. Allowed: {allowed}."]
    return errors


class StrictKeysMixin:
    """For serializers that read a request body: an unknown or read-only key is a 400 naming it,
    reported together with the body's other errors."""

    def to_internal_value(self, data):
        problems = unexpected_key_errors(self, data)
        if not problems:
            return super().to_internal_value(data)
        try:
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, Mapping):
                problems = {**exc.detail, **problems}
        raise serializers.ValidationError(problems)


class NoBodySerializer(StrictKeysMixin, serializers.Serializer):
    """The body of an action that takes none: any key in it is a 400, not ignored."""
