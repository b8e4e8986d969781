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
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import call_wsgi, cpu_per_request, wsgi_environ  # noqa: E402
from bench.inbound_bench import LIST_NUMBER, REDIS_URL, SECRET, server_env  # noqa: E402


def _configure(database_url: str, queue: str) -> None:
    os.environ.update({**server_env(database_url, queue), "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()


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
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Timestamp": signed_at,
            "X-Webhook-Signature": signature,
        }
        requests.append((body, headers))
    return requests


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

    handler = WSGIHandler()

    def post_all(batch) -> None:
        for body, headers in batch:
            status = call_wsgi(handler, wsgi_environ("POST", "/webhooks/events", body=body, headers=headers))
            if not status.startswith("200"):
                raise RuntimeError(f"webhook answered {status}")

    run = str(time.time_ns())
    count = args.requests
    # Members no earlier run touched, most likely: a STOP meets an active member, as in the bench.
    first_member = args.first_member or random.randrange(100_000, 900_000 - 4 * count)
    batches = [
        signed_webhooks(run=f"{run}-{index}", first_member=first_member + index * count, count=count)
        for index in range(4)
    ]
    batches[0] = batches[0][:50]  # warm-up: imports, connection, caches
    try:
        figures, top = cpu_per_request(post_all, batches, profile_top=args.profile)
    finally:
        redis.Redis.from_url(REDIS_URL).delete(queue)
    if top:
        print(top)
    print(
        json.dumps(
            {
                "bench": "inbound_profile",
                "requests": count,
                "django_cpu_ms_per_webhook": figures["django_cpu_ms"],
                "postgres_cpu_ms_per_webhook": figures["postgres_cpu_ms"],
                "wall_ms_per_webhook": figures["wall_ms"],
                "queries_per_webhook": figures["queries"],
                "statements_per_webhook": figures["statements"],
            }
        )
    )


if __name__ == "__main__":
    main()
