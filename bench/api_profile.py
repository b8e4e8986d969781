"""CPU and queries per API read, in process: the figure to watch when tuning the API's read path.

    .venv/bin/python bench/api_profile.py [--requests 400] [--profile 30] [--scenario list_page ...]

Runs each read scenario of `bench/api_bench.py` (list page, deep cursor pages, filtered list, one
contact) through Django's WSGI handler, the way gunicorn calls it (production settings, DEBUG
off), against the list that bench loaded (run it first). Reports per request: this process's CPU
ms, the PostgreSQL backend's CPU ms, wall ms and queries, and with `--profile N` the top N
functions of a cProfile run. Prints one JSON object on the last line.
"""

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_bench import DEFAULT_DATABASE_URL, LIST_PHONE, deep_cursors, scenarios, server_env  # noqa: E402
from bench.common import call_wsgi, cpu_per_request, wsgi_environ  # noqa: E402

READS = ["list_page", "deep_cursor_page", "deep_cursor_page_by_sends", "filtered_list", "single_contact"]


def _configure(database_url: str) -> None:
    os.environ.update({**server_env(database_url), "DJANGO_SETTINGS_MODULE": "config.settings"})
    os.environ.pop("REDIS_URL", None)  # as bench/api_bench.py serves it
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per measured pass")
    parser.add_argument("--profile", type=int, default=0, help="functions to print from cProfile (0: none)")
    parser.add_argument("--scenario", action="append", choices=READS, help="default: every read")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    _configure(args.database_url)

    from django.core.handlers.wsgi import WSGIHandler

    from sendinglists.models import ApiToken, ListContact, SendingList
    from sendinglists.tokens.services import api_token_create

    sending_list = SendingList.objects.filter(phone_number=LIST_PHONE).first()
    rows = ListContact.objects.filter(sending_list=sending_list).count() if sending_list else 0
    if not rows:
        parser.error("no bench list: run bench/api_bench.py first (it loads the list)")
    specs = scenarios(sending_list, rows, deep_cursors(sending_list, rows))
    token, key = api_token_create(name="api profile")
    headers = {"Authorization": f"Token {key}"}
    handler = WSGIHandler()

    def get_all(paths) -> None:
        for path in paths:
            target, _, query = path.partition("?")
            status = call_wsgi(handler, wsgi_environ("GET", target, query=query, headers=headers))
            if not status.startswith("200"):
                raise RuntimeError(f"{path} answered {status}")

    results = {}
    try:
        for name in args.scenario or READS:
            spec = specs[name]
            if "contact_ids" in spec:
                first, count = spec["contact_ids"]
                paths = [f"/api/v1/contacts/{first + random.randrange(count)}/" for _ in range(args.requests)]
            else:
                paths = [spec["path"]] * args.requests
            figures, top = cpu_per_request(
                get_all, [paths[:50], paths, paths, paths], profile_top=args.profile
            )
            if top:
                print(f"--- {name}\n{top}")
            results[name] = figures
    finally:
        ApiToken.objects.filter(pk=token.pk).delete()
    print(json.dumps({"bench": "api_profile", "requests": args.requests, "rows": rows, "scenarios": results}))


if __name__ == "__main__":
    main()
