from dataclasses import dataclass

from sendinglists.choices import ActorKind


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what makes a change; recorded on every SubscriptionEvent as compliance evidence."""

    kind: ActorKind
    id: str = ""
    label: str = ""
    user: object | None = None  # a User, when a person acted
    number: str = ""
    """The E.164 number the person acted from (an inbound message's sender), when a number acted:
    the consent change is that number's own, and its contact's other numbers carry it."""

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(kind=ActorKind.USER, id=str(user.pk), label=user.get_username(), user=user)

    @classmethod
    def for_token(cls, token) -> "Actor":
        return cls(kind=ActorKind.API_TOKEN, id=str(token.pk), label=f"API token {token.name}")

    @classmethod
    def for_import(cls, import_job) -> "Actor":
        return cls(kind=ActorKind.IMPORT, id=str(import_job.pk), label=f"Import #{import_job.pk}")

    @classmethod
    def for_message(cls, message) -> "Actor":
        return cls(
            kind=ActorKind.MESSAGE,
            id=str(message.pk),
            label=f"Inbound message {message.provider_message_id or message.pk}",
            number=message.from_number,
        )

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(kind=ActorKind.SYSTEM, label=label)
