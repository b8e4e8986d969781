"""`manage.py create_api_token NAME [--read-only] [--list +18005550100 …]`: prints the token on its last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from contacts.phones import normalize_phone
from sendinglists.lists.models import SendingList
from sendinglists.tokens.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token. The token is shown once, on the last line of output; only its hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the token, e.g. 'Shopify sync'.")
        parser.add_argument("--read-only", action="store_true", help="The token may read but never write.")
        parser.add_argument(
            "--list",
            action="append",
            default=[],
            dest="lists",
            metavar="SENDER_OR_ID",
            help="Limit the token to this sending list (its sender number or id); repeat for several.",
        )

    def handle(self, *args, name, read_only, lists, **options):
        sending_lists = [self._sending_list(value) for value in lists]
        try:
            token, plain_key = api_token_create(name=name, read_only=read_only, sending_lists=sending_lists)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        scope = ", ".join(sl.phone_number for sl in sending_lists) or "every sending list"
        access = "read-only" if read_only else "read and write"
        self.stdout.write(f"Created API token #{token.pk} {token.name!r}: {access}, {scope}.")
        self.stdout.write("Send it as `Authorization: Token <token>`. It is shown only now:")
        self.stdout.write(plain_key)

    def _sending_list(self, value: str) -> SendingList:
        if value.isdigit() and len(value) < 10:
            sending_list = SendingList.objects.filter(pk=int(value)).first()
        else:
            phone = normalize_phone(value, "US")
            sending_list = (
                SendingList.objects.filter(phone_number=phone.e164).first() if phone.is_valid else None
            )
        if sending_list is None:
            raise CommandError(
                f"No sending list {value!r} (give its sender number, e.g. +18005550100, or its id)."
            )
        return sending_list
