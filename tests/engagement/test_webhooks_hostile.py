"""Hostile input to the webhooks: whatever an outsider (or a broken provider) posts is a clear 4xx
that writes nothing, never a server error. Runs on SQLite and on PostgreSQL, which refuses NUL
characters and over-long varchar values that SQLite would store."""

import json

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.models import Contact
from engagement.models import EarlyDeliveryReport, Message
from engagement.webhooks import MAX_JSON_DEPTH, json_signature
from sendinglists.models import ListContact, SubscriptionEvent
from tests.engagement.support import LIST_NUMBER, PHONE, json_post, twilio_post
from tests.factories import MessageFactory

EVENTS = "/webhooks/events"
INBOUND = "/webhooks/twilio/inbound"
STATUS = "/webhooks/twilio/status"
TIMESTAMP_ERROR = "timestamp: must be ISO 8601 with a time zone, e.g. 2026-05-01T12:00:00Z."
TIMESTAMP_RANGE_ERROR = "timestamp: must be in the years 2000 to 2099."


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def nothing_written() -> bool:
    return (
        Message.objects.count(),
        Contact.objects.count(),
        ListContact.objects.count(),
        SubscriptionEvent.objects.count(),
        EarlyDeliveryReport.objects.count(),
    ) == (0, 0, 0, 0, 0)


def inbound_event(**overrides) -> dict:
    return {"type": "inbound", "id": "msg-1", "from": PHONE, "to": LIST_NUMBER, "body": "hi", **overrides}


def nested(depth: int) -> bytes:
    return b'{"type": "inbound", "id": "msg-1", "x": ' + b"[" * depth + b"]" * depth + b"}"


def signed_raw(client: Client, body: bytes, timestamp: str):
    signature = "sha256=" + json_signature(timestamp, body, settings.WEBHOOK_SIGNING_SECRET)
    return client.generic(
        "POST",
        EVENTS,
        body,
        content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_X_WEBHOOK_SIGNATURE=signature,
    )


# --- the signed JSON webhook ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    ["9" * 5000, "1" * 20, "²", "١٧٠٠٠٠٠٠٠٠", "-1", "1e9"],
    ids=["5000-digits", "20-digits", "superscript", "arabic-indic", "negative", "exponent"],
)
def test_a_timestamp_header_that_is_not_plain_unix_seconds_is_a_403_and_writes_nothing(
    client, sending_list, timestamp
):
    # Signed with the right secret: the header itself is what is wrong.
    response = signed_raw(client, json.dumps(inbound_event()).encode(), timestamp)

    assert response.status_code == 403
    assert response.json() == {"ok": False, "error": "X-Webhook-Timestamp must be Unix seconds."}
    assert nothing_written()


def test_a_json_signature_with_non_ascii_characters_is_a_403_and_writes_nothing(client, sending_list):
    response = json_post(client, inbound_event(), signature="sha256=\xe9" * 3)

    assert response.status_code == 403
    assert response.json() == {"ok": False, "error": "Invalid signature."}
    assert nothing_written()


def test_a_twilio_signature_with_non_ascii_characters_is_a_403_and_writes_nothing(client, sending_list):
    params = {"MessageSid": "SM" + "a" * 32, "From": PHONE, "To": LIST_NUMBER, "Body": "STOP"}

    response = twilio_post(client, INBOUND, params, signature="\xe9\xe9")

    assert response.status_code == 403
    assert nothing_written()


def test_json_nested_deeper_than_the_limit_is_a_400_and_writes_nothing(client, sending_list):
    response = json_post(client, nested(10_000))

    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error": "The body is nested more than 64 levels deep.",
    }
    assert nothing_written()


def test_json_nested_just_past_the_limit_is_a_400_and_at_the_limit_is_read(client, sending_list):
    # The event object is one level and "x"'s arrays the rest.
    too_deep = json_post(client, nested(MAX_JSON_DEPTH))
    at_limit = json_post(client, nested(MAX_JSON_DEPTH - 1))

    assert (too_deep.status_code, too_deep.json()["error"]) == (
        400,
        f"The body is nested more than {MAX_JSON_DEPTH} levels deep.",
    )
    assert at_limit.status_code == 400  # read, then refused for what it lacks
    assert at_limit.json() == {"ok": False, "error": "from: required."}
    assert nothing_written()


@pytest.mark.parametrize(
    ("timestamp", "error"),
    [
        ("2026-13-01T00:00:00Z", TIMESTAMP_ERROR),
        ("2026-02-30T00:00:00Z", TIMESTAMP_ERROR),
        ("2026-01-01T25:00:00Z", TIMESTAMP_ERROR),
        ("2026-01-01T00:00:00+25:00", TIMESTAMP_ERROR),
        ("9999-12-31T23:59:59Z", TIMESTAMP_RANGE_ERROR),
        ("9999-12-31T23:59:59-05:00", TIMESTAMP_RANGE_ERROR),
        ("0001-01-01T00:00:00+05:00", TIMESTAMP_RANGE_ERROR),
        ("1999-12-31T23:59:59Z", TIMESTAMP_RANGE_ERROR),
        ("2100-01-01T00:00:00Z", TIMESTAMP_RANGE_ERROR),
    ],
)
@pytest.mark.parametrize("kind", ["inbound", "status", "complaint"])
def test_an_impossible_or_far_off_event_timestamp_is_a_400_and_writes_nothing(
    client, sending_list, timestamp, error, kind
):
    payload = {
        "inbound": inbound_event(timestamp=timestamp),
        "status": {"type": "status", "id": "out-1", "status": "delivered", "timestamp": timestamp},
        "complaint": {"type": "complaint", "id": "out-1", "timestamp": timestamp},
    }[kind]

    response = json_post(client, payload)

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": error}
    assert nothing_written()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (inbound_event(body="STOP\x00"), "body: Null characters are not allowed."),
        (inbound_event(id="msg\x00"), "provider_message_id: Null characters are not allowed."),
        (inbound_event(id="m" * 5000), "provider_message_id: At most 64 characters."),
        (
            {"type": "status", "id": "s" * 5000, "status": "delivered"},
            "provider_message_id: At most 64 characters.",
        ),
        (
            {"type": "status", "id": "s\x00", "status": "delivered"},
            "provider_message_id: Null characters are not allowed.",
        ),
        (
            {"type": "status", "id": "out-1", "status": "failed", "error_code": "\x00"},
            "error_code: Null characters are not allowed.",
        ),
        ({"type": "complaint", "id": "c" * 5000}, "provider_message_id: At most 64 characters."),
        ({"type": "status", "id": "out-1", "status": ["delivered"]}, "status: must be a string."),
        ({"type": "status", "id": "out-1", "status": "delivered", "timestamp": 5}, TIMESTAMP_ERROR),
        (inbound_event(id={"a": 1}), "id: must be a string."),
        (inbound_event(id=True), "id: must be a string."),
        (inbound_event(id=1e308), "id: must be a string."),
        (inbound_event(body=["STOP"]), "body: must be a string."),
        ({"type": ["inbound"]}, "type: one of inbound, status, complaint."),
        ({"type": {"inbound": 1}}, "type: one of inbound, status, complaint."),
    ],
)
def test_wrong_types_nul_characters_and_over_long_ids_in_a_json_event_are_a_400(
    client, sending_list, payload, error
):
    response = json_post(client, payload)

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": error}
    assert nothing_written()


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"\xff\xfe", b"null", b'"x"', b"[]", b"1e999999", b"[" * 100_000]
)
def test_empty_or_odd_json_bodies_are_a_400(client, sending_list, body):
    response = json_post(client, body)

    assert response.status_code == 400
    assert response.json()["ok"] is False
    assert nothing_written()


def test_a_huge_integer_id_is_read_as_its_digits_or_refused_never_a_server_error(client, sending_list):
    body = b'{"type": "complaint", "id": ' + b"9" * 5000 + b"}"

    response = json_post(client, body)

    assert response.status_code == 400
    assert nothing_written()


# --- Twilio form webhooks -------------------------------------------------------------------------


def test_a_twilio_inbound_body_with_a_nul_character_is_a_400_and_writes_nothing(client, sending_list):
    params = {"MessageSid": "SM" + "a" * 32, "From": PHONE, "To": LIST_NUMBER, "Body": "STOP\x00"}

    response = twilio_post(client, INBOUND, params)

    assert response.status_code == 400
    assert response.content.decode() == "body: Null characters are not allowed."
    assert nothing_written()


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {"MessageSid": "S" * 5000, "MessageStatus": "delivered"},
            "provider_message_id: At most 64 characters.",
        ),
        (
            {"MessageSid": "SM\x00", "MessageStatus": "delivered"},
            "provider_message_id: Null characters are not allowed.",
        ),
        (
            {"MessageSid": "SMout1", "MessageStatus": "failed", "ErrorCode": "3\x00"},
            "error_code: Null characters are not allowed.",
        ),
    ],
    ids=["long-sid", "nul-sid", "nul-error-code"],
)
def test_a_twilio_status_callback_with_a_long_or_nul_id_is_a_400_and_writes_nothing(
    client, sending_list, params, error
):
    response = twilio_post(client, STATUS, params)

    assert response.status_code == 400
    assert response.content.decode() == error
    assert EarlyDeliveryReport.objects.count() == 0


def test_a_twilio_status_callback_with_a_nul_error_code_leaves_the_message_as_it_was(client, sending_list):
    message = MessageFactory(sending_list=sending_list, status="sent", provider_message_id="SMout1")

    response = twilio_post(
        client, STATUS, {"MessageSid": "SMout1", "MessageStatus": "failed", "ErrorCode": "3\x00"}
    )

    assert response.status_code == 400
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("sent", "")


# --- replays --------------------------------------------------------------------------------------


def test_a_replayed_status_report_for_an_unknown_message_is_kept_once(client, sending_list):
    for _ in range(3):
        assert (
            twilio_post(client, STATUS, {"MessageSid": "SMnope", "MessageStatus": "delivered"}).status_code
            == 204
        )
        assert json_post(client, {"type": "status", "id": "SMnope", "status": "delivered"}).status_code == 202
        assert json_post(client, {"type": "complaint", "id": "SMnope"}).status_code == 202
    twilio_post(client, STATUS, {"MessageSid": "SMnope", "MessageStatus": "failed", "ErrorCode": "30003"})

    assert sorted(EarlyDeliveryReport.objects.values_list("provider_message_id", "kind", "status")) == [
        ("SMnope", "complaint", ""),
        ("SMnope", "status", "delivered"),
        ("SMnope", "status", "failed"),
    ]


def test_a_signed_event_replayed_with_a_fresh_timestamp_changes_nothing(client, sending_list):
    first = json_post(client, inbound_event(body="STOP"))
    replay = json_post(client, inbound_event(body="STOP"))

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json()["created"] is False
    assert (Message.objects.count(), SubscriptionEvent.objects.count()) == (1, 1)


# --- generated input ------------------------------------------------------------------------------

_ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "a\x00", "9" * 400, "x" * 70, "STOP", "+14155550123", "2026-13-01T00:00:00Z", "é"]
) | st.text(max_size=80)
_ODD_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | _ODD_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_ODD_TEXT, children, max_size=3),
    max_leaves=6,
)
_EVENT_KEYS = ["type", "id", "from", "to", "body", "status", "error_code", "timestamp"]


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    kind=st.sampled_from(["inbound", "status", "complaint"]) | _ODD_VALUE,
    fields=st.dictionaries(st.sampled_from(_EVENT_KEYS), _ODD_VALUE, max_size=8),
)
def test_any_signed_json_event_is_answered_below_500(sending_list, kind, fields):
    with transaction.atomic():
        response = json_post(Client(raise_request_exception=False), {"type": kind, **fields})
        assert response.status_code < 500, response.content
        transaction.set_rollback(True)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    path=st.sampled_from([INBOUND, STATUS]),
    params=st.dictionaries(
        st.sampled_from(["MessageSid", "SmsSid", "From", "To", "Body", "MessageStatus", "ErrorCode"]),
        _ODD_TEXT,
        max_size=7,
    ),
)
def test_any_signed_twilio_form_is_answered_below_500(sending_list, path, params):
    with transaction.atomic():
        response = twilio_post(Client(raise_request_exception=False), path, params)
        assert response.status_code < 500, response.content
        transaction.set_rollback(True)
