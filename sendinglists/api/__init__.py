"""The REST API's shared plumbing, used by every room's `api/` and by `engagement/api/`: token
authentication and list scopes (`authentication`, `permissions`), errors, parsers, renderers, keyset
pagination, throttling, idempotency keys, common fields and filters, the base viewset (`viewsets`)
and the schema hooks. It lives in sendinglists, the lowest layer that has the API tokens. The routes
are in `sendinglists/api_urls.py` (v1, v2, schema, docs) and `engagement/api/urls.py`."""
