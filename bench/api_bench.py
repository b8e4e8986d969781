"""API latency and throughput under gunicorn against PostgreSQL with N memberships in one list.

    .venv/bin/python bench/api_bench.py --rows 1000000          # the issue's size (default)
    .venv/bin/python bench/api_bench.py --rows 20000 --requests 300

Loads the list with bench/common.py (set-based SQL), creates an API token, starts gunicorn on
127.0.0.1 (a free port) in its own process (sync workers, one per core, as README.md's Production
section runs it), and drives it over loopback:

- `--driver wrk` (the default when `wrk` is installed: `make bench-deps`): the C load generator,
  `--duration` seconds per scenario and concurrency, with a generated Lua script that varies the
  request where the scenario needs it and counts every non-2xx answer. On a small machine the
  driver shares the CPU with the server, and wrk needs a fraction of what Python does.
- `--driver httpx`: a bounded thread pool of httpx clients, `--requests` per scenario and
  concurrency with a `--max-seconds` cap.

Each scenario runs at each concurrency; every non-2xx answer or transport error is counted.

Scenarios: a list page, a deep cursor page (90% of the way down, by id and by sends), a filtered
list, a single contact, a subscribe (a new number per request, with custom fields).
Prints one JSON object on the last line: median/p99 latency (ms), requests/s and errors for each.
"""

import argparse
import itertools
import json
import logging
import os
import random
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
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    add_server_arguments,
    free_port,
    gunicorn_worker_options,
    load_memberships,
    print_result,
    reset_data,
    server_description,
    setup_django,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms_bench_api"
LIST_PHONE = "+18005550100"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="memberships in the list")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--driver",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator (default: wrk when installed)",
    )
    parser.add_argument("--duration", type=int, default=10, help="wrk: seconds per scenario and concurrency")
    parser.add_argument(
        "--requests", type=int, default=2000, help="httpx: requests per scenario and concurrency"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=30.0, help="httpx: time cap per scenario and concurrency"
    )
    parser.add_argument("--concurrency", default="10,50", help="comma-separated client counts")
    add_server_arguments(parser)
    parser.add_argument(
        "--reuse-data", action="store_true", help="keep the loaded list if it has --rows members"
    )
    return parser.parse_args()


# --- data ------------------------------------------------------------------------------------------


def prepare_data(rows: int, reuse: bool):
    from sendinglists.models import ListContact, SendingList

    sending_list = SendingList.objects.filter(phone_number=LIST_PHONE).first()
    # Loaded members have +1 201 … numbers; the subscribe scenario adds +1 312 … ones, which may stay.
    loaded = ListContact.objects.filter(sending_list=sending_list, contact__phone_number__startswith="+1201")
    if reuse and sending_list and loaded.count() == rows:
        return sending_list, 0.0
    started = time.perf_counter()
    reset_data()
    sending_list = load_memberships(rows=rows, list_phone=LIST_PHONE)
    return sending_list, time.perf_counter() - started


def deep_cursors(sending_list, rows: int) -> dict[str, str]:
    """Cursors of the page 90% of the way down the list, in two orders (as a client walking there has)."""
    from sendinglists.api.pagination import encode_cursor
    from sendinglists.models import ListContact

    offset = int(rows * 0.9)
    memberships = ListContact.objects.filter(sending_list=sending_list)
    by_id = memberships.order_by("-id").values_list("id", flat=True)[offset]
    by_sends = memberships.order_by("-send_count", "-id").values_list("send_count", "id")[offset]
    return {
        "-id": encode_cursor(ordering="-id", value=by_id, row_id=by_id),
        "-send_count": encode_cursor(ordering="-send_count", value=by_sends[0], row_id=by_sends[1]),
    }


# --- server ----------------------------------------------------------------------------------------


def server_env(database_url: str) -> dict[str, str]:
    """The production settings the bench's server runs with (also bench/api_profile.py's); no
    REDIS_URL, so the throttle counts in each process's memory."""
    return {
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(database_url: str, port: int, args) -> subprocess.Popen:
    env = {**os.environ, **server_env(database_url)}
    env.pop("REDIS_URL", None)
    log = open(ROOT / "test-artifacts" / "api_bench_gunicorn.log", "ab")  # noqa: SIM115 - owned by the server
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            # Longer than any pause between a driver thread's requests: gunicorn's default (2 s)
            # closes pooled connections under the client, seen as resets under load.
            *gunicorn_worker_options(args, keep_alive_s=75),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(base_url: str, headers: dict, server: subprocess.Popen, timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.returncode}; see test-artifacts/api_bench_gunicorn.log"
            )
        try:
            if httpx.get(f"{base_url}/api/v1/lists/", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


# --- load ------------------------------------------------------------------------------------------


def run_scenario(
    base_url: str, headers: dict, make_request, *, requests: int, concurrency: int, max_seconds: float
):
    """`requests` calls of make_request(client, n) over `concurrency` threads, stopping at `max_seconds`."""
    import httpx

    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds

    def worker():
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                started = time.perf_counter()
                try:
                    response = make_request(client, n)
                    ok = 200 <= response.status_code < 300
                    problem = "" if ok else f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed_ms = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed_ms)
                    if problem:
                        errors.append(problem)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall_s = time.perf_counter() - started
    latencies.sort()
    return {
        "driver": "httpx",
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "median_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)
        if latencies
        else None,
        "requests_per_s": round(len(latencies) / wall_s, 1) if wall_s else None,
    }


def scenarios(sending_list, rows: int, cursors: dict[str, str]) -> dict[str, dict]:
    """Each scenario as a spec both drivers read: a fixed `path` (query string included), or
    `contact_ids` (a random contact of the list per request), or `subscribe` (a POST of a new
    number per request to `path`)."""
    list_url = f"/api/v1/lists/{sending_list.pk}/contacts/"
    filtered = {"status": "active", "custom_fields": json.dumps({"plan": "pro"})}
    from contacts.models import Contact

    first_contact = Contact.objects.order_by("id").values_list("id", flat=True).first()
    return {
        "list_page": {"path": list_url},
        "deep_cursor_page": {"path": f"{list_url}?{urlencode({'cursor': cursors['-id']})}"},
        "deep_cursor_page_by_sends": {
            "path": f"{list_url}?{urlencode({'cursor': cursors['-send_count'], 'ordering': '-send_count'})}"
        },
        "filtered_list": {"path": f"{list_url}?{urlencode(filtered)}"},
        "single_contact": {"contact_ids": (first_contact, rows)},
        "subscribe": {"path": list_url, "subscribe": True},
    }


# New valid numbers outside the loaded range (+1 201 …): +1 312 2xx xxxx … 9xx xxxx.
SUBSCRIBE_BODY = {"first_name": "Bench", "custom_fields": {"plan": "pro", "state": "CA"}}


def subscribe_number(n: int) -> str:
    return f"1312{n % 8_000_000 + 2_000_000:07d}"


def httpx_request(spec: dict):
    """make_request(client, n) for run_scenario."""
    if "contact_ids" in spec:
        first_contact, rows = spec["contact_ids"]
        random_ids = random.Random(7)
        return lambda client, n: client.get(f"/api/v1/contacts/{first_contact + random_ids.randrange(rows)}/")
    if spec.get("subscribe"):
        new_numbers = itertools.count(random.Random().randrange(0, 8_000_000))
        return lambda client, n: client.post(
            spec["path"], json={"phone_number": subscribe_number(next(new_numbers)), **SUBSCRIBE_BODY}
        )
    return lambda client, n: client.get(spec["path"])


# --- wrk -------------------------------------------------------------------------------------------

# Every thread counts its non-2xx answers and keeps the first; done() sums them over the threads and
# prints one JSON line (latencies in microseconds). `request` is filled in per scenario.
WRK_SCRIPT = r"""
wrk.headers["Authorization"] = %(authorization)s
wrk.headers["Content-Type"] = "application/json"
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end

function init(args)
  non_2xx = 0
  first_error = ""
  sent = 0
  math.randomseed(thread_id * 7919 + os.time())
end

%(request)s

function response(status, headers, body)
  if status < 200 or status >= 300 then
    non_2xx = non_2xx + 1
    if first_error == "" then
      first_error = status .. ": " .. string.sub(body or "", 1, 200)
    end
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%%c"\\]', function(c)
    return string.format("\\u%%04x", string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local non_2xx_total, first = 0, ""
  for _, thread in ipairs(threads) do
    non_2xx_total = non_2xx_total + thread:get("non_2xx")
    local error_text = thread:get("first_error")
    if first == "" and error_text ~= nil then first = error_text end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "connect": %%d, "read": %%d, ' ..
    '"write": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "first_error": %%s}\n',
    summary.requests, summary.duration, non_2xx_total, errors.connect, errors.read, errors.write,
    errors.timeout, latency:percentile(50), latency:percentile(99), json_string(first)))
end
"""


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


def wrk_request_function(spec: dict, threads: int) -> str:
    if "contact_ids" in spec:
        first_contact, rows = spec["contact_ids"]
        return f"""
function request()
  return wrk.format("GET", "/api/v1/contacts/" .. ({first_contact} + math.random(0, {rows - 1})) .. "/")
end"""
    if spec.get("subscribe"):
        # A number per request, distinct across threads: start + sent * threads + thread id.
        start = random.Random().randrange(0, 8_000_000)
        prefix, suffix = json.dumps({"phone_number": "@"}).split('"@"')
        body_rest = json.dumps(SUBSCRIBE_BODY)[1:]
        return f"""
function request()
  sent = sent + 1
  local n = ({start} + sent * {threads} + thread_id) % 8000000 + 2000000
  local body = {lua_string(prefix)} .. '"1312' .. n .. '", ' .. {lua_string(body_rest)}
  return wrk.format("POST", {lua_string(spec["path"])}, nil, body)
end"""
    return f"""
local fixed_request = nil
function request()
  if fixed_request == nil then fixed_request = wrk.format("GET", {lua_string(spec["path"])}) end
  return fixed_request
end"""


def run_wrk(base_url: str, headers: dict, spec: dict, *, concurrency: int, duration_s: int) -> dict:
    """One wrk run: `concurrency` keep-alive connections for `duration_s` seconds."""
    threads = min(2, concurrency)
    script = WRK_SCRIPT % {
        "authorization": lua_string(headers["Authorization"]),
        "request": wrk_request_function(spec, threads),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="api_bench_") as script_file:
        script_file.write(script)
        script_file.flush()
        completed = subprocess.run(
            [
                shutil.which("wrk") or "wrk",
                "--threads",
                str(threads),
                "--connections",
                str(concurrency),
                "--duration",
                f"{duration_s}s",
                "--timeout",
                "30s",
                "--latency",
                "--script",
                script_file.name,
                base_url,
            ],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=duration_s + 60,
        )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {completed.returncode}): {completed.stderr[-500:]}")
    result = json.loads(line.removeprefix("WRK_RESULT "))
    socket_errors = {key: result[key] for key in ("connect", "read", "write", "timeout") if result[key]}
    first_error = result["first_error"] or (f"socket errors: {socket_errors}" if socket_errors else "")
    duration = result["duration_us"] / 1e6
    return {
        "driver": "wrk",
        "requests": result["requests"],
        "errors": result["non_2xx"] + sum(socket_errors.values()),
        "first_error": first_error,
        "median_ms": round(result["p50_us"] / 1000, 2) if result["requests"] else None,
        "p99_ms": round(result["p99_us"] / 1000, 2) if result["requests"] else None,
        "requests_per_s": round(result["requests"] / duration, 1) if duration else None,
    }


def main():
    args = parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    setup_django(args.database_url)
    from sendinglists.tokens.services import api_token_create

    sending_list, load_s = prepare_data(args.rows, args.reuse_data)
    cursors = deep_cursors(sending_list, args.rows)
    _, key = api_token_create(name="api bench")
    headers = {"Authorization": f"Token {key}"}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_gunicorn(args.database_url, port, args)
    results: dict = {}
    try:
        wait_ready(base_url, headers, server)
        for name, spec in scenarios(sending_list, args.rows, cursors).items():
            results[name] = {}
            if args.driver == "wrk":
                # Warm every worker's connection and caches before measuring.
                run_wrk(base_url, headers, spec, concurrency=10, duration_s=2)
            else:
                run_scenario(
                    base_url, headers, httpx_request(spec), requests=50, concurrency=10, max_seconds=10
                )
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                if args.driver == "wrk":
                    result = run_wrk(
                        base_url, headers, spec, concurrency=concurrency, duration_s=args.duration
                    )
                else:
                    result = run_scenario(
                        base_url,
                        headers,
                        httpx_request(spec),
                        requests=args.requests,
                        concurrency=concurrency,
                        max_seconds=args.max_seconds,
                    )
                results[name][f"c{concurrency}"] = result
            print(name, json.dumps(results[name]), flush=True)
    finally:
        stop(server)
    print_result(
        {
            "bench": "api",
            "rows": args.rows,
            "load_s": round(load_s, 1),
            "gunicorn": server_description(args),
            "driver": args.driver,
            "requests_per_scenario": args.requests if args.driver == "httpx" else None,
            "seconds_per_scenario": args.duration if args.driver == "wrk" else None,
            "scenarios": results,
            "errors": sum(c["errors"] for s in results.values() for c in s.values()),
        }
    )


if __name__ == "__main__":
    main()
