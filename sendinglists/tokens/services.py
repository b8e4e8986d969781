"""API tokens: creation (the plain key is shown once) and revocation. Only a sha256 is stored."""

import hashlib
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from sendinglists.lists.models import SendingList
from sendinglists.tokens.models import ApiToken

KEY_BYTES = 30  # 40 url-safe characters
KEY_PREFIX_LENGTH = 8


def api_token_hash(plain_key: str) -> str:
    return hashlib.sha256(plain_key.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    name: str,
    read_only: bool = False,
    sending_lists: Iterable[SendingList] = (),
    created_by=None,
) -> tuple[ApiToken, str]:
    """Create a token; returns (token, plain_key). The plain key is never stored or shown again.

    With `sending_lists`, the token is `limited_to_lists`: it sees and changes only those lists and
    their members, and nothing once they are all deleted; with `read_only`, it may not write anywhere.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A token needs a name that says who uses it."})
    plain_key = secrets.token_urlsafe(KEY_BYTES)
    token = ApiToken(
        name=name,
        key_prefix=plain_key[:KEY_PREFIX_LENGTH],
        key_hash=api_token_hash(plain_key),
        read_only=read_only,
        created_by=created_by,
    )
    sending_lists = list(sending_lists)
    token.limited_to_lists = bool(sending_lists)
    token.full_clean()
    token.save()
    if sending_lists:
        token.sending_lists.set(sending_lists)
    return token, plain_key


def api_token_revoke(*, token: ApiToken) -> bool:
    """Revoke a token at once (its next request is a 401). Returns whether it was active."""
    now = timezone.now()
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if updated:
        token.revoked_at = now
    return bool(updated)


def api_token_for_key(plain_key: str) -> ApiToken | None:
    """The token of `plain_key` (revoked ones included: the caller says why it refuses them), with
    `allowed_list_ids`: the sending list ids it is limited to (empty once they are all deleted), or
    None for every list. Lists alone also limit a token, so that no path can widen one.

    One raw query: every API request runs it, and compiling the equivalent ORM query (the token
    joined to its lists) cost more than twice as much.
    """
    meta = ApiToken._meta
    through = ApiToken.sending_lists.through._meta
    quote = connection.ops.quote_name
    token_column = quote(through.get_field(ApiToken.sending_lists.field.m2m_field_name()).column)
    list_column = quote(through.get_field(ApiToken.sending_lists.field.m2m_reverse_field_name()).column)
    # A row per list the token is limited to (one row with NULL when it is not).
    # Uses index: apitoken key_hash unique
    sql = (
        f"SELECT {', '.join(f't.{quote(field.column)}' for field in meta.concrete_fields)},"
        f" s.{list_column} AS scoped_list_id"
        f" FROM {quote(meta.db_table)} t LEFT JOIN {quote(through.db_table)} s"
        f" ON s.{token_column} = t.{quote(meta.pk.column)}"
        f" WHERE t.{quote(meta.get_field('key_hash').column)} = %s"
    )
    rows = list(ApiToken.objects.raw(sql, [api_token_hash(plain_key)]))
    if not rows:
        return None
    token = rows[0]
    token.allowed_list_ids = ApiToken.scope_of(
        limited_to_lists=token.limited_to_lists,
        list_ids=[row.scoped_list_id for row in rows if row.scoped_list_id],
    )
    return token
