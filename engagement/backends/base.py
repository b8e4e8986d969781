from dataclasses import dataclass


class SmsBackendError(Exception):
    """The provider could not take the message now (network error, 5xx, throttled): retry later."""


class SmsRejected(SmsBackendError):
    """The provider refused this message for good (bad number, recipient opted out): do not retry."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code or ""


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
