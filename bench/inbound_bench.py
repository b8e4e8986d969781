"""Inbound webhook throughput and latency, and click counter updates on one hot membership.

    .venv/bin/python bench/inbound_bench.py [--rows 1000000] [--requests 5000] [--database-url URL]
                                            [--driver wrk|httpx] [--worker-class sync|gthread] [--workers N]

Loads a list of `--rows` members (bench/common.py), serves the app with gunicorn on loopback
(production settings: DEBUG off) and posts signed STOP/START webhooks (the generic JSON endpoint, each
a different member, half STOP and half START) from 10 and then 50 concurrent clients: requests/s,
p50/p99 latency, errors. Follow-up tasks go to a Redis queue that no worker reads (it is deleted at
the end), so the figures are the webhook's own. The load generator is wrk (C, /usr/bin/wrk) when it
is installed, else Python httpx threads, which take a large share of a small machine's CPU from the
server they measure. wrk cannot sign requests: the signed bodies are made here, written to a file
that a generated Lua script loads and sends once each. After the server stops, the database is
checked against the answers: one stored message per 2xx, every STOP's membership opted out, every
START's subscribed. Then, in process: clicks recorded on one membership
(`list_contact_record_click`: a Click row + F() counter update per transaction) from 1 and 8 threads.
The issue's peer baseline runs in the same run: opting memberships out with one autocommitted UPDATE
at a time, and batched in one transaction. Prints one JSON object on the last line.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    add_server_arguments,
    bench_phone,
    free_port,
    gunicorn_worker_options,
    load_memberships,
    print_result,
    reset_data,
    server_description,
    setup_django,
)

SECRET = "bench-webhook-secret"
LIST_NUMBER = "+18005550100"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
WEBHOOK_PATH = "/webhooks/events"
WRK = shutil.which("wrk")


def server_env(database_url: str, queue: str) -> dict[str, str]:
    """The production settings the bench's server runs with (also bench/inbound_profile.py's)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_QUEUE": queue,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "WEBHOOK_SIGNING_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(port: int, database_url: str, queue: str, args) -> subprocess.Popen:
    import httpx

    env = {
        **os.environ,
        **server_env(database_url, queue),
        "TWILIO_AUTH_TOKEN": "bench-twilio-token",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            *gunicorn_worker_options(args),
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


def run_prefix(first_member: int) -> str:
    """The provider ids of one run's webhooks start with this."""
    return f"bench-{first_member}-"


def signed_webhook(*, first_member: int, n: int, rows: int) -> tuple[bytes, dict]:
    """The n-th webhook of a run: body and headers, to a member no other webhook of the run writes for."""
    from engagement.webhooks import json_signature

    member = 1 + (first_member + n) % rows
    body = json.dumps(
        {
            "type": "inbound",
            "id": f"{run_prefix(first_member)}{n}",
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
    return body, headers


def post_webhooks(
    base_url: str, *, clients: int, first_member: int, count: int, rows: int, driver: str
) -> dict:
    """`count` signed STOP/START webhooks from `clients` concurrent clients, each to a different member."""
    if driver == "wrk":
        result = post_webhooks_wrk(
            base_url, clients=clients, first_member=first_member, count=count, rows=rows
        )
    else:
        result = post_webhooks_httpx(
            base_url, clients=clients, first_member=first_member, count=count, rows=rows
        )
    return {"driver": driver, **result}


def post_webhooks_httpx(base_url: str, *, clients: int, first_member: int, count: int, rows: int) -> dict:
    """The Python driver: one httpx client per thread, `clients` threads."""
    import httpx

    local = threading.local()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, timeout=30)
        return local.client

    def post(n: int) -> None:
        body, headers = signed_webhook(first_member=first_member, n=n, rows=rows)
        started = time.perf_counter()
        try:
            status = client().post(WEBHOOK_PATH, content=body, headers=headers).status_code
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
        "sent_at_most": count,
    }


# wrk runs this with one thread: it loads the pre-signed requests, sends each once, counts non-2xx
# answers and, after `count` answers, stops and writes `done_file`, upon which the bench ends the
# run (SIGINT: wrk prints its results at once). Counters live in the thread's Lua state; `done()`
# runs in the main one and reads them with thread:get.
WRK_SCRIPT = r"""
local data_file, done_file, count, path = "%(data_file)s", "%(done_file)s", %(count)d, "%(path)s"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prepared, sent, answered, failed, statuses = {}, 0, 0, 0, ""
  for line in io.lines(data_file) do
    local signed_at, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    prepared[#prepared + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Webhook-Timestamp"] = signed_at,
      ["X-Webhook-Signature"] = signature,
    }, body)
  end
end

function request()
  sent = sent + 1
  -- Spare requests cover the connections still busy after the count-th answer: none repeats.
  return prepared[(sent - 1) %% #prepared + 1]
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    failed = failed + 1
    statuses = statuses .. status .. ","
  end
  if answered == count then
    wrk.thread:stop()
    io.open(done_file, "w"):close()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, "non_2xx": %%d, ' ..
    '"statuses": "%%s", "socket_errors": %%d, "sent": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    threads[1]:get("failed"), threads[1]:get("statuses"), e.connect + e.read + e.write + e.timeout,
    threads[1]:get("sent")))
end
"""


def post_webhooks_wrk(base_url: str, *, clients: int, first_member: int, count: int, rows: int) -> dict:
    """The wrk driver: `count` answers from `clients` connections (one wrk thread), then it stops.

    Every request is a distinct pre-signed webhook; `clients` spare ones cover the requests still
    in flight when the run ends (the server may still store those: `sent_at_most` says how many
    can exist). The run is also bounded in time, well within the signatures' replay window.
    """
    with tempfile.TemporaryDirectory(prefix="inbound-bench-") as folder:
        data_file = Path(folder) / "requests.tsv"
        with data_file.open("w") as out:
            for n in range(count + clients):
                body, headers = signed_webhook(first_member=first_member, n=n, rows=rows)
                timestamp, signature = headers["X-Webhook-Timestamp"], headers["X-Webhook-Signature"]
                out.write(f"{timestamp}\t{signature}\t{body.decode()}\n")
        done_file = Path(folder) / "done"
        script = Path(folder) / "inbound.lua"
        script.write_text(
            WRK_SCRIPT
            % {"data_file": data_file, "done_file": done_file, "count": count, "path": WEBHOOK_PATH}
        )
        command = [WRK, "-t", "1", "-c", str(clients), "-d", "200s", "--timeout", "30s", "-s", str(script)]
        process = subprocess.Popen(
            [*command, base_url + WEBHOOK_PATH], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        while process.poll() is None and not done_file.exists():
            time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    lines = [line for line in stdout.splitlines() if line.startswith("WRK_RESULT ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr or stdout}")
    result = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    statuses: dict[str, int] = {}
    for status in filter(None, result["statuses"].split(",")):
        statuses[status] = statuses.get(status, 0) + 1
    if result["socket_errors"]:
        statuses["socket"] = result["socket_errors"]
    return {
        "clients": clients,
        "requests": result["requests"],
        "requests_per_s": round(result["requests"] / (result["duration_us"] / 1e6), 1),
        "p50_ms": round(result["p50_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1),
        "errors": result["non_2xx"] + result["socket_errors"],
        "error_statuses": statuses,
        "sent_at_most": result["sent"],
    }


def check_database(run: dict, first_member: int) -> dict:
    """What the run's webhooks should have left in the database: one message per 2xx answer (at
    most one per request sent), each STOP's membership opted out, each START's subscribed."""
    from engagement.choices import KeywordKind
    from engagement.models import Message

    messages = Message.objects.filter(provider_message_id__startswith=run_prefix(first_member))
    stored = messages.count()
    answered_2xx = run["requests"] - run["errors"]
    check = {
        "stored_messages": stored,
        "stop_left_active": messages.filter(keyword=KeywordKind.OPT_OUT, list_contact__active=True).count(),
        "start_left_inactive": messages.filter(
            keyword=KeywordKind.OPT_IN, list_contact__active=False
        ).count(),
        "without_membership": messages.filter(list_contact__isnull=True).count(),
    }
    check["ok"] = (
        answered_2xx <= stored <= run["sent_at_most"]
        and check["stop_left_active"] == 0
        and check["start_left_inactive"] == 0
        and check["without_membership"] == 0
    )
    return check


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
    add_server_arguments(parser)
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/sms_bench_inbound",
        help="bench database",
    )
    parser.add_argument(
        "--driver",
        choices=("wrk", "httpx"),
        default="wrk" if WRK else "httpx",
        help="load generator (default: wrk when installed, else httpx)",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the bench needs PostgreSQL (gunicorn workers and the client share the database)")
    if args.driver == "wrk" and not WRK:
        parser.error("wrk is not installed (apt-get install wrk); use --driver httpx")

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
    server = start_gunicorn(port, args.database_url, queue, args)
    try:
        base_url = f"http://127.0.0.1:{port}"
        # Each run writes for its own members: the warm-up after the two measured runs' members.
        first_members = [index * (args.requests + 100) for index in range(3)]
        post_webhooks(
            base_url, clients=10, first_member=first_members[2], count=200, rows=args.rows, driver=args.driver
        )  # warm-up
        webhooks = [
            post_webhooks(
                base_url,
                clients=clients,
                first_member=first_members[index],
                count=args.requests,
                rows=args.rows,
                driver=args.driver,
            )
            for index, clients in enumerate((10, 50))
        ]
    finally:
        server.terminate()  # gunicorn finishes the requests in flight first
        server.wait(timeout=30)
        redis.Redis.from_url(REDIS_URL).delete(queue)
    for run, first_member in zip(webhooks, first_members, strict=False):
        run["database_check"] = check_database(run, first_member)

    hot = ListContact.objects.filter(sending_list=sending_list, active=True).order_by("id").first()
    clicks = [hot_clicks(hot.pk, threads=threads, clicks=args.clicks) for threads in (1, 8)]
    baseline = peer_baseline(sending_list.pk, args.baseline)

    print_result(
        {
            "bench": "inbound",
            "rows": args.rows,
            "load_s": round(load_s, 1),
            "gunicorn": server_description(args),
            "webhooks_10_clients": webhooks[0],
            "webhooks_50_clients": webhooks[1],
            "hot_membership_clicks_1_thread": clicks[0],
            "hot_membership_clicks_8_threads": clicks[1],
            "peer_baseline_opt_out": baseline,
        }
    )


if __name__ == "__main__":
    main()
