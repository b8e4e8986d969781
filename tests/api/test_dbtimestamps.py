import datetime as dt

from django.db import connection

from sendinglists.api.dbtimestamps import c_timestamp_loading
from sendinglists.models import ListContact
from tests.factories import ListContactFactory


def test_c_timestamp_loading_reads_the_same_aware_datetimes(db):
    opted_out_at = dt.datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    membership = ListContactFactory(
        active=False,
        unsub_reason="manual",
        opted_out_at=opted_out_at,
        last_sent_at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    )
    fields = ["subscribed_at", "opted_out_at", "last_sent_at", "last_clicked_at", "created_at"]
    rows = ListContact.objects.filter(pk=membership.pk).values(*fields)
    outside = rows.get()
    with c_timestamp_loading():
        # On PostgreSQL (psycopg's binary package, UTC) the C loader is in use; elsewhere a no-op.
        assert bool(connection.execute_wrappers) == (connection.vendor == "postgresql")
        inside = rows.get()
    assert inside == outside
    assert inside["opted_out_at"] == opted_out_at
    assert inside["last_clicked_at"] is None
    for name in ("subscribed_at", "opted_out_at", "last_sent_at", "created_at"):
        assert inside[name].utcoffset() == dt.timedelta(0)
        assert inside[name].isoformat() == outside[name].isoformat()
