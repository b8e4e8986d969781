"""`Authorization: Token <key>`: the key's sha256 finds the ApiToken; a revoked token is a 401."""

import datetime as dt

from django.utils import timezone
from rest_framework import authentication, exceptions

from sendinglists.tokens.models import ApiToken
from sendinglists.tokens.services import api_token_for_key

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
        # With allowed_list_ids: None for every list, else only these lists and their members.
        token = api_token_for_key(plain_key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("This token was revoked.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ApiTokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword
