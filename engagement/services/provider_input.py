"""What a provider (or anyone posting to a webhook) sends, checked before it reaches the database.

PostgreSQL cannot store a NUL character in text, and refuses a value longer than its varchar
column; SQLite stores both. Either would be a server error there, so both are ValidationErrors
here, on every database, which the webhooks answer with a 400.
"""

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

MAX_PROVIDER_ID_CHARS = 64  # Message.provider_message_id, EarlyDeliveryReport.provider_message_id
NUL_MESSAGE = str(ProhibitNullCharactersValidator.message)


def refuse_nul_characters(**values: str) -> None:
    """A ValidationError naming the first field whose text holds a NUL character."""
    for field, value in values.items():
        if value and "\x00" in value:
            raise ValidationError({field: NUL_MESSAGE})


def provider_message_id_or_error(raw: str) -> str:
    """The provider's message id, stripped: required, at most MAX_PROVIDER_ID_CHARS, no NUL."""
    provider_message_id = (raw or "").strip()
    if not provider_message_id:
        raise ValidationError({"provider_message_id": "Required: the provider's message id."})
    if len(provider_message_id) > MAX_PROVIDER_ID_CHARS:
        raise ValidationError({"provider_message_id": f"At most {MAX_PROVIDER_ID_CHARS} characters."})
    refuse_nul_characters(provider_message_id=provider_message_id)
    return provider_message_id
