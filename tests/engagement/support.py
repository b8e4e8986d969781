"""Helpers for the engagement tests: inbound messages and signed webhook posts."""

import itertools
import json
import time

from django.conf import settings
from django.test import Client

from engagement.services import inbound_message_receive
from engagement.webhooks import json_signature, twilio_signature

LIST_NUMBER = "+18005550100"
OTHER_LIST_NUMBER = "+18005550199"
PHONE = "+14155550123"

_sids = itertools.count(1)


def next_sid() -> str:
    return f"IN{next(_sids):032d}"


def receive(body: str, *, to: str = LIST_NUMBER, phone: str = PHONE, sid: str | None = None, at=None):
    """An inbound message through the service (what both webhooks call)."""
    return inbound_message_receive(
        provider_message_id=sid or next_sid(), from_number=phone, to_number=to, body=body, received_at=at
    )


def twilio_post(
    client: Client, path: str, params: dict, *, signature: str | None = None, token: str | None = None
):
    """POST form params to a Twilio webhook, signed as Twilio signs them (unless `signature` is given)."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + path
    if signature is None:
        signature = twilio_signature(url, params, token or settings.TWILIO_AUTH_TOKEN)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def json_post(
    client: Client, payload, *, timestamp: int | None = None, secret: str | None = None, signature=None
):
    """POST a JSON event to the generic webhook, signed with HMAC-SHA256 over `<timestamp>.<body>`."""
    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    if signature is None:
        signature = "sha256=" + json_signature(timestamp, body, secret or settings.WEBHOOK_SIGNING_SECRET)
    return client.generic(
        "POST",
        "/webhooks/events",
        body,
        content_type="application/json",
        HTTP_X_WEBHOOK_TIMESTAMP=timestamp,
        HTTP_X_WEBHOOK_SIGNATURE=signature,
    )
