"""CSV import throughput and memory: the real pipeline on SQLite and PostgreSQL, and the
django-import-export baseline, on one synthetic file.

    .venv/bin/python bench/import_bench.py                      # the issue's size: 1,000,000 rows
    .venv/bin/python bench/import_bench.py --rows 100000 --baseline-rows 20000

The file: N rows; phones in mixed formats (+1…, 1…, (xxx) xxx-xxxx, xxx.xxx.xxxx, xxx-xxx-xxxx);
2% invalid; 5% repeat an earlier row's phone; three custom columns (state, plan, score); 20% of the
phones are already members of the list (bench/common.py's loader; 3% of those opted out).

Runs, each in its own process so peak memory is per process (psutil samples every 50 ms, plus the
process's own ru_maxrss):
  sqlite      the embedded default: SQLite, chunks run eagerly in the importing process
  postgres_1  PostgreSQL + Redis, one Celery worker process
  postgres_2  PostgreSQL + Redis, two Celery worker processes
  baseline    a plain django-import-export ModelResource for Contact (phones normalized, invalid
              rows skipped), on the file's first --baseline-rows rows, on SQLite and PostgreSQL
Each import is timed end to end: from the upload (import_create: transcode, plan) to the job's
completion, and its CPU seconds are counted per side (the importing process, the worker processes,
every PostgreSQL server process) with the WAL it wrote: on a machine whose speed drifts from run to
run, CPU µs per row and WAL MB compare two versions of the code better than the wall time does.
The list is reloaded before every run. Prints one JSON object on the last line.

Knobs for analysis: BENCH_DUPLICATE_PERCENT (default 5: chunks that share numbers wait for each
other's commit), BENCH_WORKER_LOG_LEVEL (e.g. INFO: per-chunk timings in the worker log),
--chunk-rows, --runs, --keep-file.
"""

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PLANS, ROOT, STATES, bench_phone, print_result

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms_bench_imports"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
LIST_PHONE = "+18005550100"
FIRST_NAMES = ["Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "June"]
LAST_NAMES = ["Smith", "Jones", "Garcia", "Chen", "Patel", "Kim", "Lopez", "Brown", "Nguyen", "Khan"]
INVALID = ["555-0199", "12345", "call me", "+1 555", "0000000000", "4155551234567890", "n/a"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the synthetic file")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=100_000,
        help="rows the django-import-export baseline imports (capped at --rows; the issue's reference is 100k)",
    )
    parser.add_argument("--chunk-rows", type=int, default=None, help="IMPORT_CHUNK_ROWS (default: settings)")
    parser.add_argument(
        "--runs", default="sqlite,postgres_1,postgres_2,baseline", help="comma-separated runs to do"
    )
    parser.add_argument("--keep-file", action="store_true", help="keep the generated CSV")
    # Internal: one measured run in a child process.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-path", help=argparse.SUPPRESS)
    parser.add_argument("--media-root", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- the synthetic file ------------------------------------------------------------------------------


def _formats(e164: str, i: int) -> str:
    digits = e164[2:]
    style = i % 5
    if style == 0:
        return e164
    if style == 1:
        return e164[1:]
    if style == 2:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if style == 3:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def generate_file(path: Path, rows: int) -> dict:
    """Write the CSV; returns what it holds (for checking the import's counts)."""
    rng = random.Random(20261123)
    invalid = rows * 2 // 100
    duplicates = rows * int(os.environ.get("BENCH_DUPLICATE_PERCENT", "5")) // 100
    existing = rows * 20 // 100
    distinct = rows - invalid - duplicates
    new = distinct - existing
    phones = [bench_phone(i) for i in range(1, existing + 1)]
    phones += [f"+1{6462000000 + i}" for i in range(1, new + 1)]
    cells = [_formats(phone, i) for i, phone in enumerate(phones)]
    order = list(range(distinct))
    rng.shuffle(order)
    seen: list[int] = []
    plan = ["row"] * distinct + ["dup"] * duplicates + ["bad"] * invalid
    rng.shuffle(plan)
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("phone_number,first_name,last_name,email,state,plan,score\n")
        # A duplicate must follow its first occurrence: pick among the rows already written.
        next_row = 0
        for kind in plan:
            if kind == "dup" and not seen:
                kind = "row"
            if kind == "row" and next_row >= distinct:
                kind = "dup"
            if kind == "row":
                index = order[next_row]
                next_row += 1
                seen.append(index)
                out.write(_line(cells[index], index))
            elif kind == "dup":
                index = seen[rng.randrange(len(seen))]
                out.write(_line(cells[index], index))
            else:
                out.write(_line(INVALID[written % len(INVALID)], written))
            written += 1
    return {"rows": written, "invalid": invalid, "duplicates": duplicates, "existing": existing, "new": new}


def _line(phone: str, i: int) -> str:
    return (
        f"{phone},{FIRST_NAMES[i % 10]},{LAST_NAMES[(i // 10) % 10]},user{i}@example.com,"
        f"{STATES[i % 10]},{PLANS[i % 3]},{i % 100}\n"
    )


# --- child runs ----------------------------------------------------------------------------------------


class PeakMemory:
    """Samples the RSS of this process and of `pids()` every 50 ms; peaks in MB per process. Also
    keeps the CPU seconds (user + system) each of those processes and, with `server`, each
    PostgreSQL server process (backends, autovacuum, WAL writer, checkpointer) has used since the
    start, sampled every 2 s, so a process that exits mid-run still counts (up to its last sample)."""

    def __init__(self, pids=lambda: [], *, server: bool = False):
        import psutil

        self.psutil = psutil
        self.pids = pids
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.cpu_first: dict[int, float] = {}
        self.server = server
        self.server_cpu: dict[int, float] = {}
        self.server_cpu_before = self._server_cpu()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()

    def _server_cpu(self) -> dict[int, float]:
        seconds: dict[int, float] = {}
        if not self.server:
            return seconds
        for process in self.psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if process.info["name"] == "postgres" and times is not None:
                seconds[process.pid] = times.user + times.system
        return seconds

    def cpu_seconds(self) -> dict:
        """CPU seconds the worker processes (and, with `server`, PostgreSQL) used during the run."""
        seconds = {
            "worker_processes": round(
                sum(v - self.cpu_first[pid] for pid, v in self.cpu.items() if pid != os.getpid()), 1
            )
        }
        if self.server:
            self.server_cpu.update(self._server_cpu())
            server = sum(v - self.server_cpu_before.get(pid, 0) for pid, v in self.server_cpu.items())
            seconds["postgres"] = round(server, 1)
        return seconds

    def _run(self):
        processes: dict = {}
        ticks = 0
        pids: list[int] = []
        while not self.stopped.is_set():
            if ticks % 40 == 0:
                # Listing a process tree reads all of /proc: every 2 s, not every sample.
                pids = [os.getpid(), *self.pids()]
                self.server_cpu.update(self._server_cpu())
            for pid in pids:
                try:
                    process = processes.get(pid) or processes.setdefault(pid, self.psutil.Process(pid))
                    with process.oneshot():
                        rss = process.memory_info().rss / 1024 / 1024
                        times = process.cpu_times()
                except self.psutil.Error:
                    continue
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss)
                self.cpu[pid] = times.user + times.system
                self.cpu_first.setdefault(pid, self.cpu[pid])
            ticks += 1
            self.stopped.wait(0.05)


def _self_peak_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would include the parent's peak before exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_prepare(args) -> dict:
    """Empty the database and load the list with 20% of the file's phones as members."""
    from bench.common import load_memberships, reset_data, setup_django

    setup_django(args.database_url or None)
    reset_data()
    started = time.perf_counter()
    load_memberships(rows=args.rows * 20 // 100, list_phone=LIST_PHONE, name="Import bench")
    return {"load_s": round(time.perf_counter() - started, 1)}


def child_import(args) -> dict:
    """Upload and import the file, timed end to end; with --workers, Celery workers run the chunks."""
    from bench.common import setup_django

    setup_django(args.database_url or None)
    from django.conf import settings
    from django.core.files import File

    from sendinglists.choices import ImportStatus
    from sendinglists.imports.pipeline import COUNT_FIELDS
    from sendinglists.imports.services import import_create, import_start
    from sendinglists.models import ImportJob, SendingList

    settings.MEDIA_ROOT = args.media_root
    if args.chunk_rows:
        settings.IMPORT_CHUNK_ROWS = args.chunk_rows
    sending_list = SendingList.objects.get(phone_number=LIST_PHONE)
    worker = _start_worker(args) if args.workers else None
    try:
        wal_before = _wal_lsn()
        own_cpu_before = sum(os.times()[:2])
        with PeakMemory(pids=lambda: _worker_pids(worker), server=wal_before is not None) as memory:
            started = time.perf_counter()
            with open(args.file, "rb") as handle:
                job = import_create(sending_list=sending_list, uploaded_file=File(handle, name="bench.csv"))
            created_s = time.perf_counter() - started
            import_start(consent_attestation="They signed up in store.", job=job)
            # Polled with the cheapest query, 10 times a second: this process shares the CPUs
            # with the workers, and the end time is precise to 0.1 s.
            status = ImportJob.objects.filter(pk=job.pk).values_list("status", flat=True)
            while status.get() in (ImportStatus.QUEUED, ImportStatus.RUNNING):
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            cpu = memory.cpu_seconds()
        cpu["importing_process"] = round(sum(os.times()[:2]) - own_cpu_before, 1)
        wal_after = _wal_lsn()
    finally:
        if worker is not None:
            _stop_worker(worker)
    job = ImportJob.objects.get(pk=job.pk)
    worker_peaks = sorted(
        round(peak, 1) for pid, peak in memory.peaks.items() if pid != os.getpid() and worker is not None
    )
    return {
        "status": job.status,
        "seconds": round(elapsed, 2),
        "upload_and_plan_s": round(created_s, 2),
        "rows_per_s": round(job.rows_read / elapsed),
        "chunks": job.total_chunks,
        # CPU seconds and µs per row are steadier figures than the wall time on a shared machine.
        "cpu_s": cpu,
        "cpu_us_per_row": round(sum(cpu.values()) / job.rows_read * 1e6) if job.rows_read else None,
        "wal_mb": round((wal_after - wal_before) / 1024 / 1024) if wal_before is not None else None,
        "peak_rss_mb": {
            "importing_process": round(max(memory.peaks.get(os.getpid(), 0), _self_peak_mb()), 1),
            "worker_processes": worker_peaks,
        },
        "counts": {name: getattr(job, name) for name in COUNT_FIELDS},
    }


def _wal_lsn() -> int | None:
    """Bytes of WAL written so far (PostgreSQL), to report what an import writes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")
        return int(cursor.fetchone()[0])


def _start_worker(args):
    import psutil
    from celery import current_app

    queue = f"bench-imports-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "CELERY_QUEUE": queue,
        "DJANGO_MEDIA_ROOT": args.media_root,
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING").upper(),
    }
    log = open(Path(args.media_root) / f"{queue}.log", "ab")  # noqa: SIM115 - owned by the worker
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "-c",
            str(args.workers),
            "-P",
            "prefork",
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            os.environ.get("BENCH_WORKER_LOG_LEVEL", "warning"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    current_app.conf.task_always_eager = False
    current_app.conf.task_default_queue = queue
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with {process.returncode}; see {log.name}")
        if current_app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
            return psutil.Process(process.pid)
    raise RuntimeError("the worker did not answer within 60 s")


def _worker_pids(worker) -> list[int]:
    if worker is None:
        return []
    try:
        return [worker.pid, *(child.pid for child in worker.children(recursive=True))]
    except Exception:
        return []


def _stop_worker(worker) -> None:
    import signal

    try:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    except Exception:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)


def child_baseline(args) -> dict:
    """What a Django developer would otherwise write: a ModelResource for Contact, default settings."""
    from bench.common import setup_django

    setup_django(args.database_url or None)
    import tablib
    from import_export import resources

    from contacts.models import Contact
    from contacts.phones import normalize_phone

    class ContactResource(resources.ModelResource):
        class Meta:
            model = Contact
            import_id_fields = ("phone_number",)
            fields = ("phone_number", "first_name", "last_name", "email")

        def before_import_row(self, row, **kwargs):
            result = normalize_phone(row.get("phone_number"), "US")
            row["phone_number"] = result.e164 if result.is_valid else ""

        def skip_row(self, instance, original, row, import_validation_errors=None):
            return not instance.phone_number or super().skip_row(
                instance, original, row, import_validation_errors
            )

    with open(args.file, encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(args.baseline_rows + 1)]
    dataset = tablib.Dataset().load("".join(lines), format="csv")
    started = time.perf_counter()
    result = ContactResource().import_data(dataset, dry_run=False, raise_errors=False)
    elapsed = time.perf_counter() - started
    return {
        "rows": len(dataset),
        "seconds": round(elapsed, 2),
        "rows_per_s": round(len(dataset) / elapsed),
        "has_errors": result.has_errors(),
        "totals": {str(key): value for key, value in result.totals.items() if value},
        "peak_rss_mb": round(_self_peak_mb(), 1),
    }


CHILDREN = {"prepare": child_prepare, "import": child_import, "baseline": child_baseline}


# --- orchestration --------------------------------------------------------------------------------------


def run_child(args, child: str, *, database_url: str, sqlite_path: str, workers: int = 0) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        child,
        "--file",
        str(args.file),
        "--rows",
        str(args.rows),
        "--database-url",
        database_url,
        "--redis-url",
        args.redis_url,
        "--workers",
        str(workers),
        "--baseline-rows",
        str(min(args.baseline_rows, args.rows)),
        "--media-root",
        args.media_root,
    ]
    if args.chunk_rows:
        command += ["--chunk-rows", str(args.chunk_rows)]
    env = {**os.environ, "BENCH_KEEP_REDIS": "1"}
    env.pop("REDIS_URL", None)
    if not database_url:
        env["SQLITE_PATH"] = sqlite_path
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"bench child {child} failed with {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main():
    args = parse_args()
    if args.child:
        os.environ.pop("REDIS_URL", None)
        if args.child == "import" and args.workers:
            os.environ["REDIS_URL"] = args.redis_url
            os.environ["BENCH_KEEP_REDIS"] = "1"
        print(json.dumps(CHILDREN[args.child](args)))
        return
    runs = [run.strip() for run in args.runs.split(",") if run.strip()]
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    args.media_root = str(work / "media")
    os.makedirs(args.media_root)
    args.file = work / "bench.csv"
    sqlite_path = str(work / "bench.sqlite3")
    started = time.perf_counter()
    shape = generate_file(args.file, args.rows)
    result: dict = {
        "rows": args.rows,
        "file_mb": round(args.file.stat().st_size / 1024 / 1024, 1),
        "file": shape,
        "generate_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
    }
    try:
        if "sqlite" in runs:
            run_child(args, "prepare", database_url="", sqlite_path=sqlite_path)
            result["sqlite"] = run_child(args, "import", database_url="", sqlite_path=sqlite_path)
            print("sqlite", json.dumps(result["sqlite"]), flush=True)
        for name, workers in (("postgres_1", 1), ("postgres_2", 2)):
            if name in runs:
                run_child(args, "prepare", database_url=args.database_url, sqlite_path=sqlite_path)
                result[f"{name}_worker{'s' if workers > 1 else ''}"] = run_child(
                    args, "import", database_url=args.database_url, sqlite_path=sqlite_path, workers=workers
                )
                print(name, json.dumps(result[f"{name}_worker{'s' if workers > 1 else ''}"]), flush=True)
        if "baseline" in runs:
            baseline = {}
            for database, url in (("sqlite", ""), ("postgres", args.database_url)):
                run_child(args, "prepare", database_url=url, sqlite_path=sqlite_path)
                baseline[database] = run_child(args, "baseline", database_url=url, sqlite_path=sqlite_path)
                print("baseline", database, json.dumps(baseline[database]), flush=True)
            result["baseline_django_import_export"] = baseline
            ratios = {}
            if "sqlite" in result:
                ratios["sqlite"] = round(result["sqlite"]["rows_per_s"] / baseline["sqlite"]["rows_per_s"], 1)
            for key in ("postgres_1_worker", "postgres_2_workers"):
                if key in result:
                    ratios[key] = round(result[key]["rows_per_s"] / baseline["postgres"]["rows_per_s"], 1)
            result["ratio_to_baseline"] = ratios
    finally:
        if args.keep_file:
            print(f"kept {args.file}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["targets"] = {
        "postgres_2_workers_rows_per_s_min": 25_000,
        "peak_rss_mb_max_per_process": 300,
        "ratio_to_baseline_min": 30,
    }
    print_result(result)


if __name__ == "__main__":
    main()
