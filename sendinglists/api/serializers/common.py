from rest_framework import serializers

from sendinglists.services import Outcome


class SubscriptionOutcomeSerializer(serializers.Serializer):
    """What a subscribe did. `skipped_opted_out` / `skipped_blocked` changed nothing; `reason` says why."""

    outcome = serializers.ChoiceField(choices=[(o.value, o.value) for o in Outcome])
    reason = serializers.CharField(allow_blank=True)


def outcome_data(result) -> dict | None:
    if result is None:
        return None
    return {"outcome": result.outcome.value, "reason": result.reason}


class CustomFieldValuesField(serializers.DictField):
    """Custom field values keyed by field key or by field id (seed 001); validated against the
    list's fields by the service, which reports each bad value as `custom_fields.<key>`."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            'Values keyed by field key or field id, e.g. {"plan": "pro"} or {"12": "pro"}. '
            "Unknown fields and values of the wrong type are a 400.",
        )
        super().__init__(**kwargs)
