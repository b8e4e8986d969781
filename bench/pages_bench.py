"""Server time of the operator pages over one list of N memberships (default 1,000,000) on PostgreSQL.

Loads the list with bench/common.py's set-based loader, a contact with 1,000 engagement events, then
times each page through the Django test client (URL routing, middleware, session, view, queries,
template rendering: everything but the network) and prints median and p95 wall time per page,
plus the median CPU time of the Django process (steadier than wall time on a shared machine). The peer
baseline is the bare indexed query behind the Contacts tab's first page, timed in the same run.

    .venv/bin/python bench/pages_bench.py --rows 200000
    .venv/bin/python bench/pages_bench.py            # 1M, the issue's size (about a minute to load)
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_phone, load_memberships, print_result, reset_data, setup_django, time_call

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms_bench_pages"
TARGET_MEDIAN_MS = 50
EVENTS = {"outbound": 400, "inbound": 100, "click": 300, "conversion": 200}


def _production_like_settings() -> None:
    """DEBUG off (no query log, production template loaders); HTTP allowed for the test client."""
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def load_contact_with_events(sending_list, phone: str):
    """A contact on `sending_list` with 1,000 messages, clicks and conversions over 90 days."""
    from django.utils import timezone

    from contacts.models import Contact
    from engagement.models import Click, Conversion, Message
    from sendinglists.models import ListContact

    contact = Contact.objects.get(phone_number=phone)
    membership = ListContact.objects.get(sending_list=sending_list, contact=contact)
    now = timezone.now()

    def at(i: int):
        return now - dt.timedelta(minutes=130 * i)

    messages = Message.objects.bulk_create(
        Message(
            direction=direction,
            sending_list=sending_list,
            contact=contact,
            list_contact=membership,
            from_number=sending_list.phone_number if direction == "outbound" else contact.phone_number,
            to_number=contact.phone_number if direction == "outbound" else sending_list.phone_number,
            body=f"Bench message {i}: spring sale, 20% off everything this weekend. Reply STOP to opt out.",
            provider_message_id=f"SMbench{direction}{i:06d}",
            status="delivered" if direction == "outbound" else "received",
            sent_at=at(i * 2 + (direction == "inbound")),
        )
        for direction in ("outbound", "inbound")
        for i in range(EVENTS[direction])
    )
    Click.objects.bulk_create(
        Click(
            list_contact=membership,
            contact=contact,
            sending_list=sending_list,
            message=messages[i],
            url=f"https://shop.example.com/sale?item={i}",
            clicked_at=at(i * 3) + dt.timedelta(minutes=7),
        )
        for i in range(EVENTS["click"])
    )
    Conversion.objects.bulk_create(
        Conversion(
            list_contact=membership,
            contact=contact,
            sending_list=sending_list,
            message=messages[i],
            order_id=f"bench-order-{i}",
            revenue=Decimal("19.99") + i,
            converted_at=at(i * 4) + dt.timedelta(minutes=31),
        )
        for i in range(EVENTS["conversion"])
    )
    return contact


def _deep_cursor(sending_list, ordering: str, depth: int) -> str:
    """The cursor of the row `depth` rows into `ordering` (what the Next link would carry)."""
    from contacts.pagination import KeysetPaginator, encode_cursor
    from sendinglists.models import ListContact

    paginator = KeysetPaginator(ordering=ordering, model=ListContact)
    queryset = ListContact.objects.filter(sending_list=sending_list).order_by(
        *paginator.order_expressions(paginator.descending)
    )
    row = queryset[depth - 1]
    return encode_cursor(paginator.position_of(row))


def _baseline_query(sending_list) -> dict:
    """The bare indexed first-page query (50 memberships with contacts), no Django request around it."""
    from django.db import connection

    sql = (
        "SELECT lc.*, c.* FROM sendinglists_listcontact lc JOIN contacts_contact c ON c.id = lc.contact_id "
        "WHERE lc.sending_list_id = %s ORDER BY lc.id DESC LIMIT 51"
    )

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, [sending_list.pk])
            cursor.fetchall()

    return run


def _cpu_median_ms(function, repeat: int) -> float:
    """Median CPU time of this process per call: the Django side of a request (routing, view,
    rendering, driver), which a busy machine inflates far less than wall time."""
    samples = []
    for _ in range(repeat):
        started = time.process_time()
        function()
        samples.append((time.process_time() - started) * 1000)
    return round(statistics.median(samples), 2)


def _rows_shown(html: str) -> int:
    """Table rows (minus the header) or timeline entries on the page: proof the page is not empty."""
    if '<ol class="timeline"' in html:
        return html.count('<li class="entry ')
    return max(html.count("<tr>") - 1, 0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="empty for the SQLite default")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of a previous run of the same size"
    )
    args = parser.parse_args()

    _production_like_settings()
    setup_django(args.database_url)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from contacts.phones import format_phone_for_display
    from engagement.models import Message
    from sendinglists.models import ListContact, SendingList

    phone = bench_phone(args.rows // 2)
    sending_list = SendingList.objects.filter(name="Bench list").first()
    reusable = (
        args.reuse
        and sending_list is not None
        and ListContact.objects.filter(sending_list=sending_list)
        .order_by("-id")
        .values_list("id", flat=True)[args.rows - 1 : args.rows]
        .exists()
        and Message.objects.filter(provider_message_id="SMbenchoutbound000000").exists()
    )
    if not reusable:
        reset_data()
        sending_list = load_memberships(rows=args.rows)
        load_contact_with_events(sending_list, phone)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
    contact_id = ListContact.objects.get(sending_list=sending_list, contact__phone_number=phone).contact_id

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    base = f"/lists/{sending_list.pk}/"
    deep = 10_000 if args.rows > 10_000 else args.rows // 2
    pages = {
        "contacts_tab_page_1": (base, {}),
        "contacts_tab_10000_deep": (base, {"after": _deep_cursor(sending_list, "-id", deep)}),
        "contacts_tab_10000_deep_sorted_by_sends": (
            base,
            {"ordering": "-send_count", "after": _deep_cursor(sending_list, "-send_count", deep)},
        ),
        "contacts_tab_sorted_by_last_clicked": (base, {"ordering": "-last_clicked_at"}),
        "filtered_status_opted_out": (base, {"status": "message"}),
        "filtered_tag_vip": (base, {"tag": "vip"}),
        "filtered_custom_field_state_ca": (base, {"field": "state", "value": "CA"}),
        "filtered_combined": (base, {"status": "active", "signup_method": "import", "in_workflow": "yes"}),
        "search_phone_in_list": (base, {"q": format_phone_for_display(phone, "US")}),
        "search_phone_all_contacts": ("/contacts/", {"q": format_phone_for_display(phone, "US")}),
        "search_name_prefix_all_contacts": ("/contacts/", {"q": "Smi"}),
        "contact_detail_1000_events": (f"/contacts/{contact_id}/", {}),
        "lists_index": ("/lists/", {}),
    }
    results = {}
    for name, (path, query) in pages.items():
        response = client.get(path, query)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {response.status_code}")
        results[name] = {
            **time_call(lambda path=path, query=query: client.get(path, query), repeat=args.repeat),
            "cpu_median_ms": _cpu_median_ms(
                lambda path=path, query=query: client.get(path, query), args.repeat
            ),
            "rows_shown": _rows_shown(response.content.decode()),
        }
        print(f"{name:45s} {results[name]}", flush=True)
    baseline = time_call(_baseline_query(sending_list), repeat=args.repeat)
    print(f"{'baseline_indexed_first_page_query':45s} {baseline}", flush=True)
    slowest = max(results.values(), key=lambda figures: figures["median_ms"])
    print_result(
        {
            "bench": "pages",
            "database": connection.vendor,
            "rows": args.rows,
            "contact_events": sum(EVENTS.values()),
            "pages": results,
            "baseline_indexed_first_page_query": baseline,
            "target_median_ms": TARGET_MEDIAN_MS,
            "all_under_target": slowest["median_ms"] < TARGET_MEDIAN_MS,
        }
    )


if __name__ == "__main__":
    main()
