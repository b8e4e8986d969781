"""What Django's debug page and error reports may show: no credential, also none inside a URL.

Django hides settings and request.META entries whose *name* looks secret (KEY, TOKEN, PASS…), but
DATABASE_URL and REDIS_URL carry their password inside the value, and runserver copies the process
environment into request.META, so the debug page printed them. Selected by
DEFAULT_EXCEPTION_REPORTER_FILTER in config/settings.py.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:PASSWORD@host and ?password=…/&token=… inside any string.
_USERINFO_PASSWORD = re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]+(?=@)", re.I)
_SECRET_QUERY_VALUE = re.compile(
    r"(?P<keep>[?&][^=&#\s]*(?:pass|pwd|secret|token|key|auth)[^=&#\s]*=)[^&#\s]+", re.I
)


def redact_url_credentials(value: str) -> str:
    """`value` with the password of every URL in it (and secret query parameters) starred out."""
    stars = SafeExceptionReporterFilter.cleansed_substitute
    value = _USERINFO_PASSWORD.sub(lambda match: match["keep"] + stars, value)
    return _SECRET_QUERY_VALUE.sub(lambda match: match["keep"] + stars, value)


class CredentialsHidingExceptionReporterFilter(SafeExceptionReporterFilter):
    # Django's names, plus URL and DSN settings and environment variables that name a service's
    # credentials as a whole (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, SENTRY_DSN …).
    hidden_settings = re.compile(
        SafeExceptionReporterFilter.hidden_settings.pattern
        + r"|DSN|DATABASE_URL|REDIS_URL|BROKER_URL|CACHE_URL|RESULT_BACKEND",
        flags=re.I,
    )

    def cleanse_setting(self, key, value):
        # Django recurses into dicts and lists through this method: CACHES' LOCATION is covered too.
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):  # also lazy strings (a LazyObject passes isinstance as str)
            text = str(cleansed)
            redacted = redact_url_credentials(text)
            return redacted if redacted != text else cleansed
        return cleansed
