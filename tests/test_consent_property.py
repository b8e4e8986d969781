"""Consent belongs to the phone number: a stateful property test through the public interfaces.

A Hypothesis state machine drives the REST API (v1 and v2), the admin, the operator's contact page,
the signed Twilio webhook and the CSV import command over a few sending lists and a small pool of
phone numbers (so that numbers collide: deleted, renumbered, re-created, imported again). Beside it
the machine keeps its own oracle, computed only from the actions it performed and never read back
from the app's tables: for each (list, number) whether the number's latest consent change on that
list is an opt-out, and which numbers are blocked. After every step the database must agree: no
active membership on a list belongs (through its contact's current number) to a number that opted
out of that list, and none to a blocked number unless its contact reads as blocked.

What changes the oracle (and nothing else does): it keeps the ledger the rules describe, as rows of
(list, or every list for a STOPALL; number) -> (which opt-out, own or carried).
- An opt-out is its number's own (the number that sent STOP or was named in an opt-out file; the
  contact's phone for an API, admin or contact-page unsubscribe) and carried onto every other number
  its contact holds. The first opt-out of a (list, number) stands; a later own one makes a carried
  row own. A number's STOP is recorded unless its own opt-out already stands there.
- STOPALL is a STOP on each list its contact is on and on the one it was sent to, then an opt-out of
  every list (a START or a resubscribe on one list resumes it there only).
- START from P to L lifts P's opt-outs of L and what they carried onto the contact's other numbers;
  the contact comes back only when nothing else stands for any of its numbers (another number's own
  opt-out, a block): a START never lifts an opt-out another number sent.
- An explicit audited resubscribe lifts L for every number of the contact, when the app says it
  resubscribed.
- Block adds the contact's current numbers to the blocked numbers, unblock removes them; a merge
  with a blocked side blocks every number of both contacts.
No active membership may belong to a contact any of whose numbers stands opted out or blocked.
Deleting a contact or a membership, changing a number, adding a channel, merging two contacts (the
duplicate's numbers become the survivor's channels) and subscribing change no consent: a phone
change moves the contact's memberships to the new number, the opt-outs stay with the old one.

Runs on SQLite and PostgreSQL with real commits (imports run their chunks after commit), emptying
the app's tables between examples. CONSENT_PROPERTY_EXAMPLES and CONSENT_PROPERTY_STEPS set how
hard it looks (README, Development).
"""

import io
import itertools
import os
import tempfile
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from rest_framework.test import APIClient

from contacts.models import Contact, ContactNumber
from contacts.phones import normalize_phone
from sendinglists.lists.services import sending_list_create
from sendinglists.models import ListContact
from sendinglists.tokens.services import api_token_create
from tests.admin_forms import admin_form_data
from tests.engagement.support import twilio_post

IN_CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = int(os.environ.get("CONSENT_PROPERTY_EXAMPLES", "30"))
STEPS = int(os.environ.get("CONSENT_PROPERTY_STEPS", "30"))

LIST_NUMBERS = ("+18005550101", "+18005550102")
POOL = ("+14155550121", "+14155550122", "+14155550123", "+14155550124", "+14155550125")
APP_TABLES = ("contacts", "sendinglists", "engagement")
INBOUND = "/webhooks/twilio/inbound"

lists = st.integers(min_value=0, max_value=len(LIST_NUMBERS) - 1)
numbers = st.sampled_from(POOL)
operator_interfaces = st.sampled_from(("admin", "page"))


def _import_command_options() -> set[str]:
    from sendinglists.management.commands.import_contacts import Command

    parser = Command().create_parser("manage.py", "import_contacts")
    return {option for action in parser._actions for option in action.option_strings}


IMPORT_OPTIONS = _import_command_options()
# The opt-out import (`--opt-outs`) is being added with the consent ledger; its rule runs as soon
# as the command has the option. `test_the_opt_out_import_rule_runs` fails in CI until then.
HAS_OPT_OUT_IMPORT = "--opt-outs" in IMPORT_OPTIONS
# Subscribe-mode imports will require a consent attestation (`--consent TEXT`).
CONSENT_ARGS = ("--consent", "They signed up at the counter.") if "--consent" in IMPORT_OPTIONS else ()


def _empty_app_tables() -> None:
    """Every row of the three apps gone (users, sessions and content types stay). DELETEs in one
    transaction, whose foreign keys Django declares deferred on both databases: an example leaves a
    few dozen rows, and PostgreSQL's TRUNCATE of some 30 tables costs about a second each time."""
    tables = [
        model._meta.db_table
        for label in APP_TABLES
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed
    ]
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {quote(table)}")
    cache.clear()
    normalize_phone.cache_clear()


def _messages(response) -> list[str]:
    """The messages this request left for the operator (read without following the redirect, and
    without the older ones a redirect would also show)."""
    return [str(message) for message in response.wsgi_request._messages._queued_messages]


class ConsentMachine(RuleBasedStateMachine):
    """One example: three lists, five numbers, a token, a superuser, and the oracle."""

    def __init__(self):
        super().__init__()
        _empty_app_tables()
        self.sending_lists = [
            sending_list_create(phone_number=number, name=f"List {index}")
            for index, number in enumerate(LIST_NUMBERS)
        ]
        self.list_index = {sending_list.pk: index for index, sending_list in enumerate(self.sending_lists)}
        _, key = api_token_create(name="consent property")
        self.api = APIClient()
        self.api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        user_model = apps.get_model("auth", "User")
        user, _ = user_model.objects.get_or_create(
            username="consent-operator", defaults={"is_staff": True, "is_superuser": True}
        )
        self.operator = Client()
        self.operator.force_login(user)
        self.provider = Client()
        self.sids = itertools.count(1)
        self.files = Path(tempfile.mkdtemp(prefix="consent-property-"))
        # The oracle.
        # The ledger as the rules say it should be: (list index, or None for a STOPALL, number) ->
        # [the opt-out's token, carried]: the number's own, or carried onto it from another number of
        # its contact. The first opt-out stands (a later own one makes a carried row own); START or
        # resubscribe lifts; after a STOPALL they leave (list index, number) in `resumed`.
        self.rows: dict[tuple[int | None, str], list] = {}
        self.resumed: set[tuple[int, str]] = set()
        self.tokens = itertools.count(1)
        self.blocked: set[str] = set()
        # Numbers no opt-out, START, block, resubscribe, phone change or channel ever concerned:
        # subscribing one of them must work (the test is not passed by refusing everything).
        self.touched: set[str] = set()
        # What exists now, to address (refreshed after every step by the invariant's read).
        self.held: list[str] = []
        self.members: list[tuple[int, str]] = []
        self.channels: list[str] = []

    def teardown(self):
        _empty_app_tables()

    # --- helpers (finding ids to address; never consulted by the oracle) ------------------------

    def _list(self, index: int):
        return self.sending_lists[index]

    @staticmethod
    def _contact(number: str) -> Contact | None:
        return Contact.objects.filter(phone_number=number).first()

    @staticmethod
    def _phone_of(number: str) -> str:
        """The phone of the contact holding `number` (itself when no contact holds it)."""
        holder = ContactNumber.objects.filter(phone_number=number).values("contact_id")
        return Contact.objects.filter(pk__in=holder).values_list("phone_number", flat=True).first() or number

    @staticmethod
    def _numbers_of(number: str) -> list[str]:
        """Every number of the contact holding `number` now (its phone and phone channels), or the
        number alone when no contact holds it: what a consent change from that number concerns."""
        holder = ContactNumber.objects.filter(phone_number=number).values("contact_id")
        return list(
            ContactNumber.objects.filter(contact_id__in=holder).values_list("phone_number", flat=True)
        ) or [number]

    def _held_number(self, data) -> str:
        """A number some contact has now (rules that act on an existing contact draw one)."""
        return data.draw(st.sampled_from(self.held), label="number")

    def _target_number(self, data, *, other_than: str = "") -> str:
        """Any number of the pool, or (half the time, when there are some) one the oracle holds as
        opted out or blocked: the numbers where a subscribe or a phone change is dangerous."""
        suppressed = sorted(self.blocked | {number for _, number in self.rows} - {other_than})
        if suppressed and data.draw(st.booleans(), label="a suppressed number"):
            return data.draw(st.sampled_from(suppressed), label="number")
        return data.draw(st.sampled_from([n for n in POOL if n != other_than]), label="number")

    def _member(self, data) -> tuple[int, str]:
        """A (list index, number) with a membership now, active or not."""
        return data.draw(st.sampled_from(self.members), label="membership")

    def _membership(self, index: int, number: str) -> ListContact | None:
        return ListContact.objects.filter(
            sending_list=self._list(index), contact__phone_number=number
        ).first()

    def _inbound(self, number: str, index: int, body: str) -> None:
        params = {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": "AC1",
            "From": number,
            "To": self._list(index).phone_number,
            "Body": body,
        }
        response = twilio_post(self.provider, INBOUND, params)
        assert response.status_code == 200, response.content

    def _opted_out(self, index: int, number: str) -> bool:
        return (index, number) in self.rows or (
            (None, number) in self.rows and (index, number) not in self.resumed
        )

    def _write(self, scope: int | None, source: str, numbers: list[str]) -> None:
        """One opt-out event: its own number `source`, carried onto the contact's other numbers."""
        token = next(self.tokens)
        for number in {source, *numbers}:
            row = self.rows.setdefault((scope, number), [token, number != source])
            if number == source:
                row[1] = False
            if scope is None:
                self.resumed -= {(index, number) for index in range(len(LIST_NUMBERS))}
            self.touched.add(number)

    def _opt_out(self, index: int, number: str) -> None:
        """An operator's or API's opt-out of the contact at `number` (its phone): the phone's own."""
        self._write(index, number, self._numbers_of(number))

    def _number_stops(self, index: int, number: str) -> None:
        """A number's STOP to a list (or its share of a STOPALL, or an opt-out file's row): recorded
        unless its own opt-out already stands there (its contact is then unsubscribed already)."""
        row = self.rows.get((index, number))
        if row is None or row[1]:
            self._write(index, number, self._numbers_of(number))

    def _lift(self, index: int, keys) -> None:
        """Lift on one list: a list opt-out goes, a STOPALL stays and is resumed on this list."""
        for scope, number in keys:
            if scope is None:
                self.resumed.add((index, number))
            else:
                del self.rows[(scope, number)]

    def _standing_keys(self, index: int, number: str) -> list:
        return [
            key
            for key in ((index, number), (None, number))
            if key in self.rows and (key[0] is not None or (index, number) not in self.resumed)
        ]

    def _resubscribed(self, index: int, numbers) -> None:
        """An audited resubscribe or a START the contact comes back with: every number, this list."""
        self._lift(index, [key for number in numbers for key in self._standing_keys(index, number)])

    def _number_starts(self, index: int, number: str) -> None:
        """START from `number`: its own opt-outs and what they carried onto its contact's other
        numbers go; the contact comes back when nothing else stands (another number's own opt-out,
        or a block)."""
        numbers = set(self._numbers_of(number))
        if self._phone_of(number) in self.blocked:
            return  # a blocked contact: refused before consent is read
        mine = [key for key in ((index, number), (None, number)) if key in self.rows]
        lifted = {self.rows[key][0] for key in mine}
        others = [key for other in sorted(numbers - {number}) for key in self._standing_keys(index, other)]
        carried = [key for key in others if self.rows[key][1] and self.rows[key][0] in lifted]
        if len(carried) == len(others) and not numbers & self.blocked:
            self._resubscribed(index, numbers)
        else:
            self._lift(index, [*mine, *carried])

    # --- REST API -----------------------------------------------------------------------------

    @rule(index=lists, data=st.data())
    def api_subscribe(self, index, data):
        number = self._target_number(data)
        response = self.api.post(
            f"/api/v1/lists/{self._list(index).pk}/contacts/", {"phone_number": number}, format="json"
        )
        assert response.status_code in (200, 201), response.json()
        outcome = response.json()["outcome"]
        note(f"API: subscribe {number} to list {index} -> {outcome}")
        if number not in self.touched:
            assert outcome in ("created", "updated"), response.json()
            assert response.json()["membership"]["status"] == "active", response.json()

    @precondition(lambda self: self.held)
    @rule(index=lists, data=st.data())
    def api_subscribe_by_contact_id(self, index, data):
        number = self._held_number(data)
        response = self.api.post(
            f"/api/v1/lists/{self._list(index).pk}/contacts/",
            {"contact_id": self._contact(number).pk},
            format="json",
        )
        assert response.status_code in (200, 201), response.json()
        note(f"API: subscribe the contact of {number} by id to list {index} -> {response.json()['outcome']}")

    @rule(index=st.none() | lists, number=numbers)
    def api_create_contact(self, index, number):
        payload = {"phone_number": number, "first_name": "Sam"}
        # POST /contacts/ takes no sending_list (it was silently ignored, so this rule never
        # subscribed anyone); a create with a list is the list's subscribe endpoint.
        path = "/api/v1/contacts/" if index is None else f"/api/v1/lists/{self._list(index).pk}/contacts/"
        response = self.api.post(path, payload, format="json")
        assert response.status_code in (200, 201), response.json()
        note(f"API: create {number} (sending_list: list {index}) -> {response.status_code}")

    @rule(index=lists, batch=st.lists(numbers, min_size=1, max_size=3))
    def api_bulk_upsert(self, index, batch):
        response = self.api.post(
            "/api/v1/contacts/bulk/",
            {"sending_list": self._list(index).pk, "contacts": [{"phone_number": n} for n in batch]},
            format="json",
        )
        assert response.status_code == 200, response.json()
        note(f"API: bulk upsert {batch} into list {index} -> {response.json()['counts']}")

    @precondition(lambda self: self.members)
    @rule(data=st.data())
    def api_unsubscribe(self, data):
        index, number = self._member(data)
        contact = self._contact(number)
        response = self.api.post(
            f"/api/v1/lists/{self._list(index).pk}/contacts/{contact.pk}/unsubscribe/", format="json"
        )
        assert response.status_code == 200, response.json()
        note(f"API: unsubscribe {number} from list {index} -> changed {response.json()['changed']}")
        if response.json()["changed"]:
            self._opt_out(index, number)

    @precondition(lambda self: self.members)
    @rule(data=st.data())
    def api_delete_membership(self, data):
        index, number = self._member(data)
        contact = self._contact(number)
        response = self.api.delete(f"/api/v1/lists/{self._list(index).pk}/contacts/{contact.pk}/")
        assert response.status_code == 204
        note(f"API: delete the membership of {number} on list {index}")

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def api_delete_contact(self, data):
        number = self._held_number(data)
        assert self.api.delete(f"/api/v1/contacts/{self._contact(number).pk}").status_code == 204
        note(f"API: delete the contact {number}")

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def api_change_phone(self, data):
        number = self._held_number(data)
        new_number = self._target_number(data, other_than=number)
        self.touched.update((number, new_number))
        response = self.api.patch(
            f"/api/v1/contacts/{self._contact(number).pk}", {"phone_number": new_number}, format="json"
        )
        assert response.status_code in (200, 400), response.json()
        note(f"API: change the number {number} -> {new_number}: {response.status_code}")

    @precondition(lambda self: self.held)
    @rule(data=st.data(), through_patch=st.booleans())
    def api_v2_add_phone_channel(self, data, through_patch):
        number = self._held_number(data)
        channel = self._target_number(data)
        contact = self._contact(number)
        self.touched.update((number, channel))
        if through_patch:
            response = self.api.patch(
                f"/api/v2/contacts/{contact.uuid}",
                {"channels": [{"kind": "phone", "value": channel}]},
                format="json",
            )
        else:
            response = self.api.post(
                f"/api/v2/contacts/{contact.uuid}/channels/",
                {"kind": "phone", "value": channel},
                format="json",
            )
        assert response.status_code in (200, 201, 400), response.json()
        note(f"API v2: add the phone channel {channel} to {number}: {response.status_code}")

    # --- admin and the operator's contact page ---------------------------------------------------

    def _admin_action(self, model: str, action: str, pks: list[int], **extra):
        data = {"action": action, "_selected_action": pks, **extra}
        return self._operator_post(reverse(f"admin:{model}_changelist"), data)

    def _operator_post(self, url: str, data: dict | None = None):
        response = self.operator.post(url, data or {})
        self.operator.cookies.pop("messages", None)  # never shown: they would pile up
        return response

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def admin_change_phone(self, data):
        number = self._held_number(data)
        new_number = self._target_number(data, other_than=number)
        self.touched.update((number, new_number))
        url = reverse("admin:contacts_contact_change", args=[self._contact(number).pk])
        form = admin_form_data(self.operator.get(url))
        response = self._operator_post(url, {**form, "phone_number": new_number})
        assert response.status_code in (200, 302), response.status_code
        note(f"admin: change the number {number} -> {new_number}: {response.status_code}")

    @precondition(lambda self: self.members)
    @rule(data=st.data(), interface=operator_interfaces)
    def operator_unsubscribe(self, data, interface):
        index, number = self._member(data)
        membership = self._membership(index, number)
        if interface == "admin":
            response = self._admin_action("sendinglists_listcontact", "unsubscribe_manual", [membership.pk])
            changed = any(m.startswith("Unsubscribed 1 membership") for m in _messages(response))
        else:
            response = self._operator_post(
                reverse("contact_pages:unsubscribe", args=[membership.contact_id, membership.pk]),
                {f"unsub{membership.pk}-note": "Asked on the phone"},
            )
            changed = any(m.startswith("Unsubscribed from") for m in _messages(response))
        assert response.status_code == 302, response.status_code
        note(f"{interface}: unsubscribe {number} from list {index} -> changed {changed}")
        if changed:
            self._opt_out(index, number)

    @precondition(lambda self: self.members)
    @rule(data=st.data(), interface=operator_interfaces)
    def operator_resubscribe(self, data, interface):
        """The explicit, audited resubscribe: it lifts the opt-out of the number the contact has."""
        index, number = self._member(data)
        membership = self._membership(index, number)
        self.touched.add(number)
        if interface == "admin":
            response = self._admin_action(
                "sendinglists_listcontact",
                "resubscribe_audited",
                [membership.pk],
                confirm="yes",
                note="Asked by email",
            )
            changed = "Resubscribed 1 membership." in _messages(response)
        else:
            response = self._operator_post(
                reverse("contact_pages:resubscribe", args=[membership.contact_id, membership.pk]),
                {f"resub{membership.pk}-note": "Asked by email"},
            )
            changed = any(m.startswith("Resubscribed to") for m in _messages(response))
        assert response.status_code == 302, response.status_code
        note(f"{interface}: resubscribe {number} on list {index} -> changed {changed}")
        if changed:
            self._resubscribed(index, self._numbers_of(number))

    @precondition(lambda self: self.held)
    @rule(data=st.data(), interface=operator_interfaces)
    def operator_block(self, data, interface):
        number = self._held_number(data)
        contact = self._contact(number)
        if interface == "admin":
            response = self._admin_action("contacts_contact", "block_contacts", [contact.pk])
        else:
            response = self._operator_post(reverse("contact_pages:block", args=[contact.pk]))
        assert response.status_code == 302, response.status_code
        note(f"{interface}: block {number}")
        self.blocked.update(self._numbers_of(number))
        self.touched.update(self._numbers_of(number))

    @precondition(lambda self: self.held)
    @rule(data=st.data(), interface=operator_interfaces)
    def operator_unblock(self, data, interface):
        number = self._held_number(data)
        contact = self._contact(number)
        if interface == "admin":
            response = self._admin_action("contacts_contact", "unblock_contacts", [contact.pk])
        else:
            response = self._operator_post(reverse("contact_pages:unblock", args=[contact.pk]))
        assert response.status_code == 302, response.status_code
        note(f"{interface}: unblock {number}")
        self.blocked.difference_update(self._numbers_of(number))
        self.touched.update(self._numbers_of(number))

    # --- merging two contacts (API and the contact page) ----------------------------------------

    @precondition(lambda self: len(self.held) >= 2)
    @rule(data=st.data(), interface=st.sampled_from(("api", "page")))
    def merge_contacts(self, data, interface):
        """A merge carries both contacts' consent into the survivor: where any of their numbers opted
        out of a list, the survivor is not active there; a block of either blocks it (every number)."""
        number = self._held_number(data)
        duplicate_number = data.draw(
            st.sampled_from([n for n in self.held if n != number]), label="duplicate"
        )
        survivor, duplicate = self._contact(number), self._contact(duplicate_number)
        numbers_before = set(self._numbers_of(number)) | set(self._numbers_of(duplicate_number))
        if interface == "api":
            response = self.api.post(
                f"/api/v1/contacts/{survivor.pk}/merge", {"duplicate": duplicate.pk}, format="json"
            )
            assert response.status_code in (200, 400), response.json()
            merged = response.status_code == 200
        else:
            response = self._operator_post(
                reverse("contact_pages:merge", args=[survivor.pk]), {"duplicate": duplicate.pk}
            )
            assert response.status_code in (302, 400), response.status_code
            merged = response.status_code == 302
        note(f"{interface}: merge {duplicate_number} into {number} -> merged {merged}")
        self.touched.update(numbers_before)
        if not merged:
            return
        for index in range(len(LIST_NUMBERS)):
            if any(self._opted_out(index, held) for held in numbers_before):
                membership = self._membership(index, number)
                assert membership is None or not membership.active, (
                    f"merged {duplicate_number} into {number}: active on list {index} where one opted out"
                )
        if numbers_before & self.blocked:
            assert Contact.objects.get(pk=survivor.pk).blocked, f"merged into {number}: a block was lost"
            self.blocked.update(numbers_before)

    # --- inbound messages (signed Twilio webhook) ---------------------------------------------

    @rule(index=lists, number=numbers, word=st.sampled_from(("STOP", "stop", "Unsubscribe")))
    def inbound_stop(self, index, number, word):
        self._number_stops(index, number)
        self._inbound(number, index, word)
        note(f"webhook: {number} sends {word} to list {index}")

    @precondition(lambda self: self.channels)
    @rule(index=lists, data=st.data())
    def inbound_stop_from_a_channel(self, index, data):
        """A STOP from a contact's second phone stops that contact (and creates no other)."""
        number = data.draw(st.sampled_from(self.channels), label="channel")
        self._number_stops(index, number)
        self._inbound(number, index, "STOP")
        note(f"webhook: the channel {number} sends STOP to list {index}")

    @rule(index=lists, number=numbers)
    def inbound_stopall(self, index, number):
        # Each list its contact is on (and this one) as a STOP, then every list, present and future.
        on = set(
            ListContact.objects.filter(contact__numbers__phone_number=number).values_list(
                "sending_list_id", flat=True
            )
        )
        for other in sorted({index} | {self.list_index[list_id] for list_id in on}):
            self._number_stops(other, number)
        self._write(None, number, self._numbers_of(number))
        self._inbound(number, index, "STOPALL")
        note(f"webhook: {number} sends STOPALL to list {index}")

    @rule(index=lists, number=numbers)
    def inbound_start(self, index, number):
        self.touched.update(self._numbers_of(number))
        self._number_starts(index, number)
        self._inbound(number, index, "START")
        note(f"webhook: {number} sends START to list {index}")

    # --- CSV imports ----------------------------------------------------------------------------

    def _import(self, index: int, batch: list[str], *options: str) -> None:
        path = self.files / f"import-{next(self.sids)}.csv"
        path.write_text("phone,first_name\n" + "".join(f"{n},Kim\n" for n in batch))
        out = io.StringIO()
        call_command(
            "import_contacts", str(path), "--list", self._list(index).phone_number, *options, stdout=out
        )
        counts = [line for line in out.getvalue().splitlines() if "rows read" in line]
        note(f"import {' '.join(options)} of {batch} into list {index}: {' '.join(counts)}")

    @rule(index=lists, batch=st.lists(numbers, min_size=1, max_size=3))
    def import_subscribe(self, index, batch):
        self._import(index, batch, *CONSENT_ARGS)

    @precondition(lambda self: HAS_OPT_OUT_IMPORT)
    @rule(index=lists, batch=st.lists(numbers, min_size=1, max_size=3))
    def import_opt_outs(self, index, batch):
        for number in batch:
            self._number_stops(index, number)
        self._import(index, batch, "--opt-outs")

    # --- the property -------------------------------------------------------------------------

    @invariant()
    def no_opted_out_or_blocked_number_is_active(self):
        memberships = ListContact.objects.values_list(
            "sending_list_id", "contact__phone_number", "contact__blocked", "active"
        )
        active = []
        self.members = []
        for list_id, number, contact_blocked, is_active in memberships.order_by("sending_list_id", "id"):
            self.members.append((self.list_index[list_id], number))
            if is_active:
                active.append((list_id, number, contact_blocked))
        self.held = sorted(Contact.objects.values_list("phone_number", flat=True))
        self.channels = sorted(
            ContactNumber.objects.filter(is_primary=False).values_list("phone_number", flat=True)
        )
        for list_id, number, contact_blocked in active:
            index = self.list_index[list_id]
            assert not self._opted_out(index, number), (
                f"{number} opted out of list {index} and is active on it again"
            )
            assert number not in self.blocked or contact_blocked, (
                f"{number} is blocked and its contact is active, unblocked, on list {index}"
            )
            for channel in set(self._numbers_of(number)) - {number}:
                assert not self._opted_out(index, channel), (
                    f"{channel} opted out of list {index} and its contact ({number}) is active on it"
                )
                assert channel not in self.blocked or contact_blocked, (
                    f"{channel} is blocked and its contact ({number}) is active, unblocked, on list {index}"
                )


# Triage: CONSENT_PROPERTY_WITHOUT=inbound_stopall,api_change_phone leaves rules out, so that the
# next failure behind a known one shows.
for _name in filter(None, os.environ.get("CONSENT_PROPERTY_WITHOUT", "").split(",")):
    if not hasattr(ConsentMachine, _name.strip()):
        raise LookupError(f"CONSENT_PROPERTY_WITHOUT: no rule {_name.strip()!r}")
    setattr(ConsentMachine, _name.strip(), None)

ConsentMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# Shrinking a failure replays the steps hundreds of times (Hypothesis stops it after 5 minutes).
@pytest.mark.timeout(900)
@pytest.mark.django_db(transaction=True)
class TestConsentBelongsToTheNumber(ConsentMachine.TestCase):
    pass


def test_the_opt_out_import_rule_runs():
    """The opt-out import is the one rule behind a feature check: CI says so until it exists."""
    if HAS_OPT_OUT_IMPORT:
        return
    message = "import_contacts has no --opt-outs yet: the machine's import_opt_outs rule does not run"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
