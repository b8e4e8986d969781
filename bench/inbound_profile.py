"""CPU and queries per inbound webhook, in process: the figure to watch when tuning the webhook path.

    .venv/bin/python bench/inbound_profile.py [--requests 400] [--profile 30]

Runs signed STOP/START webhooks (half each, each to a different member of the bench list loaded by
`bench/inbound_bench.py`) through Django's WSGI handler, the way gunicorn calls it (production
settings, DEBUG off), against the bench database. Reports per webhook: this process's CPU ms, the
PostgreSQL backend's CPU ms (from /proc, so run it on the database's machine), queries (counted
in a separate pass, since counting adds work), and with `--profile N` the top N functions of a
cProfile run. Follow-up tasks go to a Redis queue no worker reads, deleted at the end. Prints one
JSON object on the last line.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbound_bench import LIST_NUMBER, REDIS_URL, SECRET, server_env  # noqa: E402


def _configure(database_url: str, queue: str) -> None:
    os.environ.update({**server_env(database_url, queue), "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()


def _environ(body: bytes, headers: dict) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhooks/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    for name, value in headers.items():
        if name != "Content-Type":
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def signed_webhooks(*, run: str, first_member: int, count: int) -> list[tuple[bytes, dict]]:
    from bench.common import bench_phone
    from engagement.webhooks import json_signature

    requests = []
    signed_at = str(int(time.time()))
    for n in range(count):
        body = json.dumps(
            {
                "type": "inbound",
                "id": f"profile-{run}-{n}",
                "from": bench_phone(first_member + n),
                "to": LIST_NUMBER,
                "body": "STOP" if n % 2 else "START",
            }
        ).encode()
        signature = "sha256=" + json_signature(signed_at, body, SECRET)
        requests.append((body, {"X-Webhook-Timestamp": signed_at, "X-Webhook-Signature": signature}))
    return requests


def _post_all(handler, requests) -> None:
    statuses: list[str] = []

    def start_response(status: str, _headers) -> None:
        statuses.append(status)

    for body, headers in requests:
        response = handler(_environ(body, headers), start_response)
        b"".join(response)
        response.close()
        if not statuses[-1].startswith("200"):
            raise RuntimeError(f"webhook answered {statuses[-1]}")


def _backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="webhooks per measured pass")
    parser.add_argument("--profile", type=int, default=30, help="functions to print from cProfile (0: none)")
    parser.add_argument(
        "--first-member", type=int, default=0, help="first bench member to message (default: a random one)"
    )
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/sms_bench_inbound",
        help="bench database",
    )
    args = parser.parse_args()
    queue = f"bench-inbound-profile-{os.getpid()}"
    _configure(args.database_url, queue)

    import redis
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    run = str(time.time_ns())
    count = args.requests
    # Members no earlier run touched, most likely: a STOP meets an active member, as in the bench.
    first_member = args.first_member or random.randrange(100_000, 900_000 - 4 * count)
    batches = [
        signed_webhooks(run=f"{run}-{index}", first_member=first_member + index * count, count=count)
        for index in range(4)
    ]
    try:
        _post_all(handler, batches[0][:50])  # warm-up: imports, connection, caches
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]

        backend_before, cpu_before, wall_before = (
            _backend_cpu_s(backend_pid),
            time.process_time(),
            time.perf_counter(),
        )
        _post_all(handler, batches[1])
        wall_s = time.perf_counter() - wall_before
        cpu_s = time.process_time() - cpu_before
        backend_s = _backend_cpu_s(backend_pid) - backend_before

        with CaptureQueriesContext(connection) as captured:
            _post_all(handler, batches[2])
        queries = len(captured.captured_queries)
        statements: dict[str, int] = {}
        for query in captured.captured_queries:
            verb = query["sql"].split(None, 1)[0].upper()
            statements[verb] = statements.get(verb, 0) + 1

        top = ""
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU time: waits on the database count 0
            profiler.enable()
            _post_all(handler, batches[3])
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("tottime").print_stats(args.profile)
            stats.sort_stats("cumulative").print_stats(args.profile)
            top = out.getvalue()
    finally:
        redis.Redis.from_url(REDIS_URL).delete(queue)
    if top:
        print(top)
    print(
        json.dumps(
            {
                "bench": "inbound_profile",
                "requests": count,
                "django_cpu_ms_per_webhook": round(cpu_s * 1000 / count, 2),
                "postgres_cpu_ms_per_webhook": round(backend_s * 1000 / count, 2),
                "wall_ms_per_webhook": round(wall_s * 1000 / count, 2),
                "queries_per_webhook": round(queries / count, 2),
                "statements_per_webhook": {
                    verb: round(n / count, 2) for verb, n in sorted(statements.items())
                },
            }
        )
    )


if __name__ == "__main__":
    main()
