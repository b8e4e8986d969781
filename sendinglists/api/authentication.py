"""`Authorization: Token <key>`: the key's sha256 finds the ApiToken; a revoked token is a 401."""

import datetime as dt

from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from sendinglists.api.tokens import api_token_hash
from sendinglists.models import ApiToken

# last_used_at is informational; writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiTokenUser:
    """`request.user` of a token request: authenticated, never staff, carries the token."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self) -> str:
        return f"API token {self.token.name}"

    def get_username(self) -> str:
        return str(self)


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Token <key>' with no spaces in the key."
            )
        try:
            plain_key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: the key is not text."
            ) from None
        # One query for the token and its lists: a row per list it is limited to (one row with
        # NULL when it is not), since every request pays for this lookup.
        rows = list(
            ApiToken.objects.filter(key_hash=api_token_hash(plain_key))
            .annotate(scoped_list_id=F("sending_lists__id"))
            .order_by()
        )
        if not rows:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = rows[0]
        if not token.is_active:
            raise exceptions.AuthenticationFailed("This token was revoked.")
        # None: every list. A list: only these lists and their members (see permissions.py).
        token.allowed_list_ids = sorted(row.scoped_list_id for row in rows if row.scoped_list_id) or None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ApiTokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
