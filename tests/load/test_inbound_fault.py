"""Fault test: inbound webhooks under load while the Celery worker is killed and restarted twice.

The app runs under gunicorn (loopback, a free port) against the test database; a real Celery worker
runs the follow-ups from Redis. Concurrent clients post INBOUND_FAULT_MESSAGES (default 10,000)
STOP/START/STOPALL/HELP/other messages — shuffled so that each person's messages arrive out of
order, a third of them delivered twice (half of those right away, so the copies race) — through
the signed JSON webhook (with the messages' own timestamps) and the Twilio form webhook. The
worker is SIGKILLed twice mid-run. Afterwards:
- every message is stored exactly once, as sent;
- every membership's state equals the one computed by replaying each person's messages in
  timestamp order, and the maintained counts equal the real ones;
- no subscription event is doubled, and no inbound message has more than one reply;
- every follow-up ran (the beat sweep picks up what the killed worker lost).
The counts are printed and written to test-artifacts/inbound_fault.json.
"""

import datetime as dt
import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from contacts.models import Contact
from engagement.choices import KeywordKind
from engagement.models import Message
from engagement.tasks import inbound_follow_up_sweep
from engagement.webhooks import json_signature, twilio_signature
from sendinglists.actors import Actor
from sendinglists.models import ListContact, ListStatusCount, SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.conftest import REDIS_URL, ROOT, _test_database_url, wait_for
from tests.factories import SendingListFactory

MESSAGES = int(os.environ.get("INBOUND_FAULT_MESSAGES", "10000"))
CLIENTS = int(os.environ.get("INBOUND_FAULT_CLIENTS", "16"))
PEOPLE = max(20, MESSAGES // 10)
LIST_A, LIST_B = "+18005550100", "+18005550101"
# Mostly STOP/START; STOPALL, HELP and plain text (which must change nothing) mixed in.
BODIES = ["STOP"] * 8 + ["START"] * 8 + ["stop."] + ["Yes"] + ["STOPALL"] + ["HELP"] + ["thanks!"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, *, port: int, env: dict):
        self.port = port
        self.log_path = ROOT / "test-artifacts" / "gunicorn-inbound-fault.log"
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "3",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log_path}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/webhooks/events", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


PHONES = [f"+1650555{n:04d}" for n in range(PEOPLE)]


def generate(start: dt.datetime):
    """The messages: (provider id, endpoint, from, to, body, timestamp or None for Twilio)."""
    rng = random.Random(6)
    messages = []
    for i in range(MESSAGES):
        phone = rng.choice(PHONES)
        to = LIST_A if rng.random() < 0.7 else LIST_B
        body = rng.choice(BODIES)
        if i % 10 == 0:  # the Twilio form carries no timestamp: the server's receive time counts
            messages.append((f"SM{i:032x}", "twilio", phone, to, body, None))
        else:  # distinct timestamps, sent in shuffled order: each person's messages arrive out of order
            messages.append((f"ev-{i}", "json", phone, to, body, start + dt.timedelta(milliseconds=5 * i)))
    rng.shuffle(messages)
    requests = []
    duplicates = 0
    for index, message in enumerate(messages):
        requests.append(message)
        if index % 3 == 0:
            duplicates += 1
            if index % 2 == 0:
                requests.append(message)  # right away: the copies race each other
            else:
                requests.insert(rng.randrange(len(requests) // 2, len(requests)), message)
    return messages, requests, duplicates


class Poster:
    """Posts the requests from CLIENTS threads, retrying transport errors and 5xx like a provider."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.local = threading.local()
        self.statuses: Counter = Counter()
        self.retries = 0
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.sent = 0

    def client(self) -> httpx.Client:
        if not hasattr(self.local, "client"):
            self.local.client = httpx.Client(base_url=self.base_url, timeout=30)
        return self.local.client

    def post(self, message) -> None:
        provider_id, endpoint, phone, to, body, timestamp = message
        for attempt in range(6):
            started = time.perf_counter()
            try:
                response = self._send(endpoint, provider_id, phone, to, body, timestamp)
            except httpx.TransportError:
                status = 0
            else:
                status = response.status_code
            if status and status < 500:
                break
            with self.lock:
                self.retries += 1
            time.sleep(0.2 * (attempt + 1))
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(time.perf_counter() - started)
            self.sent += 1

    def _send(self, endpoint, provider_id, phone, to, body, timestamp) -> httpx.Response:
        if endpoint == "twilio":
            params = {
                "MessageSid": provider_id,
                "AccountSid": "ACfault",
                "From": phone,
                "To": to,
                "Body": body,
            }
            signature = twilio_signature(
                f"{self.base_url}/webhooks/twilio/inbound", params, settings.TWILIO_AUTH_TOKEN
            )
            return self.client().post(
                "/webhooks/twilio/inbound", data=params, headers={"X-Twilio-Signature": signature}
            )
        payload = json.dumps(
            {
                "type": "inbound",
                "id": provider_id,
                "from": phone,
                "to": to,
                "body": body,
                "timestamp": timestamp.isoformat(),
            }
        ).encode()
        signed_at = str(int(time.time()))
        signature = json_signature(signed_at, payload, settings.WEBHOOK_SIGNING_SECRET)
        return self.client().post(
            "/webhooks/events",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "X-Webhook-Timestamp": signed_at,
                "X-Webhook-Signature": f"sha256={signature}",
            },
        )


def expected_states(initial: dict, messages: list[Message], list_ids: dict) -> dict:
    """Replay each person's stored messages in timestamp order: (contact, list) -> "active" | "message"."""
    states = dict(initial)
    by_contact = defaultdict(list)
    for message in messages:
        by_contact[message.contact_id].append(message)
    for contact_id, own in by_contact.items():
        for message in sorted(own, key=lambda m: (m.sent_at, m.pk)):
            key = (contact_id, message.sending_list_id)
            if message.keyword == KeywordKind.OPT_OUT:
                states[key] = "message"
            elif message.keyword == KeywordKind.OPT_IN:
                states[key] = "active"
            elif message.keyword == KeywordKind.OPT_OUT_ALL:
                for list_id in list_ids.values():
                    if (contact_id, list_id) in states:
                        states[(contact_id, list_id)] = "message"
                states[key] = "message"
    return states


@pytest.fixture
def worker_sms_backend(monkeypatch):
    """The worker records replies in memory instead of printing 10,000 of them to its log."""
    monkeypatch.setenv("SMS_BACKEND", "engagement.backends.locmem.LocMemBackend")


@pytest.mark.celery_worker
@pytest.mark.timeout(900)
@pytest.mark.django_db(transaction=True)
def test_inbound_webhooks_under_load_lose_nothing_and_double_nothing_while_the_worker_dies(
    worker_sms_backend, celery_worker
):
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    started = time.monotonic()
    list_a = SendingListFactory(phone_number=LIST_A, name="Acme Deals")
    list_b = SendingListFactory(phone_number=LIST_B, name="Acme News")
    list_ids = {LIST_A: list_a.pk, LIST_B: list_b.pk}

    # A third of the people are members of list A before the messages, a sixth of both lists.
    initial_phones = {}
    for index, phone in enumerate(PHONES[: len(PHONES) // 3]):
        contact = Contact.objects.create(phone_number=phone)
        for sending_list in (list_a, list_b) if index % 2 == 0 else (list_a,):
            list_contact_subscribe(
                sending_list=sending_list,
                contact=contact,
                signup_method="import",
                actor=Actor.system("setup"),
            )
        initial_phones[phone] = contact.pk
    # Every message is sent after the memberships were made (their timestamps are in the future).
    messages, requests, duplicates = generate(timezone.now() + dt.timedelta(seconds=1))

    port = free_port()
    server = Gunicorn(
        port=port,
        env={
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": REDIS_URL,
            "CELERY_QUEUE": celery_worker.queue,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "DJANGO_DEBUG": "true",
            "LOG_LEVEL": "WARNING",
        },
    )
    poster = Poster(f"http://127.0.0.1:{port}")
    kills = 0
    try:
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(poster.post, message) for message in requests]
            for fraction in (1 / 3, 2 / 3):
                wait_for(lambda fraction=fraction: poster.sent >= len(requests) * fraction, 600, 0.1)
                celery_worker.kill()
                kills += 1
                time.sleep(1)
                celery_worker.start()
            for future in futures:
                future.result()
        load_s = time.monotonic() - started
    finally:
        server.stop()

    assert dict(poster.statuses) == {200: len(requests)}

    # The queue drains; what is still pending then was lost with a killed worker (its tasks were
    # unacked and come back only after the visibility timeout): the beat sweep runs those.
    pending = Message.objects.filter(direction="inbound", follow_up_done_at__isnull=True)
    history = [pending.count()]
    while history[-1] and not (len(history) > 5 and history[-1] == history[-6]):
        time.sleep(1)
        history.append(pending.count())
        assert len(history) < 600, "the follow-up queue did not drain within 10 minutes"
    lost_with_workers = history[-1]
    inbound_follow_up_sweep.delay(grace_s=0, batch=5000)  # what beat does every minute
    wait_for(lambda: not pending.exists(), 300, 0.5)
    total_s = time.monotonic() - started

    # Every message stored exactly once, as sent.
    stored = list(Message.objects.filter(direction="inbound").select_related("contact", "sending_list"))
    assert len(stored) == len({m.provider_message_id for m in stored}) == MESSAGES
    sent = {message[0]: message for message in messages}
    for message in stored:
        provider_id, endpoint, phone, to, body, timestamp = sent[message.provider_message_id]
        assert (message.contact.phone_number, message.sending_list.phone_number, message.body) == (
            phone,
            to,
            body,
        )
        if timestamp is not None:
            assert message.sent_at == timestamp

    # Every membership's state is the one the messages, replayed in time order, give.
    initial = {(contact_id, list_a.pk): "active" for contact_id in initial_phones.values()}
    initial.update(
        {
            (contact_id, list_b.pk): "active"
            for index, contact_id in enumerate(initial_phones.values())
            if index % 2 == 0
        }
    )
    expected = expected_states(initial, stored, list_ids)
    actual = {
        (m.contact_id, m.sending_list_id): ("active" if m.active else m.unsub_reason)
        for m in ListContact.objects.all()
    }
    mismatches = {
        key: (expected.get(key), actual.get(key))
        for key in expected.keys() | actual.keys()
        if expected.get(key) != actual.get(key)
    }
    assert mismatches == {}

    # Counts maintained as deltas equal the real counts.
    real_counts = Counter(
        (m.sending_list_id, "active" if m.active else m.unsub_reason) for m in ListContact.objects.all()
    )
    maintained = {
        (row["sending_list_id"], row["status"]): row["total"]
        for row in ListStatusCount.objects.values("sending_list_id", "status").annotate(total=Sum("count"))
        if row["total"]
    }
    assert maintained == dict(real_counts)

    # No event doubled: one message changes one membership at most once per kind.
    doubled = (
        SubscriptionEvent.objects.filter(actor_kind="message")
        .values("list_contact_id", "actor_id", "kind")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(doubled) == []
    # Each membership's event history ends in its current state.
    for membership in ListContact.objects.all():
        last = (
            SubscriptionEvent.objects.filter(list_contact=membership).order_by("-occurred_at", "-id").first()
        )
        assert (last.kind != "opted_out") == membership.active, membership.pk

    # Every follow-up ran; no message has more than one reply (Message.reply_to is one-to-one).
    replies = Message.objects.filter(direction="outbound")
    assert not Message.objects.filter(direction="inbound", follow_up_done_at__isnull=True).exists()
    assert replies.filter(reply_to__isnull=True).count() == 0
    keyword_messages = sum(1 for m in stored if m.keyword in (KeywordKind.HELP, KeywordKind.OPT_OUT_ALL))
    assert replies.count() >= keyword_messages  # HELP and STOPALL are always answered

    latencies = sorted(poster.latencies)
    counts = {
        "messages": MESSAGES,
        "requests": len(requests),
        "duplicates": duplicates,
        "clients": CLIENTS,
        "worker_kills": kills,
        "follow_ups_run_by_the_sweep": lost_with_workers,
        "client_retries": poster.retries,
        "people": PEOPLE,
        "memberships": len(actual),
        "memberships_opted_out": sum(1 for state in actual.values() if state != "active"),
        "subscription_events": SubscriptionEvent.objects.filter(actor_kind="message").count(),
        "replies": replies.count(),
        "keywords": dict(Counter(m.keyword or "none" for m in stored)),
        "load_s": round(load_s, 1),
        "total_s": round(total_s, 1),
        "requests_per_s": round(len(requests) / load_s, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }
    Path(ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "inbound_fault.json").write_text(json.dumps(counts, indent=2))
    print(json.dumps(counts, sort_keys=True))
