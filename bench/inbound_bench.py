"""Inbound webhook throughput and latency, and click counter updates on one hot membership.

    .venv/bin/python bench/inbound_bench.py [--rows 1000000] [--requests 5000] [--database-url URL]

Loads a list of `--rows` members (bench/common.py), serves the app with gunicorn on loopback
(production settings: DEBUG off) and posts signed STOP/START webhooks (the generic JSON endpoint, each
a different member, half STOP and half START) from 10 and then 50 concurrent clients: requests/s,
p50/p99 latency, errors. Follow-up tasks go to a Redis queue that no worker reads (it is deleted at
the end), so the figures are the webhook's own. Then, in process: clicks recorded on one membership
(`list_contact_record_click`: a Click row + F() counter update per transaction) from 1 and 8 threads.
The issue's peer baseline runs in the same run: opting memberships out with one autocommitted UPDATE
at a time, and batched in one transaction. Prints one JSON object on the last line.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bench_phone, load_memberships, print_result, reset_data, setup_django  # noqa: E402

SECRET = "bench-webhook-secret"
LIST_NUMBER = "+18005550100"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, database_url: str, queue: str, workers: int, threads: int) -> subprocess.Popen:
    import httpx

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": queue,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "WEBHOOK_SIGNING_SECRET": SECRET,
        "TWILIO_AUTH_TOKEN": "bench-twilio-token",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/webhooks/events", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def post_webhooks(base_url: str, *, clients: int, first_member: int, count: int, rows: int) -> dict:
    """`count` signed STOP/START webhooks from `clients` threads, each to a different member."""
    import httpx

    from engagement.webhooks import json_signature

    local = threading.local()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=30)
        return local.client

    def post(n: int) -> None:
        member = 1 + (first_member + n) % rows
        body = json.dumps(
            {
                "type": "inbound",
                "id": f"bench-{first_member}-{n}",
                "from": bench_phone(member),
                "to": LIST_NUMBER,
                "body": "STOP" if n % 2 else "START",
            }
        ).encode()
        signed_at = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Timestamp": signed_at,
            "X-Webhook-Signature": "sha256=" + json_signature(signed_at, body, SECRET),
        }
        started = time.perf_counter()
        try:
            status = client().post("/webhooks/events", content=body, headers=headers).status_code
        except httpx.TransportError as exc:
            status = type(exc).__name__
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(post, range(count)))
    wall_s = time.perf_counter() - started
    latencies.sort()
    return {
        "clients": clients,
        "requests": count,
        "requests_per_s": round(count / wall_s, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "errors": sum(errors.values()),
        "error_statuses": errors,
    }


def hot_clicks(membership_id: int, *, threads: int, clicks: int) -> dict:
    """`clicks` clicks on one membership from `threads` threads; checks no update was lost."""
    from django.db import connection

    from engagement.services import list_contact_record_click
    from sendinglists.models import ListContact

    before = ListContact.objects.get(pk=membership_id).click_count
    per_thread = clicks // threads

    def work(worker: int) -> None:
        membership = ListContact.objects.get(pk=membership_id)
        try:
            for n in range(per_thread):
                list_contact_record_click(membership=membership, url=f"https://acme.example/{worker}/{n}")
        finally:
            connection.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(worker,)) for worker in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall_s = time.perf_counter() - started
    counted = ListContact.objects.get(pk=membership_id).click_count - before
    return {
        "threads": threads,
        "clicks": per_thread * threads,
        "clicks_per_s": round(per_thread * threads / wall_s, 1),
        "lost_updates": per_thread * threads - counted,
    }


def peer_baseline(sending_list_id: int, count: int) -> dict:
    """The issue's reference: opt memberships out one autocommitted UPDATE at a time, then batched."""
    from django.db import connection, transaction

    from sendinglists.models import ListContact

    ids = list(
        ListContact.objects.filter(sending_list_id=sending_list_id, active=True)
        .order_by("-id")
        .values_list("id", flat=True)[: 2 * count]
    )
    single, batched = ids[:count], ids[count : 2 * count]
    sql = (
        "UPDATE sendinglists_listcontact SET active = false, unsub_reason = 'message', "
        "opted_out_at = now(), status_changed_at = now() WHERE id = %s"
    )
    with connection.cursor() as cursor:
        started = time.perf_counter()
        for membership_id in single:
            cursor.execute(sql, [membership_id])
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            for membership_id in batched:
                cursor.execute(sql, [membership_id])
        batched_s = time.perf_counter() - started
        cursor.execute(
            "UPDATE sendinglists_listcontact SET active = true, unsub_reason = '', opted_out_at = NULL "
            "WHERE id = ANY(%s)",
            [ids],
        )
    return {
        "opt_outs": count,
        "autocommit_updates_per_s": round(count / single_s, 1),
        "one_transaction_updates_per_s": round(count / batched_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="members of the bench list")
    parser.add_argument("--requests", type=int, default=5_000, help="webhooks per concurrency level")
    parser.add_argument("--clicks", type=int, default=4_000, help="clicks per thread setting")
    parser.add_argument("--baseline", type=int, default=5_000, help="opt-outs per peer-baseline variant")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/sms_bench_inbound",
        help="bench database",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the bench needs PostgreSQL (gunicorn workers and the client share the database)")

    setup_django(args.database_url)
    import logging

    import redis

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise

    from sendinglists.models import ListContact

    reset_data()
    started = time.perf_counter()
    sending_list = load_memberships(rows=args.rows, list_phone=LIST_NUMBER)
    load_s = time.perf_counter() - started

    queue = f"bench-inbound-{os.getpid()}"
    port = free_port()
    server = start_gunicorn(port, args.database_url, queue, args.workers, args.threads)
    try:
        base_url = f"http://127.0.0.1:{port}"
        post_webhooks(
            base_url, clients=10, first_member=2 * args.requests, count=200, rows=args.rows
        )  # warm-up
        webhooks = [
            post_webhooks(
                base_url,
                clients=clients,
                first_member=index * args.requests,
                count=args.requests,
                rows=args.rows,
            )
            for index, clients in enumerate((10, 50))
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.Redis.from_url(REDIS_URL).delete(queue)

    hot = ListContact.objects.filter(sending_list=sending_list, active=True).order_by("id").first()
    clicks = [hot_clicks(hot.pk, threads=threads, clicks=args.clicks) for threads in (1, 8)]
    baseline = peer_baseline(sending_list.pk, args.baseline)

    print_result(
        {
            "bench": "inbound",
            "rows": args.rows,
            "load_s": round(load_s, 1),
            "gunicorn": f"{args.workers} workers x {args.threads} threads",
            "webhooks_10_clients": webhooks[0],
            "webhooks_50_clients": webhooks[1],
            "hot_membership_clicks_1_thread": clicks[0],
            "hot_membership_clicks_8_threads": clicks[1],
            "peer_baseline_opt_out": baseline,
        }
    )


if __name__ == "__main__":
    main()
