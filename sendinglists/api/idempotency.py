"""`Idempotency-Key`: a retried POST returns the first response instead of acting twice.

The key's row is inserted in the same transaction as the work. A concurrent duplicate's insert
waits on the (token, key) unique constraint until the first commits, then finds the stored
response and replays it; if the first fails, nothing was stored and the retry acts. A key reused
with a different request is a 422.
"""

import datetime as dt
import functools
import hashlib
import json

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from sendinglists.tokens.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_TTL = dt.timedelta(hours=24)


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "getlist"):  # a form or multipart body: every value, files by their content
        data = {name: [_plain(value) for value in data.getlist(name)] for name in data}
    body = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _plain(value):
    """A form value as it goes into the fingerprint: an uploaded file by its name and content."""
    if not isinstance(value, UploadedFile):
        return value
    digest = hashlib.sha256()
    for chunk in value.chunks():
        digest.update(chunk)
    value.seek(0)
    return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}


def _replay(record: IdempotencyKey) -> Response:
    return Response(
        record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"}
    )


def idempotent(view_method):
    """Decorate a viewset's POST handler so that an `Idempotency-Key` header makes it run once."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise exceptions.ValidationError(
                {HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} printable characters (a UUID is a good choice)."]}
            )
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            record, created = IdempotencyKey.objects.get_or_create(
                token=request.auth, key=key, defaults={"request_fingerprint": fingerprint}
            )
            cutoff = timezone.now() - KEY_TTL
            if not created and record.created_at < cutoff:
                record.delete()
                record = IdempotencyKey.objects.create(
                    token=request.auth, key=key, request_fingerprint=fingerprint
                )
                created = True
            if created:
                # Expired keys go as new ones come: no table that only grows, no periodic job.
                IdempotencyKey.objects.filter(token=request.auth, created_at__lt=cutoff).delete()
            if not created:
                if record.request_fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return _replay(record)
            response = view_method(self, request, *args, **kwargs)
            record.response_status = response.status_code
            record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
            record.save(update_fields=["response_status", "response_body"])
        return response

    return wrapper
