"""Pluggable SMS backends, in the style of Django's email backends.

`settings.SMS_BACKEND` names the class (console by default; `engagement.backends.locmem.LocMemBackend`
in tests; a provider backend such as `engagement.backends.twilio.TwilioBackend` in production).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from engagement.backends.base import BaseSmsBackend, OutgoingSms, SmsBackendError, SmsRejected

__all__ = ["BaseSmsBackend", "OutgoingSms", "SmsBackendError", "SmsRejected", "get_backend"]


def get_backend(backend: str | None = None, **kwargs) -> BaseSmsBackend:
    """An instance of `backend` (a dotted path), or of settings.SMS_BACKEND."""
    return import_string(backend or settings.SMS_BACKEND)(**kwargs)
