"""Server time of the admin changelists over one list of N memberships (default 1,000,000) on PostgreSQL.

Loads N contacts and memberships with bench/common.py's set-based loader (plus one subscription event
per membership), ANALYZEs, then times each admin page through the Django test client as a superuser:
the unfiltered changelists (the count is PostgreSQL's estimate past 10,000 rows), a status filter,
phone/email/name searches, a deep page, and a contact's change page with its inlines. The peer baseline
is the bare `SELECT … ORDER BY id DESC LIMIT 50` behind the first page, timed in the same run.

    .venv/bin/python bench/admin_bench.py --rows 200000
    .venv/bin/python bench/admin_bench.py            # 1M
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_phone, load_memberships, print_result, reset_data, setup_django, time_call

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms_admin_bench"
TARGET_MEDIAN_MS = 100


def _production_like_settings() -> None:
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _load_events(sending_list) -> None:
    """One SUBSCRIBED event per membership, set-based (the events changelist pages over them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sendinglists_subscriptionevent
                (sending_list_id, list_contact_id, contact_id, phone_number, kind, reason, signup_method,
                 actor_kind, actor_id, actor_label, note, occurred_at, created_at)
            SELECT lc.sending_list_id, lc.id, lc.contact_id, c.phone_number, 'subscribed', '', lc.signup_method,
                   'import', '', 'bench', '', lc.subscribed_at, now()
            FROM sendinglists_listcontact lc JOIN contacts_contact c ON c.id = lc.contact_id
            WHERE lc.sending_list_id = %s
            """,
            [sending_list.pk],
        )
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()

    _production_like_settings()
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from contacts.models import Contact

    reset_data()
    sending_list = load_memberships(rows=args.rows)
    _load_events(sending_list)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    middle = bench_phone(args.rows // 2)
    contact = Contact.objects.get(phone_number=middle)
    national = f"({middle[2:5]}) {middle[5:8]}-{middle[8:]}"
    pages = {
        "contacts": "/admin/contacts/contact/",
        "contacts_search_phone": f"/admin/contacts/contact/?q={national}",
        "contacts_search_email": f"/admin/contacts/contact/?q={contact.email or 'nobody@example.com'}",
        "contacts_search_name": "/admin/contacts/contact/?q=zz",
        "contacts_filtered_page_50": "/admin/contacts/contact/?is_valid__exact=1&p=50",
        "memberships": "/admin/sendinglists/listcontact/",
        "memberships_opted_out": f"/admin/sendinglists/listcontact/?status=message&sending_list__id__exact={sending_list.pk}",
        "memberships_search_phone": f"/admin/sendinglists/listcontact/?q={middle[2:]}",
        "events": "/admin/sendinglists/subscriptionevent/",
        "events_search_phone": f"/admin/sendinglists/subscriptionevent/?q={middle}",
        "contact_change": f"/admin/contacts/contact/{contact.pk}/change/",
    }
    result = {"rows": args.rows, "database": connection.vendor, "target_median_ms": TARGET_MEDIAN_MS}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        result[name] = time_call(lambda url=url: client.get(url), repeat=args.repeat)

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, phone_number, first_name, last_name, email FROM contacts_contact ORDER BY id DESC LIMIT 50"
            )
            cursor.fetchall()

    result["baseline_first_page_query"] = time_call(baseline, repeat=args.repeat)
    result["slowest_page_median_ms"] = max(
        value["median_ms"]
        for key, value in result.items()
        if isinstance(value, dict) and key != "baseline_first_page_query"
    )
    print_result(result)


if __name__ == "__main__":
    main()
