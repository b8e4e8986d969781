"""Shared fixtures.

By default Celery tasks run eagerly inside the test (the embedded default). Tests marked
`celery_worker` use the `celery_worker` fixture instead: a real `celery worker` process on Redis,
connected to the test database, so they also need `django_db(transaction=True)`.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("REDIS_URL", "")


def pytest_collection_modifyitems(config, items):
    """Worker tests need Redis. In the embedded pass (no REDIS_URL) they are skipped with a reason;
    with REDIS_URL set, an unreachable Redis fails the run instead of skipping."""
    if REDIS_URL:
        return
    skip = pytest.mark.skip(reason="needs REDIS_URL: runs in the PostgreSQL + Redis pass of .ci/run")
    for item in items:
        if "celery_worker" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _services_ready():
    if REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except redis.exceptions.ConnectionError as exc:
            pytest.fail(f"REDIS_URL={REDIS_URL} is set but Redis does not answer: {exc}", pytrace=False)


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in-process unless a test asks for the real worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every test user's password is hashed; PBKDF2's million rounds would cost ~0.3 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_caches():
    from django.core.cache import cache

    from contacts.phones import normalize_phone

    cache.clear()
    yield
    normalize_phone.cache_clear()


def _test_database_url() -> str:
    """The URL of the database this test run uses (pytest-django's test_ database)."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return ""
    user = database.get("USER") or "postgres"
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{database['NAME']}"


class WorkerProcess:
    """A real `celery worker` subprocess that can be killed and restarted mid-test."""

    def __init__(self, queue: str, database_url: str, concurrency: int = 2):
        self.queue = queue
        self.database_url = database_url
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / "test-artifacts" / f"celery-worker-{queue}.log"

    def start(self) -> None:
        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "CELERY_QUEUE": self.queue,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
        }
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "-c",
                str(self.concurrency),
                "-P",
                "prefork",
                "-n",
                f"{self.queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"celery worker exited with {self.process.returncode}; see {self.log_path}"
                )
            replies = celery_app.control.ping(
                destination=[f"{self.queue}@{os.uname().nodename}"], timeout=0.5
            )
            if replies:
                return
        raise RuntimeError(f"celery worker did not answer within 60 s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole worker process group: no graceful shutdown, like an OOM kill."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker on Redis against the test database; tasks stop running eagerly."""
    if not REDIS_URL:
        pytest.skip("needs REDIS_URL")
    database_url = _test_database_url()
    if not database_url:
        pytest.fail("a real worker needs a server database (DATABASE_URL=postgres://…)", pytrace=False)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    worker = WorkerProcess(queue, database_url)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        celery_app.conf.task_default_queue = os.environ.get("CELERY_QUEUE", "sms-contacts")
        celery_app.conf.task_always_eager = True


def wait_for(predicate, timeout_s: float = 60, interval_s: float = 0.2):
    """Poll until `predicate()` is truthy (returns it) or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    pytest.fail(f"condition not met within {timeout_s} s")


@pytest.fixture
def staff_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="staff", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, staff_user):
    """A client logged in as the staff superuser (instead of pytest-django's `admin` user)."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def jane(db):
    """Jane Smith, with two contacts whose names or numbers are close to hers (the search tests)."""
    from tests.factories import ContactFactory

    contact = ContactFactory(
        phone_number="+14155550123", first_name="Jane", last_name="Smith", email="Jane.Smith@Example.com"
    )
    ContactFactory(
        phone_number="+14155550124", first_name="Janet", last_name="Jones", email="janet@example.com"
    )
    ContactFactory(
        phone_number="+12125550123", first_name="Bob", last_name="Janeway", email="bob@example.com"
    )
    return contact
