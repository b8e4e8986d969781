"""Builds the demo in memory, then writes it with one bulk insert per table.

Over ~400 lines on purpose: one story drawn from one seeded random stream, whose steps share its state.

Statuses are written directly (not through the services, which would take minutes for 5,000
contacts), so this module writes what the services would have: a SubscriptionEvent for every
subscribe / opt-out / resubscribe / block naming its actor, and `list_status_counts_add` deltas
equal to the memberships per status. Engagement counters are summed from the very rows inserted.
"""

import datetime as dt
import random
from collections import Counter, defaultdict
from decimal import Decimal

from django.utils import timezone
from faker import Faker

from contacts.choices import LineType
from contacts.models import Contact
from contacts.phones import normalize_phone
from contacts.services import tags_get_or_create
from engagement.choices import Direction, KeywordKind, MessageStatus
from engagement.management.demo.catalog import (
    AREA_CODES,
    CARRIERS,
    EMAIL_DOMAINS,
    LISTS,
    TAGS,
    field_value,
)
from engagement.management.demo.history import Plan, backdate, subscription_events
from engagement.models import Click, Conversion, Message
from sendinglists.audiences.services import audience_create
from sendinglists.choices import SignupMethod, UnsubReason
from sendinglists.lists.customfields import custom_fields_clean
from sendinglists.lists.services import custom_field_create, list_status_counts_add, sending_list_create
from sendinglists.models import ListContact, SendingList, SubscriptionEvent
from sendinglists.subscriptions.changes import membership_set_opted_out
from sendinglists.subscriptions.consent import ledger_apply

BATCH = 2_000
HISTORY_DAYS = 400
# Contacts 1-4 opt out of their first list for each of these reasons, whatever --contacts is.
OTHER_REASONS = [UnsubReason.MESSAGE, UnsubReason.BAD_RESPONSE, UnsubReason.MANUAL, UnsubReason.COMPLAINT]
# Opt-outs that no message prompted: carrier failures and staff removals, spread over the membership.
MEMBER_OPT_OUT_SHARE = 0.06
MEMBER_REASONS, MEMBER_REASON_WEIGHTS = [UnsubReason.BAD_RESPONSE, UnsubReason.MANUAL], [45, 55]
# A STOP or a complaint answers a campaign (each list's `stop_rate` per send), within hours of it.
STOP_REASONS, STOP_REASON_WEIGHTS = [UnsubReason.MESSAGE, UnsubReason.COMPLAINT], [82, 18]
STOP_AFTER_MINUTES = (1, 180)
CAMPAIGN_HOUR, SEND_MINUTES = 10, 15  # a campaign starts at 10:00 local time and takes 15 minutes
SIGNUP_METHODS = list(SignupMethod)
SIGNUP_WEIGHTS = {"api": 25, "import": 45, "journey": 10, "inbound": 15, "manual": 5}
SEND_OUTCOMES = [
    (MessageStatus.DELIVERED, ""),
    (MessageStatus.SENT, ""),
    (MessageStatus.UNDELIVERED, "30003"),
    (MessageStatus.FAILED, "30005"),
]
SEND_OUTCOME_WEIGHTS = [93, 2, 3, 2]
STOP_WORDS = ["STOP", "Stop", "stop", "UNSUBSCRIBE", "Cancel", "stop."]


class DemoBuilder:
    def __init__(self, *, seed: int, contacts: int):
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.contact_count = contacts
        self.now = timezone.now().replace(microsecond=0)
        self.provider_ids: set[str] = set()
        self.phones: set[str] = set()
        self.plans: list[Plan] = []
        self.messages: list[Message] = []
        self.clicks: list[Click] = []
        self.conversions: list[Conversion] = []

    def build(self) -> dict:
        """Create the whole demo (call inside a transaction); returns how many rows of each kind."""
        lists = [self._sending_list(spec) for spec in LISTS]
        contacts = [self._contact(n) for n in range(self.contact_count)]
        for n, contact in enumerate(contacts):
            self._plan_memberships(n, contact, lists)
        for plan in self.plans:
            self._plan_messages(plan)
        self._plan_clicks_and_conversions()
        events = self._write(lists, contacts)
        audiences = [
            audience_create(sending_list=sending_list, name=name, query=query)
            for sending_list in lists
            for name, query in sending_list.spec["audiences"]
        ]
        return {
            "sending lists": len(lists),
            "contacts": len(contacts),
            "memberships": len(self.plans),
            "messages": len(self.messages),
            "clicks": len(self.clicks),
            "conversions": len(self.conversions),
            "subscription events": events,
            "audiences": len(audiences),
        }

    # --- helpers ------------------------------------------------------------------------------

    def ago(self, days: float) -> dt.datetime:
        return self.now - dt.timedelta(days=days)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        return start + (end - start) * self.rng.random()

    def campaign_at(self, days: int) -> dt.datetime:
        """When the campaign of `days` ago started; each member's copy leaves within SEND_MINUTES."""
        day = timezone.localdate(self.now) - dt.timedelta(days=days)
        return dt.datetime.combine(day, dt.time(CAMPAIGN_HOUR), tzinfo=timezone.get_current_timezone())

    def answer(self, sent: dt.datetime) -> dt.datetime:
        """When a member's STOP answers the campaign that started (or reached them) at `sent`."""
        return sent + dt.timedelta(minutes=SEND_MINUTES + self.rng.uniform(*STOP_AFTER_MINUTES))

    def provider_id(self) -> str:
        while True:
            value = f"SM{self.rng.getrandbits(128):032x}"
            if value not in self.provider_ids:
                self.provider_ids.add(value)
                return value

    # --- lists and contacts -------------------------------------------------------------------

    def _sending_list(self, spec: dict) -> SendingList:
        sending_list = sending_list_create(
            phone_number=spec["phone"], name=spec["name"], help_text=spec["help_text"]
        )
        spec = {**spec, "list": sending_list}
        # (start, body, url) of each campaign, oldest first: every member's timeline reads these.
        spec["sends"] = [(self.campaign_at(days), body, url or "") for days, body, url in spec["campaigns"]]
        spec["custom_fields"] = [
            custom_field_create(
                sending_list=sending_list, key=key, label=label, field_type=kind, choices=choices
            )
            for key, label, kind, choices, _sample in spec["fields"]
        ]
        sending_list.spec = spec
        return sending_list

    def _phone(self) -> tuple[str, str]:
        while True:
            if self.rng.random() < 0.02:
                raw, zone = f"+447911{self.rng.randint(100000, 999999)}", "Europe/London"
            else:
                area, zone = self.rng.choice(AREA_CODES)
                raw = f"+1{area}{self.rng.randint(201, 989)}{self.rng.randint(0, 9999):04d}"
            result = normalize_phone(raw, "US")
            if result.is_valid and result.e164 not in self.phones:
                self.phones.add(result.e164)
                return result.e164, zone

    def _contact(self, n: int) -> Contact:
        phone, zone = self._phone()
        first, last = self.fake.first_name(), self.fake.last_name()
        line_type = self.rng.choices(
            [LineType.MOBILE, LineType.LANDLINE, LineType.VOIP, LineType.UNKNOWN], [88, 5, 5, 2]
        )[0]
        # Contact 0 is invalid and contact 5 blocked, so both appear whatever --contacts is.
        is_valid = n != 0 and self.rng.random() > 0.015
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        contact = Contact(
            phone_number=phone,
            first_name=first,
            last_name=last,
            email=f"{local}{self.rng.randint(1, 99)}@{self.rng.choice(EMAIL_DOMAINS)}"
            if self.rng.random() < 0.85
            else "",
            timezone=zone,
            carrier=self.rng.choice(CARRIERS[line_type]),
            line_type=line_type if is_valid else LineType.LANDLINE,
            is_valid=is_valid,
            blocked=n == 5 or self.rng.random() < 0.005,
        )
        contact.joined_at = self.ago(self.rng.uniform(3, HISTORY_DAYS))
        # Blocked after every subscription (the services never subscribe a blocked contact), and
        # never messaged from then on.
        contact.blocked_at = (
            self.between(min(contact.joined_at + dt.timedelta(days=30), self.ago(1)), self.now)
            if contact.blocked
            else None
        )
        return contact

    # --- memberships --------------------------------------------------------------------------

    def _plan_memberships(self, n: int, contact: Contact, lists: list[SendingList]) -> None:
        chosen = [sl for sl in lists if self.rng.random() < sl.spec["share"]] or [lists[0]]
        for sending_list in chosen:
            spec = sending_list.spec
            subscribed = min(
                self.between(contact.joined_at, contact.joined_at + dt.timedelta(days=30)), self.ago(1)
            )
            if not contact.is_valid:
                reason = UnsubReason.INVALID_CONTACT
            elif 1 <= n <= 4 and sending_list is chosen[0]:
                reason = OTHER_REASONS[n - 1]
            elif self.rng.random() < MEMBER_OPT_OUT_SHARE:
                reason = self.rng.choices(MEMBER_REASONS, MEMBER_REASON_WEIGHTS)[0]
            else:
                reason = ""  # may still answer a campaign with STOP (_plan_messages)
            values = {
                key: field_value(self.rng, kind, choices, sample)
                for key, _label, kind, choices, sample in spec["fields"]
                if self.rng.random() < 0.75
            }
            membership = ListContact(
                sending_list=sending_list,
                contact=contact,
                signup_method=self.rng.choices(SIGNUP_METHODS, [SIGNUP_WEIGHTS[m] for m in SIGNUP_METHODS])[
                    0
                ],
                custom_fields=custom_fields_clean(fields=spec["custom_fields"], values=values),
            )
            plan = Plan(membership=membership, spec=spec, subscribed=subscribed, reason="")
            # The campaigns that reach the member: after the signup, before any block.
            campaigns = [
                at
                for at, _body, _url in spec["sends"]
                if subscribed < at and (contact.blocked_at is None or at < contact.blocked_at)
            ]
            earlier = [at for at in campaigns if at < self.ago(20)]
            # A blocked contact is never resubscribed, so it has no STOP-then-START story.
            if not reason and earlier and not contact.blocked and self.rng.random() < 0.03:
                plan.stop = self.answer(self.rng.choice(earlier))
                plan.subscribed_again = self.between(plan.stop, self.ago(10))
                plan.windows = [(subscribed, plan.stop), (plan.subscribed_again, self.now)]
            else:
                plan.windows = [(subscribed, self.now)]
            current = plan.subscribed_again or subscribed
            membership.active = True
            membership.subscribed_at = current
            membership.status_changed_at = current
            membership.in_workflow = self.rng.random() < 0.05
            if reason:
                # A STOP or a complaint answers a campaign; other opt-outs come at any time.
                prompted = [at for at in campaigns if at < self.ago(0.5)] if reason in STOP_REASONS else []
                at = (
                    self.answer(self.rng.choice(prompted))
                    if prompted
                    else self.between(subscribed, self.ago(0.5))
                )
                self._opt_out(plan, reason, at)
            self.plans.append(plan)

    def _opt_out(self, plan: Plan, reason: str, at: dt.datetime) -> None:
        """The member leaves the list at `at` for `reason`: campaigns stop reaching them then."""
        plan.reason, plan.opted_out = reason, at
        start, _end = plan.windows[-1]
        plan.windows[-1] = (start, at)
        membership_set_opted_out(plan.membership, reason=reason, at=at)
        plan.membership.consecutive_failures = 3 if reason == UnsubReason.BAD_RESPONSE else 0

    # --- messages, clicks, conversions --------------------------------------------------------

    def _message(self, plan: Plan, direction: str, body: str, at, status, **extra) -> Message:
        membership = plan.membership
        contact, sending_list = membership.contact, membership.sending_list
        outbound = direction == Direction.OUTBOUND
        message = Message(
            direction=direction,
            sending_list=sending_list,
            contact=contact,
            list_contact=membership,
            from_number=sending_list.phone_number if outbound else contact.phone_number,
            to_number=contact.phone_number if outbound else sending_list.phone_number,
            body=body,
            provider_message_id=self.provider_id(),
            status=status,
            sent_at=at,
            follow_up_done_at=None if outbound else at + dt.timedelta(seconds=2),
            **extra,
        )
        if outbound:
            membership.send_count += 1
            membership.last_sent_at = max(filter(None, [membership.last_sent_at, at]))
        self.messages.append(message)
        return message

    def _inbound(self, plan: Plan, body: str, at, keyword=KeywordKind.NONE, **extra) -> Message:
        return self._message(
            plan, Direction.INBOUND, body, at, MessageStatus.RECEIVED, keyword=keyword, **extra
        )

    def _plan_messages(self, plan: Plan) -> None:
        spec, reason, membership = plan.spec, plan.reason, plan.membership
        if membership.signup_method == SignupMethod.INBOUND:
            word = self.rng.choice(["START", "Join", "YES"])
            plan.keyword_messages["start"] = self._inbound(plan, word, plan.subscribed, KeywordKind.OPT_IN)
        blocked_at = membership.contact.blocked_at
        sends = sorted(
            (at + dt.timedelta(seconds=self.rng.randint(0, SEND_MINUTES * 60)), body, url)
            for at, body, url in spec["sends"]
            if any(start < at < end for start, end in plan.windows)
        )
        # Nothing is sent to a contact once it is blocked (a campaign may be under way then).
        sends = [send for send in sends if blocked_at is None or send[0] < blocked_at]
        # Carrier rejections are what opted these members out.
        failing = {UnsubReason.BAD_RESPONSE: 3, UnsubReason.INVALID_CONTACT: 1}.get(reason, 0)
        for index, (at, body, url) in enumerate(sends):
            if index >= len(sends) - failing:
                code = "30006" if reason == UnsubReason.INVALID_CONTACT else "30003"
                status = MessageStatus.UNDELIVERED
            else:
                status, code = self.rng.choices(SEND_OUTCOMES, SEND_OUTCOME_WEIGHTS)[0]
            message = self._message(plan, Direction.OUTBOUND, body, at, status, error_code=code)
            message.link = url if status == MessageStatus.DELIVERED else ""
            # Members who once came back after a STOP are left to that story.
            answered = status == MessageStatus.DELIVERED and not reason and not plan.stop
            if answered and self.rng.random() < spec["stop_rate"]:
                reason = self.rng.choices(STOP_REASONS, STOP_REASON_WEIGHTS)[0]
                self._opt_out(plan, reason, self.answer(at))
                break
        if plan.stop:
            plan.keyword_messages["stop"] = self._inbound(plan, "STOP", plan.stop, KeywordKind.OPT_OUT)
            plan.keyword_messages["start_again"] = self._inbound(
                plan, "START", plan.subscribed_again, KeywordKind.OPT_IN
            )
        if reason == UnsubReason.MESSAGE:
            word = self.rng.choice(STOP_WORDS)
            plan.keyword_messages["stop"] = self._inbound(plan, word, plan.opted_out, KeywordKind.OPT_OUT)
        elif reason == UnsubReason.COMPLAINT:
            self._inbound(
                plan,
                "Who is this?? I never signed up for this. Stop texting me",
                plan.opted_out,
                reviewed_at=plan.opted_out + dt.timedelta(hours=2),
            )
        elif not reason and self.rng.random() < 0.08:
            at = self.between(plan.subscribed, self.ago(0.2))
            # A blocked contact may still write in, but gets no HELP reply once blocked.
            if self.rng.random() < 0.5 and (blocked_at is None or at < blocked_at - dt.timedelta(seconds=3)):
                self._inbound(plan, "HELP", at, KeywordKind.HELP)
                reply_at = at + dt.timedelta(seconds=3)
                self._message(plan, Direction.OUTBOUND, spec["help_text"], reply_at, MessageStatus.DELIVERED)
            else:
                self._inbound(plan, self.rng.choice(spec["chatter"]), at)

    def _plan_clicks_and_conversions(self) -> None:
        for message in self.messages:
            link = getattr(message, "link", "")
            spec = message.sending_list.spec
            if not link or self.rng.random() > spec["click_rate"]:
                continue
            membership = message.list_contact
            clicked_at = message.sent_at + dt.timedelta(minutes=self.rng.uniform(1, 240))
            self.clicks.append(
                Click(
                    list_contact=membership,
                    contact=message.contact,
                    sending_list=message.sending_list,
                    message=message,
                    url=link,
                    clicked_at=clicked_at,
                )
            )
            membership.click_count += 1
            membership.last_clicked_at = max(filter(None, [membership.last_clicked_at, clicked_at]))
            low, high = spec["revenue"]
            if not high or self.rng.random() > 0.3:
                continue
            converted_at = clicked_at + dt.timedelta(minutes=self.rng.uniform(5, 600))
            revenue = Decimal(self.rng.randint(low * 100, high * 100)) / 100
            self.conversions.append(
                Conversion(
                    list_contact=membership,
                    contact=message.contact,
                    sending_list=message.sending_list,
                    message=message,
                    order_id=f"{spec['order_prefix']}-{len(self.conversions) + 1:06d}",
                    revenue=revenue,
                    converted_at=converted_at,
                )
            )
            membership.conversion_count += 1
            membership.revenue_total += revenue
            membership.last_revenue_at = max(filter(None, [membership.last_revenue_at, converted_at]))

    # --- writing ------------------------------------------------------------------------------

    def _write(self, lists: list[SendingList], contacts: list[Contact]) -> int:
        Contact.objects.bulk_create(contacts, batch_size=BATCH)
        backdate(Contact, ((c.pk, c.joined_at) for c in contacts))
        tags = tags_get_or_create(TAGS)
        Contact.tags.through.objects.bulk_create(
            (
                Contact.tags.through(contact_id=contact.pk, tag_id=tag.pk)
                for contact in contacts
                for tag in self.rng.sample(tags, self.rng.choices(range(6), [35, 30, 20, 10, 3, 2])[0])
            ),
            batch_size=BATCH,
        )
        memberships = [plan.membership for plan in self.plans]
        ListContact.objects.bulk_create(memberships, batch_size=BATCH)
        backdate(ListContact, ((plan.membership.pk, plan.subscribed) for plan in self.plans))
        Message.objects.bulk_create(self.messages, batch_size=BATCH)
        Click.objects.bulk_create(self.clicks, batch_size=BATCH)
        Conversion.objects.bulk_create(self.conversions, batch_size=BATCH)
        events = subscription_events(self.plans, contacts)
        SubscriptionEvent.objects.bulk_create(events, batch_size=BATCH)
        # The consent ledger follows the history, as the services keep it.
        ledger_apply(sorted(events, key=lambda event: (event.occurred_at, event.pk)))
        by_list: dict = defaultdict(Counter)
        for membership in memberships:
            by_list[membership.sending_list_id][membership.status] += 1
        for sending_list in lists:
            list_status_counts_add(sending_list_id=sending_list.pk, deltas=by_list[sending_list.pk])
        return len(events)
