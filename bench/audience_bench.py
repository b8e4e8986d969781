"""Count time and first-page time of five typical audiences over one list of N memberships (default
1,000,000) on PostgreSQL, through the services the pages and the API call.

Audiences (issue 7): clicked in 30 days; state = CA; revenue >= 50 and not sent in 7 days; a tag;
an OR of three rules. Each is timed as `audience_count` (rules re-validated, one COUNT) and as
`audience_members` (the first keyset page of 50), and, as an in-run peer, as the plain COUNT of the
page's queryset (the single query the count ran before the facet table). The peer baseline from the
issue is timed in the same run: `custom_fields->>'state' = 'CA'` with no index, the query a naive
compiler would emit.
Targets: each count under 50 ms, each first page under 30 ms (medians).

    .venv/bin/python bench/audience_bench.py --rows 200000
    .venv/bin/python bench/audience_bench.py                 # 1M, the issue's size
    .venv/bin/python bench/audience_bench.py --reuse --explain  # keep loaded data, print plans

The loader (bench/common.py) leaves the tables vacuumed and analyzed, the state autovacuum keeps a
production table in (visibility map set, so counts can be index-only scans).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_memberships, print_result, reset_data, setup_django, time_call

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms_bench_audiences"
COUNT_TARGET_MS = 50
PAGE_TARGET_MS = 30
AUDIENCES = {
    "clicked_30d": "clicked_within = 30d",
    "state_ca": 'state = "CA"',
    "revenue_50_not_sent_7d": "revenue >= 50 AND not_sent_within = 7d",
    "tag_vip": "tag = vip",
    "or_of_three": 'state = "NY" OR revenue >= 100 OR clicked_within = 7d',
}


def _quiet_settings() -> None:
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _loaded_rows() -> int:
    from sendinglists.models import ListContact

    return ListContact.objects.count()


def _explain_count(audience) -> str:
    """EXPLAIN ANALYZE of the exact COUNT statement `audience_count` sends."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sendinglists.audiences.services import audience_count

    with CaptureQueriesContext(connection) as captured:
        audience_count(audience=audience)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + captured.captured_queries[-1]["sql"])
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data if the list already has --rows members"
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each query")
    args = parser.parse_args()

    _quiet_settings()
    setup_django(args.database_url)
    from django.db import connection

    from sendinglists.audiences.services import (
        audience_count,
        audience_create,
        audience_members,
        audience_segment,
        segment_members,
    )
    from sendinglists.models import Audience, SendingList

    if not (args.reuse and _loaded_rows() == args.rows):
        reset_data()
        load_memberships(rows=args.rows)
    sending_list = SendingList.objects.get(name="Bench list")
    Audience.objects.filter(sending_list=sending_list).delete()

    results: dict = {"rows": args.rows, "database": connection.vendor, "audiences": {}}
    for name, query in AUDIENCES.items():
        audience = audience_create(sending_list=sending_list, name=name, query=query)
        count_timing = time_call(
            lambda audience=audience: audience_count(audience=audience), repeat=args.repeat
        )
        page_timing = time_call(
            lambda audience=audience: audience_members(audience=audience), repeat=args.repeat
        )
        # Peer: the same rules as one COUNT over the page's queryset, without the facet route.
        segment = audience_segment(audience=audience)
        single_query_timing = time_call(
            lambda segment=segment: segment.queryset().count(), repeat=max(5, args.repeat // 3)
        )
        count = audience_count(audience=audience)
        assert segment.queryset().count() == count, name
        results["audiences"][name] = {
            "query": audience.query,
            "members": count,
            "count_ms": count_timing,
            "first_page_ms": page_timing,
            "single_query_count_ms": single_query_timing,
            "count_under_target": count_timing["median_ms"] < COUNT_TARGET_MS,
            "page_under_target": page_timing["median_ms"] < PAGE_TARGET_MS,
        }
        if args.explain:
            print(
                f"--- {name}: {audience.query}\n[count]\n{_explain_count(audience)}",
                file=sys.stderr,
            )
            page = segment.queryset().select_related("contact").order_by("-id")[:51]
            print(f"[first page]\n{page.explain(analyze=True, buffers=True)}", file=sys.stderr)
        # Consume one page so a broken page fails the bench loudly rather than timing an error.
        assert len(segment_members(segment=audience_segment(audience=audience)).rows) == min(50, count)

    if connection.vendor == "postgresql":

        def baseline() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM sendinglists_listcontact "
                    "WHERE sending_list_id = %s AND custom_fields->>'state' = 'CA'",
                    [sending_list.pk],
                )
                return cursor.fetchone()[0]

        results["baseline_state_ca_text_extract"] = {
            "sql": "custom_fields->>'state' = 'CA' (no index)",
            "members": baseline(),
            "count_ms": time_call(baseline, repeat=max(5, args.repeat // 3)),
        }
    results["all_counts_under_target"] = all(a["count_under_target"] for a in results["audiences"].values())
    results["all_pages_under_target"] = all(a["page_under_target"] for a in results["audiences"].values())
    for name, figures in results["audiences"].items():
        print(
            f"{name:24} {figures['members']:>8} members  count {figures['count_ms']['median_ms']:>7} ms  "
            f"first page {figures['first_page_ms']['median_ms']:>7} ms  "
            f"(single-query count {figures['single_query_count_ms']['median_ms']:>7} ms)   {figures['query']}"
        )
    print_result(results)


if __name__ == "__main__":
    main()
