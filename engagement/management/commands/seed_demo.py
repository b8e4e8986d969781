"""`manage.py seed_demo [--contacts 5000] [--if-empty] [--seed 42]`: a realistic, deterministic demo.

Four sending lists with custom fields; contacts with names, emails, timezones, carriers and tags;
memberships in every status (each opt-out reason present) with their subscription history;
campaigns with delivery outcomes, inbound START/STOP/HELP and chatter, clicks and conversions with
revenue; saved audiences on every list. STOPs and complaints answer campaigns at each list's own
rate per send, so the opt-out watch shows one list above the 2% line (Bella's Pizza, texting every
10 days: 3.6-4.4% over eight load times spread across 40 days) and the others under it (at most
1.3%). It lives in `engagement` because it writes messages, clicks and conversions (dependencies
point `contacts` <- `sendinglists` <- `engagement`).
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from engagement.management.demo.builder import DemoBuilder
from engagement.management.demo.catalog import LISTS
from sendinglists.models import SendingList

MIN_CONTACTS = 10  # enough for one contact per opt-out reason, an invalid and a blocked one


class Command(BaseCommand):
    help = "Load a realistic demo: sending lists, contacts, memberships in every status, messages, revenue."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=5_000, help="How many contacts (default 5000).")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when sending lists already exist (make run)."
        )
        parser.add_argument("--seed", type=int, default=42, help="Random seed: the same seed, the same demo.")

    def handle(self, *args, contacts: int, if_empty: bool, seed: int, **options):
        if if_empty and SendingList.objects.exists():
            self.stdout.write("Sending lists already exist; the demo is not loaded again.")
            return
        if contacts < MIN_CONTACTS:
            raise CommandError(f"--contacts must be at least {MIN_CONTACTS}.")
        taken = SendingList.objects.filter(phone_number__in=[spec["phone"] for spec in LISTS]).first()
        if taken is not None:
            raise CommandError(f"The demo is already loaded ({taken} exists); use a fresh database.")
        started = time.monotonic()
        with transaction.atomic():
            summary = DemoBuilder(seed=seed, contacts=contacts).build()
        took_s = time.monotonic() - started
        counts = ", ".join(f"{count:,} {name}" for name, count in summary.items())
        self.stdout.write(f"Demo loaded in {took_s:.1f} s: {counts}.")
