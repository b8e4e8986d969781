from dataclasses import dataclass


class SmsBackendError(Exception):
    """The provider did not accept the message (network error, 5xx, rejected request)."""


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    from_number: str
    to_number: str
    body: str
    status_callback_url: str = ""
    """Where the provider should post delivery status updates (empty: none)."""


class BaseSmsBackend:
    """Sends one SMS and returns the provider's message id, or raises SmsBackendError."""

    def __init__(self, **kwargs):
        pass

    def send(self, message: OutgoingSms) -> str:
        raise NotImplementedError("subclasses of BaseSmsBackend must implement send()")
