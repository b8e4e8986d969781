"""Faster reading of timestamps from PostgreSQL for API requests.

Django reads every `timestamptz` with its own loader, a Python subclass of psycopg's pure-Python
loader that re-attaches the connection's time zone; psycopg's binary package has a C loader that
gives the same aware datetimes when the session time zone is UTC (Django's setting under USE_TZ).
An API list page reads hundreds of timestamps, and the Python loader was a fifth of its CPU.

`c_timestamp_loading()` installs the C loader on each cursor the ORM uses inside the block, only
when it gives exactly what Django's loader would: PostgreSQL through psycopg's C implementation,
USE_TZ, and a connection in UTC. Anywhere else it does nothing.
"""

import datetime as dt
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

try:
    from psycopg import adapters, pq

    _C_TIMESTAMPTZ_LOADER = (
        adapters.get_loader(adapters.types["timestamptz"].oid, pq.Format.TEXT)
        if pq.__impl__ in ("c", "binary")
        else None
    )
except ImportError:  # SQLite-only installs
    _C_TIMESTAMPTZ_LOADER = None


def _use_c_loader(execute, sql, params, many, context):
    context["cursor"].cursor.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ_LOADER)
    return execute(sql, params, many, context)


def _applies() -> bool:
    return (
        _C_TIMESTAMPTZ_LOADER is not None
        and connection.vendor == "postgresql"
        and settings.USE_TZ
        and connection.timezone == dt.UTC
        and connection.timezone_name == "UTC"
    )


@contextmanager
def c_timestamp_loading():
    """Within the block, the default connection reads timestamptz with psycopg's C loader."""
    if not _applies():
        yield
        return
    with connection.execute_wrapper(_use_c_loader):
        yield
