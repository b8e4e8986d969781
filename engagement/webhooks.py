"""Provider webhooks: inbound SMS and delivery status, Twilio-compatible and a generic signed JSON form.

Signatures, not CSRF, protect these endpoints: a bad or missing signature is a 403 and nothing is
written. Each request runs its service in one transaction and answers 2xx only after it commits
(the services are atomic and the views opt out of ATOMIC_REQUESTS), so a provider that gets no
2xx retries and the retry is a no-op if the first attempt did commit.
"""

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contacts.jsonsafe import MAX_JSON_DEPTH, JsonTooDeep, json_loads_bounded
from engagement.choices import MessageStatus
from engagement.services import delivery_report_receive, inbound_message_receive

logger = logging.getLogger(__name__)

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_HEADER = "X-Webhook-Signature"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# Unix seconds in ASCII digits, at most 12 of them: checked before int() (which refuses more
# than 4,300 digits with a ValueError, and reads other scripts' digits) or any HMAC is computed.
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
# An event's own timestamp: anything outside these years is a sender's bug, and at the edges of
# datetime's range a conversion to UTC overflows.
EVENT_YEARS = range(2000, 2100)

# Twilio's MessageStatus values -> ours (read receipts count as delivered).
TWILIO_STATUSES = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
GENERIC_STATUSES = {status: status for status in TWILIO_STATUSES.values()}


# --- signatures -----------------------------------------------------------------------------------


def twilio_signature(url: str, params, auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each sorted name+value."""
    payload = url
    for name in sorted(set(params)):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        for value in sorted(set(values)):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _twilio_request_is_signed(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        logger.error("TWILIO_AUTH_TOKEN is not set: every Twilio webhook is refused")
        return False
    given = request.headers.get(TWILIO_SIGNATURE_HEADER, "")
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a forged header).
    expected = twilio_signature(url, request.POST, token)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def json_signature(timestamp: str, body: bytes, secret: str) -> str:
    """The generic webhook's signature: hex HMAC-SHA256 of `<timestamp>.<raw body>`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _json_signature_problem(request: HttpRequest) -> str:
    """Why the generic webhook's signature is not acceptable ("" when it is)."""
    secret = settings.WEBHOOK_SIGNING_SECRET
    if not secret:
        logger.error("WEBHOOK_SIGNING_SECRET is not set: every signed webhook is refused")
        return "Webhook signing is not configured."
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    given = request.headers.get(SIGNATURE_HEADER, "").strip().removeprefix("sha256=")
    if not timestamp or not given:
        return f"Missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header."
    if not UNIX_SECONDS.fullmatch(timestamp):
        return f"{TIMESTAMP_HEADER} must be Unix seconds."
    if abs(time.time() - int(timestamp)) > settings.WEBHOOK_REPLAY_WINDOW_S:
        return f"{TIMESTAMP_HEADER} is outside the {settings.WEBHOOK_REPLAY_WINDOW_S} s replay window."
    if not hmac.compare_digest(given.encode(), json_signature(timestamp, request.body, secret).encode()):
        return "Invalid signature."
    return ""


# --- responses ------------------------------------------------------------------------------------


def _validation_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


def _twilio_error(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _required(params, *names: str) -> tuple[dict, str]:
    values = {name: (params.get(name) or "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    return values, (f"Missing required parameter(s): {', '.join(missing)}." if missing else "")


# --- Twilio ---------------------------------------------------------------------------------------


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """Twilio's inbound SMS webhook (form POST: MessageSid, From, To, Body)."""
    if not _twilio_request_is_signed(request):
        return _twilio_error(403, "Invalid or missing X-Twilio-Signature.")
    params = request.POST.copy()
    if not params.get("MessageSid") and params.get("SmsSid"):
        params["MessageSid"] = params["SmsSid"]
    values, problem = _required(params, "MessageSid", "From", "To")
    if problem:
        return _twilio_error(400, problem)
    try:
        inbound_message_receive(
            provider_message_id=values["MessageSid"],
            from_number=values["From"],
            to_number=values["To"],
            body=params.get("Body", ""),
        )
    except ValidationError as error:
        return _twilio_error(400, _validation_text(error))
    # The reply (if any) goes out from the follow-up task, not in this response.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for outbound messages (MessageSid, MessageStatus, ErrorCode)."""
    if not _twilio_request_is_signed(request):
        return _twilio_error(403, "Invalid or missing X-Twilio-Signature.")
    params = request.POST.copy()
    if not params.get("MessageSid") and params.get("SmsSid"):
        params["MessageSid"] = params["SmsSid"]
    if not params.get("MessageStatus") and params.get("SmsStatus"):
        params["MessageStatus"] = params["SmsStatus"]
    values, problem = _required(params, "MessageSid", "MessageStatus")
    if problem:
        return _twilio_error(400, problem)
    status = TWILIO_STATUSES.get(values["MessageStatus"].lower())
    if status is None:
        if values["MessageStatus"].lower() in {"receiving", "received"}:
            return HttpResponse(status=204)  # an inbound message's own status: nothing to update
        return _twilio_error(400, f"Unknown MessageStatus {values['MessageStatus'][:30]!r}.")
    # A report for an id we don't know yet is kept for its message (the send may not have
    # committed): Twilio does not retry a status callback, so refusing it would lose the report.
    try:
        delivery_report_receive(
            provider_message_id=values["MessageSid"],
            status=status,
            error_code=(params.get("ErrorCode") or "").strip(),
        )
    except ValidationError as error:
        return _twilio_error(400, _validation_text(error))
    return HttpResponse(status=204)


# --- generic JSON ---------------------------------------------------------------------------------


class _BadPayload(Exception):
    pass


def _field(payload: dict, name: str, *, required: bool = True) -> str:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _BadPayload(f"{name}: required.")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _BadPayload(f"{name}: must be a string.")
    return str(value).strip()


def _timestamp(payload: dict) -> dt.datetime | None:
    raw = payload.get("timestamp")
    if raw in (None, ""):
        return None
    try:
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:  # well formed but impossible: month 13, February 30, offset +25:00
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        raise _BadPayload("timestamp: must be ISO 8601 with a time zone, e.g. 2026-05-01T12:00:00Z.")
    try:
        year = parsed.astimezone(dt.UTC).year
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past datetime's range in UTC
        year = None
    if year not in EVENT_YEARS:
        raise _BadPayload(f"timestamp: must be in the years {EVENT_YEARS.start} to {EVENT_YEARS.stop - 1}.")
    # A keyword's own time orders it against the person's others: one dated far ahead would win
    # every later STOP. A provider clock a little fast is tolerated (the signature's replay window):
    # its messages keep their own order, and an operator's or import's opt-out still applies
    # (`list_contact_opt_out` with no time of its own acts after any change dated ahead).
    if parsed > timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_REPLAY_WINDOW_S):
        raise _BadPayload("timestamp: is in the future; send the time the event happened.")
    return parsed


def _handle_event(payload: dict) -> tuple[int, dict]:
    kind = payload.get("type")
    if kind == "inbound":
        result = inbound_message_receive(
            provider_message_id=_field(payload, "id"),
            from_number=_field(payload, "from"),
            to_number=_field(payload, "to"),
            body=_field(payload, "body", required=False),
            received_at=_timestamp(payload),
        )
        return 200, {
            "ok": True,
            "message_id": result.message.pk,
            "created": result.created,
            "keyword": result.message.keyword,
        }
    if kind == "status":
        raw_status = _field(payload, "status").lower()
        status = GENERIC_STATUSES.get(raw_status)
        if status is None:
            raise _BadPayload(f"status: one of {', '.join(GENERIC_STATUSES)}; got {raw_status[:30]!r}.")
        update = delivery_report_receive(
            provider_message_id=_field(payload, "id"),
            status=status,
            error_code=_field(payload, "error_code", required=False),
            occurred_at=_timestamp(payload),
        )
        return _report_answer(update)
    if kind == "complaint":
        update = delivery_report_receive(
            provider_message_id=_field(payload, "id"), kind="complaint", occurred_at=_timestamp(payload)
        )
        return _report_answer(update)
    raise _BadPayload("type: one of inbound, status, complaint.")


def _report_answer(update) -> tuple[int, dict]:
    if update is None:
        # No outbound message has this id yet: kept, and applied when the message is recorded.
        return 202, {"ok": True, "applied": False, "pending": True, "membership_reason": ""}
    return 200, {"ok": True, "applied": update.applied, "membership_reason": update.membership_reason}


@csrf_exempt
@require_POST
@transaction.non_atomic_requests
def signed_events(request: HttpRequest) -> JsonResponse:
    """The generic JSON webhook, HMAC-SHA256 signed over `<timestamp>.<body>` with a replay window.

    Body: {"type": "inbound", "id", "from", "to", "body", "timestamp"?} |
          {"type": "status", "id", "status", "error_code"?, "timestamp"?} |
          {"type": "complaint", "id", "timestamp"?}
    """
    problem = _json_signature_problem(request)
    if problem:
        return JsonResponse({"ok": False, "error": problem}, status=403)
    try:
        payload = json_loads_bounded(request.body)
    except JsonTooDeep:
        return JsonResponse(
            {"ok": False, "error": f"The body is nested more than {MAX_JSON_DEPTH} levels deep."}, status=400
        )
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"ok": False, "error": "The body is not JSON."}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"ok": False, "error": "The body must be a JSON object."}, status=400)
    try:
        status, body = _handle_event(payload)
    except _BadPayload as error:
        return JsonResponse({"ok": False, "error": str(error)}, status=400)
    except ValidationError as error:
        return JsonResponse({"ok": False, "error": _validation_text(error)}, status=400)
    return JsonResponse(body, status=status)
