"""The webhooks through Django's test client: signatures, replay windows, 2xx only for written work."""

import json
import time

import pytest
from django.conf import settings
from django.test import Client

from contacts.models import Contact
from engagement.models import EarlyDeliveryReport, Message
from engagement.webhooks import json_signature, twilio_signature
from sendinglists.models import ListContact, SubscriptionEvent
from tests.engagement.support import LIST_NUMBER, PHONE, json_post, twilio_post
from tests.factories import ContactFactory, ListContactFactory, MessageFactory

INBOUND = "/webhooks/twilio/inbound"
STATUS = "/webhooks/twilio/status"


@pytest.fixture
def client():
    # CSRF does not apply: the signature does.
    return Client(enforce_csrf_checks=True)


def stop_params(**overrides) -> dict:
    return {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": "AC1",
        "From": PHONE,
        "To": LIST_NUMBER,
        "Body": "STOP",
        **overrides,
    }


def nothing_written() -> bool:
    return (
        Message.objects.count(),
        Contact.objects.count(),
        ListContact.objects.count(),
        SubscriptionEvent.objects.count(),
    ) == (0, 0, 0, 0)


def test_a_signed_twilio_stop_is_written_before_the_empty_twiml_answer(client, sending_list):
    response = twilio_post(client, INBOUND, stop_params())

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    membership = ListContact.objects.get()
    assert (membership.contact.phone_number, membership.active, membership.unsub_reason) == (
        PHONE,
        False,
        "message",
    )
    assert Message.objects.get(direction="inbound").provider_message_id == "SM" + "a" * 32


@pytest.mark.parametrize(
    "signature",
    ["", "not-a-signature", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="],
    ids=["missing", "garbage", "wrong"],
)
def test_a_bad_or_missing_twilio_signature_is_403_and_writes_nothing(client, sending_list, signature):
    params = stop_params()
    response = (
        twilio_post(client, INBOUND, params, signature=signature)
        if signature
        else client.post(INBOUND, params)
    )

    assert response.status_code == 403
    assert nothing_written()


def test_a_twilio_signature_made_with_another_token_or_over_other_params_is_403(client, sending_list):
    assert twilio_post(client, INBOUND, stop_params(), token="someone-elses-token").status_code == 403
    signed_for_hello = twilio_signature(
        settings.PUBLIC_BASE_URL + INBOUND, stop_params(Body="hello"), settings.TWILIO_AUTH_TOKEN
    )
    assert twilio_post(client, INBOUND, stop_params(), signature=signed_for_hello).status_code == 403
    assert nothing_written()


def test_without_a_configured_auth_token_every_twilio_webhook_is_refused(client, sending_list, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    assert twilio_post(client, INBOUND, stop_params(), token="").status_code == 403
    assert nothing_written()


def test_a_replayed_twilio_webhook_answers_200_and_changes_nothing(client, sending_list):
    twilio_post(client, INBOUND, stop_params())
    events = SubscriptionEvent.objects.count()

    response = twilio_post(client, INBOUND, stop_params(Body="START"))

    assert response.status_code == 200
    assert (Message.objects.count(), SubscriptionEvent.objects.count()) == (1, events)
    assert ListContact.objects.get().active is False


def test_missing_twilio_parameters_are_a_400_naming_them(client, sending_list):
    response = twilio_post(client, INBOUND, {"Body": "STOP", "To": LIST_NUMBER})

    assert response.status_code == 400
    assert response.content.decode() == "Missing required parameter(s): MessageSid, From."
    assert nothing_written()


def test_an_invalid_from_number_is_a_400_with_the_reason_and_writes_nothing(client, sending_list):
    response = twilio_post(client, INBOUND, stop_params(From="ACME"))

    assert response.status_code == 400
    assert "phone_number: ACME is not a valid phone number" in response.content.decode()
    assert nothing_written()


def test_the_webhooks_accept_only_post(client):
    assert client.get(INBOUND).status_code == 405
    assert client.get("/webhooks/events").status_code == 405


def test_a_twilio_status_callback_updates_the_outbound_message(client, sending_list):
    message = MessageFactory(sending_list=sending_list, status="sent", provider_message_id="SMout1")

    response = twilio_post(
        client, STATUS, {"MessageSid": "SMout1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )

    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("undelivered", "30003")


def test_a_status_callback_with_a_bad_signature_is_403_and_changes_nothing(client, sending_list):
    message = MessageFactory(sending_list=sending_list, status="sent", provider_message_id="SMout1")

    response = twilio_post(
        client, STATUS, {"MessageSid": "SMout1", "MessageStatus": "failed"}, signature="bad"
    )

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_status_callback_for_an_unknown_message_is_kept_for_it_and_an_unknown_status_is_400(
    client, sending_list
):
    # Its send may not have committed yet (tests/engagement/test_early_reports.py).
    unknown = twilio_post(client, STATUS, {"MessageSid": "SMnope", "MessageStatus": "delivered"})
    bad_status = twilio_post(client, STATUS, {"MessageSid": "SMnope", "MessageStatus": "exploded"})

    assert (unknown.status_code, bad_status.status_code) == (204, 400)
    assert list(EarlyDeliveryReport.objects.values_list("provider_message_id", "status")) == [
        ("SMnope", "delivered")
    ]
    assert bad_status.content.decode() == "Unknown MessageStatus 'exploded'."


# --- generic JSON ---------------------------------------------------------------------------------


def inbound_event(**overrides) -> dict:
    return {
        "type": "inbound",
        "id": "msg-1",
        "from": "14155550123",
        "to": LIST_NUMBER,
        "body": "Stop.",
        **overrides,
    }


def test_a_signed_json_inbound_event_is_processed_with_its_own_timestamp(client, sending_list):
    response = json_post(client, inbound_event(timestamp="2026-01-02T03:04:05Z"))

    assert response.status_code == 200
    message = Message.objects.get()
    assert response.json() == {"ok": True, "message_id": message.pk, "created": True, "keyword": "opt_out"}
    assert message.sent_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert ListContact.objects.get().opted_out_at == message.sent_at
    assert json_post(client, inbound_event()).json()["created"] is False


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"signature": "sha256=" + "0" * 64}, "Invalid signature."),
        ({"signature": ""}, "Missing X-Webhook-Timestamp or X-Webhook-Signature header."),
        ({"secret": "another-secret"}, "Invalid signature."),
        ({"timestamp": -400}, "X-Webhook-Timestamp is outside the 300 s replay window."),
        ({"timestamp": +400}, "X-Webhook-Timestamp is outside the 300 s replay window."),
    ],
    ids=["wrong", "missing", "other-secret", "too-old", "future"],
)
def test_a_bad_json_signature_or_a_stale_timestamp_is_403_and_writes_nothing(
    client, sending_list, kwargs, error
):
    if "timestamp" in kwargs:  # an offset from now
        kwargs = {"timestamp": int(time.time()) + kwargs["timestamp"]}
    response = json_post(client, inbound_event(), **kwargs)

    assert response.status_code == 403
    assert response.json() == {"ok": False, "error": error}
    assert nothing_written()


# Once printed in the README as the development defaults: whoever read it could sign a STOP.
PUBLISHED_WEBHOOK_SECRETS = {"twilio": "dev-twilio-auth-token", "json": "dev-webhook-secret"}


def test_a_stop_signed_with_a_secret_published_in_the_readme_is_refused(client, sending_list):
    twilio = twilio_post(client, INBOUND, stop_params(), token=PUBLISHED_WEBHOOK_SECRETS["twilio"])
    generic = json_post(client, inbound_event(), secret=PUBLISHED_WEBHOOK_SECRETS["json"])

    assert (twilio.status_code, generic.status_code) == (403, 403)
    assert nothing_written()


def test_a_json_body_changed_after_signing_is_403(client, sending_list):
    timestamp = str(int(time.time()))
    signed = json.dumps(inbound_event(body="hello")).encode()
    signature = "sha256=" + json_signature(timestamp, signed, settings.WEBHOOK_SIGNING_SECRET)

    response = json_post(client, inbound_event(), timestamp=int(timestamp), signature=signature)

    assert response.status_code == 403
    assert nothing_written()


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"not json", "The body is not JSON."),
        ([1, 2], "The body must be a JSON object."),
        ({"type": "bounce"}, "type: one of inbound, status, complaint."),
        (inbound_event(id=""), "id: required."),
        (
            inbound_event(timestamp="yesterday"),
            "timestamp: must be ISO 8601 with a time zone, e.g. 2026-05-01T12:00:00Z.",
        ),
        (
            inbound_event(timestamp="2030-01-02T03:04:05"),
            "timestamp: must be ISO 8601 with a time zone, e.g. 2026-05-01T12:00:00Z.",
        ),
        (
            inbound_event(**{"from": "nope"}),
            "phone_number: nope is not a valid phone number: contains letters.",
        ),
        (
            {"type": "status", "id": "x", "status": "lost"},
            "status: one of queued, sent, delivered, undelivered, failed; got 'lost'.",
        ),
    ],
)
def test_bad_json_payloads_are_a_400_with_a_specific_error_and_write_nothing(
    client, sending_list, payload, error
):
    response = json_post(client, payload)

    assert response.status_code == 400
    assert response.json() == {"ok": False, "error": error}
    assert nothing_written()


def test_json_status_and_complaint_events_update_the_message_and_membership(client, sending_list):
    membership = ListContactFactory(sending_list=sending_list, contact=ContactFactory(phone_number=PHONE))
    MessageFactory(
        sending_list=sending_list,
        contact=membership.contact,
        list_contact=membership,
        status="sent",
        provider_message_id="out-1",
    )

    delivered = json_post(client, {"type": "status", "id": "out-1", "status": "delivered"})
    complaint = json_post(client, {"type": "complaint", "id": "out-1"})
    unknown = json_post(client, {"type": "complaint", "id": "out-404"})

    assert (delivered.status_code, delivered.json()) == (
        200,
        {"ok": True, "applied": True, "membership_reason": ""},
    )
    assert (complaint.status_code, complaint.json()) == (
        200,
        {"ok": True, "applied": True, "membership_reason": "complaint"},
    )
    assert (unknown.status_code, unknown.json()["pending"]) == (202, True)
    membership.refresh_from_db()
    assert (membership.active, membership.unsub_reason) == (False, "complaint")
