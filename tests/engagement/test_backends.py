"""SMS backends: console, locmem, and the Twilio backend against a local stand-in for its API."""

import base64
import io
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from engagement.backends import OutgoingSms, SmsBackendError, SmsRejected, get_backend
from engagement.backends.console import ConsoleBackend
from engagement.backends.twilio import TwilioBackend
from engagement.models import Message
from engagement.services import message_send
from sendinglists.actors import Actor
from sendinglists.models import SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import ContactFactory

SMS = OutgoingSms(
    from_number="+18005550100", to_number="+14155550123", body="Hi", status_callback_url="http://x/cb"
)


class FakeTwilio(BaseHTTPRequestHandler):
    """Answers POST …/Messages.json with the response queued in `answers` and records requests."""

    answers: list[tuple[int, dict]] = []
    requests: list[dict] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        FakeTwilio.requests.append({"path": self.path, "auth": self.headers["Authorization"], "form": form})
        status, body = FakeTwilio.answers.pop(0)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio_api(settings):
    FakeTwilio.answers, FakeTwilio.requests = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "engagement.backends.twilio.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID = "AC123"
    settings.TWILIO_AUTH_TOKEN = "secret-token"
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    yield FakeTwilio
    server.shutdown()
    server.server_close()


def test_the_console_backend_writes_the_message_and_returns_an_id():
    stream = io.StringIO()

    provider_id = ConsoleBackend(stream=stream).send(SMS)

    assert provider_id.startswith("console-")
    assert "From: +18005550100\nTo: +14155550123\n\nHi\n" in stream.getvalue()


def test_get_backend_follows_the_setting(settings):
    settings.SMS_BACKEND = "engagement.backends.console.ConsoleBackend"
    assert isinstance(get_backend(), ConsoleBackend)


def test_the_twilio_backend_posts_the_message_with_basic_auth(twilio_api):
    twilio_api.answers.append((201, {"sid": "SM42", "status": "queued"}))

    assert get_backend().send(SMS) == "SM42"

    (request,) = twilio_api.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC123:secret-token").decode()
    assert request["form"] == {
        "From": ["+18005550100"],
        "To": ["+14155550123"],
        "Body": ["Hi"],
        "StatusCallback": ["http://x/cb"],
    }


def test_a_twilio_refusal_is_permanent_and_a_server_error_is_retryable(twilio_api):
    twilio_api.answers += [
        (400, {"code": 21211, "message": "Invalid 'To'"}),
        (503, {}),
        (429, {"code": 20429}),
    ]

    with pytest.raises(SmsRejected) as refused:
        get_backend().send(SMS)
    with pytest.raises(SmsBackendError) as unavailable:
        get_backend().send(SMS)
    with pytest.raises(SmsBackendError) as throttled:
        get_backend().send(SMS)

    assert refused.value.code == "21211"
    assert not isinstance(unavailable.value, SmsRejected)
    assert not isinstance(throttled.value, SmsRejected)


def test_an_unreachable_twilio_is_retryable(settings):
    backend = TwilioBackend(account_sid="AC1", auth_token="t", api_base_url="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(SmsBackendError, match="could not be reached"):
        backend.send(SMS)


def test_the_twilio_backend_needs_its_credentials(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    with pytest.raises(ImproperlyConfigured):
        TwilioBackend()


def test_a_send_twilio_refuses_as_opted_out_records_the_failure_and_opts_the_member_out(
    twilio_api, sending_list
):
    contact = ContactFactory(phone_number="+14155550123")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=Actor.system("test")
    ).membership
    twilio_api.answers.append((400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}))

    message = message_send(sending_list=sending_list, contact=contact, body="Sale!")

    assert (message.status, message.error_code, message.provider_message_id) == ("failed", "21610", None)
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason, membership.send_count) == (False, "message", 0)
    assert SubscriptionEvent.objects.get(kind="opted_out").actor_kind == "delivery"
    assert Message.objects.count() == 1
