"""The sendinglists app's tables, each defined beside its use case.

Django finds an app's models through this module (its "models package" idiom), so every model of the app is
imported here; code may import a model from here or from its room.
"""

from sendinglists.audiences.models import Audience, HygieneJob
from sendinglists.contacts.models import ContactMerge
from sendinglists.imports.models import (
    ImportChunk,
    ImportChunkPart,
    ImportJob,
    ImportRowError,
    ImportSeenPhone,
)
from sendinglists.lists.models import CustomField, ListStatusCount, SendingList
from sendinglists.subscriptions.models import ListContact, ListContactFacet, SubscriptionEvent
from sendinglists.tokens.models import ApiToken, IdempotencyKey

__all__ = [
    "ApiToken",
    "Audience",
    "ContactMerge",
    "CustomField",
    "HygieneJob",
    "IdempotencyKey",
    "ImportChunk",
    "ImportChunkPart",
    "ImportJob",
    "ImportRowError",
    "ImportSeenPhone",
    "ListContact",
    "ListContactFacet",
    "ListStatusCount",
    "SendingList",
    "SubscriptionEvent",
]
