"""Shared pieces of the benchmarks: Django setup against a bench database, fast data loaders, timing.

Benchmarks are not tests: they print figures (one JSON object on the last line) for the issue notes.
Loaders write with set-based SQL (`generate_series` on PostgreSQL), so 1,000,000 memberships load in
well under a minute; the data is deterministic (derived from the row number), realistic in shape:
97% active, every opt-out reason, engagement counters spread like real lists, custom fields with a
state, a plan and a score, 10% of contacts tagged `vip`.
"""

import cProfile
import io
import json
import os
import pstats
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATES = ["CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "GA", "OR"]
PLANS = ["free", "pro", "business"]


def _opt_out_reasons() -> list[str]:
    """The reasons of the opted-out memberships, in turn: every reason, plain opt-outs twice."""
    from sendinglists.choices import UnsubReason

    return [
        UnsubReason.MESSAGE.value,
        UnsubReason.MESSAGE.value,
        UnsubReason.MANUAL.value,
        UnsubReason.BAD_RESPONSE.value,
        UnsubReason.INVALID_CONTACT.value,
        UnsubReason.COMPLAINT.value,
    ]


def setup_django(database_url: str | None) -> None:
    """Point Django at `database_url` (empty: the embedded SQLite default), create it, migrate."""
    if database_url:
        os.environ["DATABASE_URL"] = database_url
        _create_pg_database(database_url)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if os.environ.get("BENCH_KEEP_REDIS") is None:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_pg_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def reset_data() -> None:
    """Empty every app table (fast TRUNCATE on PostgreSQL)."""
    from django.apps import apps
    from django.db import connection

    tables = [
        model._meta.db_table
        for app in ("contacts", "sendinglists", "engagement")
        for model in apps.get_app_config(app).get_models(include_auto_created=True)
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(tables):
                cursor.execute(f"DELETE FROM {table}")


def load_memberships(*, rows: int, list_phone: str = "+18005550100", name: str = "Bench list"):
    """Create one sending list with `rows` contacts subscribed to it; returns the SendingList.

    Contact i has phone +1 201 2xx xxxx (`bench_phone(i)`), so benches can look up known numbers.
    """
    from django.db import connection

    from sendinglists.models import CustomField, SendingList

    sending_list = SendingList.objects.create(phone_number=list_phone, name=name, default_region="US")
    for key, field_type, choices in (
        ("state", "text", []),
        ("plan", "choice", PLANS),
        ("score", "number", []),
    ):
        CustomField.objects.create(
            sending_list=sending_list, key=key, label=key.title(), field_type=field_type, choices=choices
        )
    if connection.vendor != "postgresql":
        _load_memberships_orm(sending_list, rows)
        return sending_list
    states = "ARRAY[" + ",".join(f"'{s}'" for s in STATES) + "]"
    plans = "ARRAY[" + ",".join(f"'{p}'" for p in PLANS) + "]"
    reasons = "ARRAY[" + ",".join(f"'{r}'" for r in _opt_out_reasons()) + "]"
    contact_table = connection.ops.quote_name("contacts_contact")
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM contacts_contact")
        offset = cursor.fetchone()[0]
        cursor.execute(
            f"""
            INSERT INTO {contact_table} (uuid, phone_number, email, first_name, last_name, timezone, carrier,
                                    line_type, is_valid, blocked, created_at, updated_at)
            SELECT md5('bench' || i)::uuid, '+1' || (2012000000 + i)::text, 'user' || i || '@example.com',
                   (ARRAY['Ana','Ben','Cleo','Dev','Eli','Fay','Gus','Hana','Ivan','June'])[1 + i %% 10],
                   (ARRAY['Smith','Jones','Garcia','Chen','Patel','Kim','Lopez','Brown','Nguyen','Khan'])[1 + (i / 10) %% 10],
                   'America/New_York', 'Carrier ' || (i %% 4), 'mobile', true, false,
                   now() - (i %% 700) * interval '1 hour', now()
            FROM generate_series(%s, %s) AS i
            """,
            [offset + 1, offset + rows],
        )
        cursor.execute(
            f"""
            INSERT INTO sendinglists_listcontact (
                sending_list_id, contact_id, active, unsub_reason, subscribed_at, opted_out_at,
                status_changed_at, signup_method, custom_fields, send_count, click_count,
                conversion_count, revenue_total, last_sent_at, last_clicked_at, last_revenue_at,
                in_workflow, consecutive_failures, created_at, updated_at)
            SELECT %s, c.id,
                   (c.id %% 100) >= 3,
                   CASE WHEN c.id %% 100 >= 3 THEN ''
                        ELSE ({reasons})[1 + (c.id / 100) %% 6] END,
                   now() - (c.id %% 365) * interval '1 day',
                   CASE WHEN c.id %% 100 >= 3 THEN NULL ELSE now() - (c.id %% 30) * interval '1 day' END,
                   now() - (c.id %% 30) * interval '1 day',
                   (ARRAY['import','api','journey','inbound','manual'])[1 + c.id %% 5],
                   jsonb_build_object('state', ({states})[1 + c.id %% 10], 'plan', ({plans})[1 + c.id %% 3],
                                      'score', c.id %% 100),
                   c.id %% 40,
                   CASE WHEN c.id %% 7 = 0 THEN 1 + c.id %% 5 ELSE 0 END,
                   CASE WHEN c.id %% 50 = 0 THEN 1 ELSE 0 END,
                   CASE WHEN c.id %% 50 = 0 THEN (c.id %% 200) + 0.99 ELSE 0 END,
                   CASE WHEN c.id %% 40 = 0 THEN NULL ELSE now() - (c.id %% 60) * interval '1 day' END,
                   CASE WHEN c.id %% 7 = 0 THEN now() - (c.id %% 45) * interval '1 day' ELSE NULL END,
                   CASE WHEN c.id %% 50 = 0 THEN now() - (c.id %% 90) * interval '1 day' ELSE NULL END,
                   c.id %% 20 = 0, 0, now(), now()
            FROM contacts_contact c WHERE c.id > %s AND c.id <= %s
            """,
            [sending_list.pk, offset, offset + rows],
        )
        cursor.execute(
            "INSERT INTO contacts_tag (name, created_at) VALUES ('vip', now()) ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            """
            INSERT INTO contacts_contact_tags (contact_id, tag_id)
            SELECT c.id, t.id FROM contacts_contact c, contacts_tag t
            WHERE t.name = 'vip' AND c.id > %s AND c.id <= %s AND c.id %% 10 = 0
            """,
            [offset, offset + rows],
        )
        cursor.execute(
            """
            INSERT INTO sendinglists_liststatuscount (sending_list_id, status, count, is_squashed)
            SELECT sending_list_id, CASE WHEN active THEN 'active' ELSE unsub_reason END, count(*), true
            FROM sendinglists_listcontact WHERE sending_list_id = %s GROUP BY 1, 2
            """,
            [sending_list.pk],
        )
        # Leave the tables as a long-lived production database has them, so that no bench times
        # the load's aftermath: statistics, the visibility map set (autovacuum would otherwise
        # vacuum a million new rows in the middle of a run), the load's dirty pages written out
        # (a checkpoint would otherwise flush them under the run, slowing every commit).
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    return sending_list


def _load_memberships_orm(sending_list, rows: int) -> None:
    """The same shape with bulk_create, for SQLite runs at small sizes."""
    from django.utils import timezone

    from contacts.models import Contact
    from sendinglists.models import ListContact, ListStatusCount

    now = timezone.now()
    reasons = _opt_out_reasons()
    batch = 5000
    for start in range(1, rows + 1, batch):
        numbers = range(start, min(start + batch, rows + 1))
        contacts = Contact.objects.bulk_create(
            Contact(
                phone_number=bench_phone(i), email=f"user{i}@example.com", first_name="Ana", last_name="Smith"
            )
            for i in numbers
        )
        ListContact.objects.bulk_create(
            ListContact(
                sending_list=sending_list,
                contact=contact,
                active=i % 100 >= 3,
                unsub_reason="" if i % 100 >= 3 else reasons[(i // 100) % 6],
                opted_out_at=None if i % 100 >= 3 else now,
                subscribed_at=now,
                status_changed_at=now,
                signup_method="import",
                custom_fields={"state": STATES[i % 10], "plan": PLANS[i % 3], "score": i % 100},
                send_count=i % 40,
                click_count=1 + i % 5 if i % 7 == 0 else 0,
            )
            for i, contact in zip(numbers, contacts, strict=True)
        )
    from django.db.models import Count

    for row in (
        ListContact.objects.filter(sending_list=sending_list)
        .values("active", "unsub_reason")
        .annotate(n=Count("id"))
    ):
        status = "active" if row["active"] else row["unsub_reason"]
        ListStatusCount.objects.create(
            sending_list=sending_list, status=status, count=row["n"], is_squashed=True
        )


def bench_phone(i: int) -> str:
    """The phone of the i-th loaded contact (1-based), as load_memberships writes it."""
    return f"+1{2012000000 + i}"


def time_call(function, *, repeat: int, warmup: int = 2) -> dict:
    """Median and p95 wall time in ms of `function()` over `repeat` runs (after `warmup`)."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2),
        "runs": repeat,
    }


def print_result(result: dict) -> None:
    """The figures as one JSON object on the last line of output."""
    print(json.dumps(result, sort_keys=True))


# --- the served app (api_bench, inbound_bench) ----------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def add_server_arguments(parser) -> None:
    """--worker-class, --workers, --threads: gunicorn as README.md's Production section runs pages,
    API and webhooks: sync workers, one per core.

    Those requests are CPU-bound Python. A sync worker takes a connection only when it is idle, so
    requests spread evenly over the workers; a gthread worker keeps the connections it accepted
    and its threads take turns on one GIL, both of which show as a long tail. Measured here at 10
    clients: API reads p99 23-72 ms with 2 sync workers, 47-120 ms with gthread 2 x 1, 81-116 ms
    with 2 x 2; webhooks p99 43-106 ms with 2 sync workers, 64-100 ms with gthread 2 x 2.
    """
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn worker processes (default: one per core)",
    )
    parser.add_argument("--threads", type=int, default=1, help="gthread: threads per worker")


def gunicorn_worker_options(args, *, keep_alive_s: int | None = None) -> list[str]:
    """gunicorn's command-line options for the worker arguments of `add_server_arguments`."""
    options = ["--worker-class", args.worker_class, "--workers", str(args.workers)]
    if args.worker_class == "gthread":  # a sync worker answers one request per connection
        options += ["--threads", str(args.threads)]
        if keep_alive_s is not None:
            options += ["--keep-alive", str(keep_alive_s)]
    return options


def server_description(args) -> str:
    """How the app was served, for a bench's JSON result."""
    threads = f" x {args.threads} threads" if args.worker_class == "gthread" else ""
    return f"{args.workers} {args.worker_class} workers{threads}"


# --- CPU per request, in process (api_profile, inbound_profile) -----------------------------------


def wsgi_environ(method: str, path: str, *, query: str = "", body: bytes = b"", headers=None) -> dict:
    """A WSGI environ as gunicorn passes it; `headers` by their HTTP names (Content-Type included)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return environ


def call_wsgi(handler, environ: dict) -> str:
    """One request through `handler` (django.core.handlers.wsgi.WSGIHandler); returns its status."""
    statuses: list[str] = []
    response = handler(environ, lambda status, _headers: statuses.append(status))
    b"".join(response)
    response.close()
    return statuses[0]


def _backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(run, passes: list, *, profile_top: int = 0) -> tuple[dict, str]:
    """Per-request CPU of `run(batch)`, which makes len(batch) requests in this process.

    passes[0] warms up; passes[1] is timed (this process's CPU and its PostgreSQL backend's, read
    from /proc, so run it on the database's machine); passes[2] counts queries (counting adds
    work); passes[3], with `profile_top`, runs under cProfile. Returns the figures and the
    profile's top functions by own and by cumulative CPU time.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run(passes[0])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    backend_before, cpu_before, wall_before = (
        _backend_cpu_s(backend_pid),
        time.process_time(),
        time.perf_counter(),
    )
    run(passes[1])
    wall_s, cpu_s = time.perf_counter() - wall_before, time.process_time() - cpu_before
    backend_s = _backend_cpu_s(backend_pid) - backend_before
    with CaptureQueriesContext(connection) as captured:
        run(passes[2])
    statements: dict[str, int] = {}
    for query in captured.captured_queries:
        verb = query["sql"].split(None, 1)[0].upper()
        statements[verb] = statements.get(verb, 0) + 1
    top = ""
    if profile_top:
        profiler = cProfile.Profile(time.process_time)  # CPU time: waits on the database count 0
        profiler.enable()
        run(passes[3])
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(profile_top)
        stats.sort_stats("cumulative").print_stats(profile_top)
        top = out.getvalue()
    count = len(passes[1])
    figures = {
        "django_cpu_ms": round(cpu_s * 1000 / count, 2),
        "postgres_cpu_ms": round(backend_s * 1000 / count, 2),
        "wall_ms": round(wall_s * 1000 / count, 2),
        "queries": round(len(captured.captured_queries) / len(passes[2]), 2),
        "statements": {verb: round(n / len(passes[2]), 2) for verb, n in sorted(statements.items())},
    }
    return figures, top
