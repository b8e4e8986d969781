"""The admin on large tables: changelists in bounded queries, phone search in any format, audited
actions that go through the services, read-only history, the tag limit, formula-safe exports."""

import csv
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contacts.admin import LargeTablePaginator
from contacts.models import Contact, Tag
from engagement.models import Click, Conversion, Message
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, MembershipStatus, UnsubReason
from sendinglists.contacts.services import contact_block
from sendinglists.lists.services import custom_field_create, list_status_counts, list_status_counts_add
from sendinglists.models import ApiToken, Audience, ImportJob, ListContact, SendingList, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from sendinglists.tokens.services import api_token_create, api_token_for_key, api_token_hash
from tests.admin_forms import admin_form_data
from tests.factories import ContactFactory, CustomFieldFactory, SendingListFactory, TagFactory

ROWS = 5_000
HISTORY_ROWS = 1_000  # events and messages: enough to page, cheap to insert
QUERY_BUDGET = 8  # session, user, count, rows, a prefetch, filter choices: never one per row

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _changelist(app_model: str) -> str:
    return reverse(f"admin:{app_model.replace('.', '_')}_changelist")


def _subscribe(sending_list, contact, actor=None):
    return list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="api",
        actor=actor or Actor.system("test"),
    ).membership


@pytest.fixture
def big_tables(staff_user):
    """5,000 contacts and memberships, 1,000 events and messages, a few of everything else, in bulk."""
    now = timezone.now()
    lists = [SendingListFactory(name=f"Big list {n}") for n in range(3)]
    tags = [TagFactory(name=f"big-tag-{n}") for n in range(6)]
    contacts = Contact.objects.bulk_create(
        Contact(
            phone_number=f"+1{212 + n // 10_000}{2000000 + n:07d}",
            first_name=f"First{n}",
            last_name=f"Last{n}",
            email=f"person{n}@example.com",
        )
        for n in range(ROWS)
    )
    Contact.tags.through.objects.bulk_create(
        Contact.tags.through(contact_id=contact.pk, tag_id=tags[n % 6].pk)
        for n, contact in enumerate(contacts)
    )
    reasons = ["", *UnsubReason.values]
    memberships = ListContact.objects.bulk_create(
        ListContact(
            sending_list=lists[n % 3],
            contact=contact,
            active=reasons[n % 6] == "",
            unsub_reason=reasons[n % 6],
            opted_out_at=None if reasons[n % 6] == "" else now,
            subscribed_at=now,
            status_changed_at=now,
            signup_method="import",
        )
        for n, contact in enumerate(contacts)
    )
    for sending_list in lists:
        list_status_counts_add(
            sending_list_id=sending_list.pk,
            deltas=Counter(m.status for m in memberships if m.sending_list_id == sending_list.pk),
        )
    SubscriptionEvent.objects.bulk_create(
        SubscriptionEvent(
            sending_list=m.sending_list,
            list_contact=m,
            contact=m.contact,
            phone_number=m.contact.phone_number,
            kind=EventKind.SUBSCRIBED,
            actor_kind="import",
            occurred_at=now,
        )
        for m in memberships[:HISTORY_ROWS]
    )
    messages = Message.objects.bulk_create(
        Message(
            direction="outbound",
            sending_list=m.sending_list,
            contact=m.contact,
            list_contact=m,
            from_number=m.sending_list.phone_number,
            to_number=m.contact.phone_number,
            body="Weekend sale: 20% off",
            provider_message_id=f"SMbig{m.pk:020d}",
            status="delivered",
            sent_at=now,
        )
        for m in memberships[:HISTORY_ROWS]
    )
    Click.objects.bulk_create(
        Click(
            list_contact=m,
            contact=m.contact,
            sending_list=m.sending_list,
            message=message,
            url="https://example.com/sale",
            clicked_at=now,
        )
        for m, message in list(zip(memberships, messages, strict=False))[:500]
    )
    Conversion.objects.bulk_create(
        Conversion(
            list_contact=m,
            contact=m.contact,
            sending_list=m.sending_list,
            order_id=f"order-{m.pk}",
            revenue=Decimal("19.99"),
            converted_at=now,
        )
        for m in memberships[:200]
    )
    for sending_list in lists:
        custom_field_create(sending_list=sending_list, key="tier", field_type="choice", choices=["a", "b"])
        Audience.objects.create(sending_list=sending_list, name="Everyone", created_by=staff_user)
        ImportJob.objects.create(
            sending_list=sending_list,
            created_by=staff_user,
            file="imports/big.csv",
            original_filename="big.csv",
        )
    api_token_create(name="Shopify sync", sending_lists=lists[:2], created_by=staff_user)
    api_token_create(name="Reporting", read_only=True)
    return {"lists": lists, "contacts": contacts, "memberships": memberships}


CHANGELISTS = [
    "contacts.contact",
    "contacts.tag",
    "sendinglists.sendinglist",
    "sendinglists.customfield",
    "sendinglists.listcontact",
    "sendinglists.subscriptionevent",
    "sendinglists.audience",
    "sendinglists.importjob",
    "sendinglists.apitoken",
    "engagement.message",
    "engagement.click",
    "engagement.conversion",
]


def test_every_changelist_renders_for_a_superuser_with_5000_rows_in_bounded_queries(
    admin_client, big_tables, django_assert_max_num_queries, subtests
):
    list_id = big_tables["lists"][0].pk
    urls = [_changelist(name) for name in CHANGELISTS] + [
        _changelist("contacts.contact") + "?q=(212)+200-0042",
        _changelist("contacts.contact") + "?q=last",
        _changelist("contacts.contact") + "?line_type__exact=unknown&blocked__exact=0&is_valid__exact=1",
        _changelist("contacts.contact") + f"?tags__id__exact={Tag.objects.first().pk}",
        _changelist("contacts.contact") + "?p=3",
        _changelist("sendinglists.listcontact") + f"?status=manual&sending_list__id__exact={list_id}",
        _changelist("sendinglists.listcontact")
        + "?unsub_reason__exact=complaint&signup_method__exact=import",
        _changelist("sendinglists.listcontact") + "?in_workflow__exact=0&q=2122000042",
        _changelist("sendinglists.subscriptionevent") + "?kind__exact=subscribed&q=%2B12122000042",
        _changelist("engagement.message") + "?direction__exact=outbound&q=2122000042",
    ]
    for url in urls:
        with subtests.test(url=url):
            with django_assert_max_num_queries(QUERY_BUDGET):
                response = admin_client.get(url)
            assert response.status_code == 200
    response = admin_client.get(_changelist("contacts.contact"))
    assert response.context["cl"].result_count == ROWS
    assert b"5000 contacts" in response.content


def test_contact_changelist_counts_at_most_the_limit_and_says_so(admin_client, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_limit", 20)
    ContactFactory.create_batch(25)

    response = admin_client.get(_changelist("contacts.contact") + "?is_valid__exact=1")

    assert response.status_code == 200
    assert response.context["cl"].result_count == 20
    assert b"20+ contacts" in response.content
    assert b"20+ results" in response.content


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
def test_unfiltered_changelist_past_the_limit_reports_the_postgres_estimate(admin_client, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_limit", 20)
    ContactFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    response = admin_client.get(_changelist("contacts.contact"))

    assert response.context["cl"].result_count == 30
    assert b"about 30 contacts" in response.content
    assert b"about 30 results" in response.content


def _change(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _results(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.fixture
def jane(db):
    contact = ContactFactory(
        phone_number="+14155550123", first_name="Jane", last_name="Smith", email="Jane.Smith@Example.com"
    )
    ContactFactory(
        phone_number="+14155550124", first_name="Janet", last_name="Jones", email="janet@example.com"
    )
    ContactFactory(
        phone_number="+12125550123", first_name="Bob", last_name="Janeway", email="bob@example.com"
    )
    return contact


@pytest.mark.parametrize(
    "term",
    ["+14155550123", "14155550123", "(415) 555-0123", "415.555.0123", "415-555-0123", "+1 415 555 0123"],
)
def test_contact_search_finds_the_contact_by_phone_in_any_format(admin_client, jane, term):
    response = admin_client.get(_changelist("contacts.contact"), {"q": term})

    assert [contact.pk for contact in _results(response)] == [jane.pk]


def test_contact_search_matches_email_exactly_ignoring_case(admin_client, jane):
    response = admin_client.get(_changelist("contacts.contact"), {"q": "jane.smith@EXAMPLE.com"})
    partial = admin_client.get(_changelist("contacts.contact"), {"q": "smith@example.com"})

    assert [contact.pk for contact in _results(response)] == [jane.pk]
    assert _results(partial) == []


def test_contact_search_matches_the_start_of_a_first_or_last_name(admin_client, jane):
    by_first = admin_client.get(_changelist("contacts.contact"), {"q": "jan"})
    by_full_name = admin_client.get(_changelist("contacts.contact"), {"q": "jane sm"})
    by_last = admin_client.get(_changelist("contacts.contact"), {"q": "JONES"})

    assert sorted(c.first_name for c in _results(by_first)) == ["Bob", "Jane", "Janet"]
    assert [c.pk for c in _results(by_full_name)] == [jane.pk]
    assert [c.first_name for c in _results(by_last)] == ["Janet"]


def test_contact_search_by_id_and_a_term_that_cannot_match(admin_client, jane):
    by_id = admin_client.get(_changelist("contacts.contact"), {"q": str(jane.pk)})
    nonsense = admin_client.get(_changelist("contacts.contact"), {"q": "415-abc#"})

    assert jane.pk in [c.pk for c in _results(by_id)]
    assert nonsense.status_code == 200
    assert _results(nonsense) == []


def test_membership_search_finds_memberships_of_the_contact_by_phone(admin_client, jane):
    sending_list, other_list = SendingListFactory(), SendingListFactory()
    membership = _subscribe(sending_list, jane)
    other = _subscribe(other_list, jane)
    _subscribe(sending_list, Contact.objects.get(phone_number="+14155550124"))

    response = admin_client.get(_changelist("sendinglists.listcontact"), {"q": "(415) 555-0123"})

    assert sorted(m.pk for m in _results(response)) == sorted([membership.pk, other.pk])


def test_subscription_event_search_finds_events_of_deleted_contacts_within_a_list(admin_client, jane):
    from sendinglists.contacts.services import contact_delete

    sending_list = SendingListFactory()
    membership = _subscribe(sending_list, jane)
    list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=Actor.system("test"))
    contact_delete(contact=jane)

    without_list = admin_client.get(_changelist("sendinglists.subscriptionevent"), {"q": "4155550123"})
    within_list = admin_client.get(
        _changelist("sendinglists.subscriptionevent"),
        {"q": "4155550123", "sending_list__id__exact": sending_list.pk},
    )

    assert _results(without_list) == []
    assert [(e.kind, e.phone_number) for e in _results(within_list)] == [
        ("opted_out", "+14155550123"),
        ("subscribed", "+14155550123"),
    ]


def test_status_filter_shows_exactly_the_memberships_with_that_status(admin_client):
    sending_list = SendingListFactory()
    active, opted_out, manual = (_subscribe(sending_list, ContactFactory()) for _ in range(3))
    list_contact_opt_out(membership=opted_out, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))
    list_contact_opt_out(membership=manual, reason=UnsubReason.MANUAL, actor=Actor.system("t"))

    def shown(status):
        response = admin_client.get(_changelist("sendinglists.listcontact"), {"status": status})
        return [m.pk for m in _results(response)]

    assert shown(MembershipStatus.ACTIVE) == [active.pk]
    assert shown(MembershipStatus.OPTED_OUT) == [opted_out.pk]
    assert shown(MembershipStatus.MANUAL) == [manual.pk]
    assert shown(MembershipStatus.COMPLAINT) == []


def _action(client, model: str, action: str, objects, **extra):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(_changelist(model), data, follow=True)


def test_unsubscribe_action_opts_out_through_the_service_and_records_the_user(admin_client, staff_user):
    sending_list = SendingListFactory()
    first, second = (_subscribe(sending_list, ContactFactory()) for _ in range(2))
    already = _subscribe(sending_list, ContactFactory())
    list_contact_opt_out(membership=already, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))

    response = _action(
        admin_client, "sendinglists.listcontact", "unsubscribe_manual", [first, second, already]
    )

    assert "Unsubscribed 2 memberships (reason: Manual); 1 membership already unsubscribed." in [
        str(m) for m in response.context["messages"]
    ]
    for membership in (first, second):
        membership.refresh_from_db()
        assert (membership.active, membership.unsub_reason) == (False, "manual")
        event = membership.events.get(kind=EventKind.OPTED_OUT)
        assert (event.reason, event.actor_kind, event.actor_id, event.user) == (
            "manual",
            "user",
            str(staff_user.pk),
            staff_user,
        )
    already.refresh_from_db()
    assert already.unsub_reason == "message"
    assert already.events.filter(kind=EventKind.OPTED_OUT).count() == 1
    assert list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk] == {
        "active": 0,
        "message": 1,
        "bad_response": 0,
        "invalid_contact": 0,
        "manual": 2,
        "complaint": 0,
        "blocked": 0,  # members of blocked contacts are counted when read (list_member_counts)
    }


def test_resubscribe_action_asks_for_a_note_first_and_changes_nothing(admin_client):
    membership = _subscribe(SendingListFactory(), ContactFactory(phone_number="+14155550177"))
    list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))

    response = _action(admin_client, "sendinglists.listcontact", "resubscribe_audited", [membership])

    assert response.status_code == 200
    assert b"Resubscribe memberships?" in response.content
    assert b"+14155550177" in response.content
    membership.refresh_from_db()
    assert membership.active is False
    assert not membership.events.filter(kind=EventKind.RESUBSCRIBED).exists()


def test_resubscribe_action_without_a_note_is_refused(admin_client):
    membership = _subscribe(SendingListFactory(), ContactFactory())
    list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))

    response = _action(
        admin_client, "sendinglists.listcontact", "resubscribe_audited", [membership], confirm="yes", note=" "
    )

    assert b"This field is required." in response.content
    membership.refresh_from_db()
    assert membership.active is False


def test_resubscribe_action_with_a_note_resubscribes_and_records_who_and_why(admin_client, staff_user):
    sending_list = SendingListFactory()
    opted_out = _subscribe(sending_list, ContactFactory())
    list_contact_opt_out(membership=opted_out, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))
    blocked = _subscribe(sending_list, ContactFactory())
    list_contact_opt_out(membership=blocked, reason=UnsubReason.MANUAL, actor=Actor.system("t"))
    contact_block(contact=blocked.contact, actor=Actor.system("t"))

    response = _action(
        admin_client,
        "sendinglists.listcontact",
        "resubscribe_audited",
        [opted_out, blocked],
        confirm="yes",
        note="Asked by email on 2024-05-02",
    )

    assert [str(m) for m in response.context["messages"]] == [
        "Resubscribed 1 membership.",
        "1 membership not resubscribed: The contact is blocked; unblock it first.",
    ]
    opted_out.refresh_from_db()
    blocked.refresh_from_db()
    assert (opted_out.active, opted_out.unsub_reason) == (True, "")
    assert (blocked.active, blocked.unsub_reason) == (False, "manual")
    event = opted_out.events.get(kind=EventKind.RESUBSCRIBED)
    assert (event.user, event.actor_kind, event.note) == (staff_user, "user", "Asked by email on 2024-05-02")
    assert not blocked.events.filter(kind=EventKind.RESUBSCRIBED).exists()


def test_block_action_blocks_through_the_service_with_an_audited_event(admin_client, staff_user):
    contact, already = ContactFactory(), ContactFactory()
    contact_block(contact=already, actor=Actor.system("t"))

    response = _action(admin_client, "contacts.contact", "block_contacts", [contact, already])

    assert "Blocked 1 contact; 1 contact already blocked." in [str(m) for m in response.context["messages"]]
    contact.refresh_from_db()
    assert contact.blocked is True
    event = SubscriptionEvent.objects.get(contact=contact, kind=EventKind.BLOCKED)
    assert (event.user, event.actor_kind, event.phone_number) == (staff_user, "user", contact.phone_number)
    assert SubscriptionEvent.objects.filter(contact=already, kind=EventKind.BLOCKED).count() == 1


def test_actions_refuse_more_rows_than_one_request_should_handle(admin_client, monkeypatch):
    from sendinglists import admin_common as common

    monkeypatch.setattr(common, "MAX_ACTION_ROWS", 2)
    contacts = ContactFactory.create_batch(3)

    response = _action(admin_client, "contacts.contact", "block_contacts", contacts)

    assert "Select at most 2 rows" in " ".join(str(m) for m in response.context["messages"])
    assert Contact.objects.filter(blocked=True).count() == 0
    assert not SubscriptionEvent.objects.exists()


@pytest.fixture
def history_rows(db):
    membership = _subscribe(SendingListFactory(), ContactFactory())
    message = Message.objects.create(
        direction="outbound",
        sending_list=membership.sending_list,
        contact=membership.contact,
        list_contact=membership,
        from_number=membership.sending_list.phone_number,
        to_number=membership.contact.phone_number,
        body="Hi",
        provider_message_id="SM1",
        status="delivered",
        sent_at=timezone.now(),
    )
    click = Click.objects.create(
        list_contact=membership,
        contact=membership.contact,
        sending_list=membership.sending_list,
        message=message,
        url="https://example.com/a",
        clicked_at=timezone.now(),
    )
    conversion = Conversion.objects.create(
        list_contact=membership,
        contact=membership.contact,
        sending_list=membership.sending_list,
        order_id="A-1",
        revenue=Decimal("10.00"),
        converted_at=timezone.now(),
    )
    job = ImportJob.objects.create(
        sending_list=membership.sending_list, file="imports/a.csv", original_filename="a.csv"
    )
    return [membership.events.get(), message, click, conversion, job]


def test_history_and_engagement_admins_refuse_add_change_and_delete(admin_client, history_rows):
    for obj in history_rows:
        opts = obj._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        before = opts.model.objects.filter(pk=obj.pk).values().get()

        assert admin_client.get(reverse(f"{name}_add")).status_code == 403
        assert admin_client.get(_change(obj)).status_code == 200  # view only
        assert admin_client.post(_change(obj), {"note": "edited", "body": "edited"}).status_code == 403
        assert admin_client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
        assert opts.model.objects.filter(pk=obj.pk).values().get() == before


def test_change_pages_render(admin_client, jane, history_rows):
    membership = history_rows[0].list_contact
    _subscribe(membership.sending_list, jane)
    token, _ = api_token_create(name="t")
    for url in [
        _change(jane),
        _change(membership),
        _change(membership.sending_list),
        _change(token),
        reverse("admin:contacts_contact_add"),
        reverse("admin:sendinglists_sendinglist_add"),
        reverse("admin:sendinglists_apitoken_add"),
        reverse("admin:sendinglists_customfield_add"),
    ]:
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(reverse("admin:sendinglists_listcontact_add")).status_code == 403


def test_tag_limit_error_shows_in_the_contact_form_and_changes_nothing(admin_client):
    contact = ContactFactory(first_name="Ann")
    tags = [TagFactory(name=f"t{n}") for n in range(6)]
    contact.tags.set(tags[:2])
    data = admin_form_data(admin_client.get(_change(contact)))

    response = admin_client.post(
        _change(contact), {**data, "first_name": "Anne", "tags": [t.pk for t in tags]}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["tags"] == [
        "A contact can have at most 5 tags; this would give it 6."
    ]
    contact.refresh_from_db()
    assert contact.first_name == "Ann"
    assert sorted(t.name for t in contact.tags.all()) == ["t0", "t1"]


def test_contact_form_saves_through_the_services_with_a_phone_in_any_format(admin_client):
    tags = [TagFactory(name="vip"), TagFactory(name="newsletter")]
    data = admin_form_data(admin_client.get(reverse("admin:contacts_contact_add")))

    response = admin_client.post(
        reverse("admin:contacts_contact_add"),
        {
            **data,
            "phone_number": "(415) 555-0199",
            "first_name": " Maria ",
            "email": "maria@example.com",
            "tags": [t.pk for t in tags],
        },
    )

    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.phone_number, contact.first_name, contact.email) == (
        "+14155550199",
        "Maria",
        "maria@example.com",
    )
    assert sorted(t.name for t in contact.tags.all()) == ["newsletter", "vip"]


def test_contact_form_refuses_an_invalid_or_taken_phone_with_the_reason(admin_client):
    ContactFactory(phone_number="+14155550100")
    data = admin_form_data(admin_client.get(reverse("admin:contacts_contact_add")))

    invalid = admin_client.post(reverse("admin:contacts_contact_add"), {**data, "phone_number": "555-CALL"})
    taken = admin_client.post(reverse("admin:contacts_contact_add"), {**data, "phone_number": "415 555 0100"})

    assert invalid.context["adminform"].form.errors["phone_number"] == [
        "555-CALL is not a valid phone number: contains letters."
    ]
    assert taken.context["adminform"].form.errors["phone_number"] == [
        "Contact with this Phone number already exists."
    ]
    assert Contact.objects.count() == 1


def test_contact_change_merges_edits_and_keeps_the_row(admin_client):
    contact = ContactFactory(phone_number="+14155550100", email="old@example.com", carrier="Verizon")
    data = admin_form_data(admin_client.get(_change(contact)))

    response = admin_client.post(
        _change(contact), {**data, "phone_number": "1 (415) 555-0101", "email": "", "carrier": "AT&T"}
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    # An explicit edit may blank a field (unlike an import's upsert).
    assert (contact.phone_number, contact.email, contact.carrier) == ("+14155550101", "", "AT&T")


def test_adding_a_membership_inline_subscribes_but_never_reactivates_an_opt_out(admin_client, staff_user):
    fresh_list, stopped_list = SendingListFactory(name="Fresh"), SendingListFactory(name="Stopped")
    custom_field_create(sending_list=fresh_list, key="tier", field_type="choice", choices=["Gold", "Silver"])
    contact = ContactFactory()
    stopped = _subscribe(stopped_list, contact)
    list_contact_opt_out(membership=stopped, reason=UnsubReason.MESSAGE, actor=Actor.system("t"))
    stopped.delete()  # the opt-out event stays: the number came back without a membership
    data = admin_form_data(admin_client.get(_change(contact)))
    data.update(
        {
            "memberships-TOTAL_FORMS": "2",
            "memberships-0-sending_list": str(fresh_list.pk),
            "memberships-0-custom_fields": '{"tier": "gold"}',
            "memberships-1-sending_list": str(stopped_list.pk),
            "memberships-1-custom_fields": "{}",
        }
    )

    response = admin_client.post(_change(contact), data, follow=True)

    assert response.status_code == 200
    fresh = ListContact.objects.get(sending_list=fresh_list, contact=contact)
    assert (fresh.active, fresh.signup_method, fresh.custom_fields) == (True, "manual", {"tier": "Gold"})
    assert fresh.events.get().user == staff_user
    restored = ListContact.objects.get(sending_list=stopped_list, contact=contact)
    assert (restored.active, restored.unsub_reason) == (False, "message")
    assert any("Stopped" in str(m) and "opted out" in str(m) for m in response.context["messages"])


def test_membership_inline_reports_an_invalid_custom_field_value(admin_client):
    sending_list = SendingListFactory()
    custom_field_create(sending_list=sending_list, key="visits", field_type="number")
    contact = ContactFactory()
    data = admin_form_data(admin_client.get(_change(contact)))
    data.update(
        {
            "memberships-TOTAL_FORMS": "1",
            "memberships-0-sending_list": str(sending_list.pk),
            "memberships-0-custom_fields": '{"visits": "lots"}',
        }
    )

    response = admin_client.post(_change(contact), data)

    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["custom_fields"] == ["Visits: 'lots' is not a number."]
    assert not ListContact.objects.exists()


def test_deleting_a_contact_in_the_admin_keeps_counts_and_the_opt_out_evidence(admin_client):
    sending_list = SendingListFactory()
    membership = _subscribe(sending_list, ContactFactory())
    list_contact_opt_out(membership=membership, reason=UnsubReason.COMPLAINT, actor=Actor.system("t"))
    _subscribe(sending_list, ContactFactory())
    contact = membership.contact

    response = admin_client.post(reverse("admin:contacts_contact_delete", args=[contact.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    counts = list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
    assert (counts["active"], counts["complaint"]) == (1, 0)
    assert list(
        SubscriptionEvent.objects.filter(phone_number=contact.phone_number).values_list("kind", "reason")
    ) == [("opted_out", "complaint"), ("subscribed", "")]


def test_sending_list_form_normalizes_the_sender_and_custom_field_inline_checks_choices(admin_client):
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_sendinglist_add")))
    data.update(
        {
            "name": "Acme",
            "phone_number": "(800) 555-0142",
            "default_region": "us",
            "help_text": "Acme: reply STOP to opt out.",
            "opt_out_keywords": "[]",
            "opt_in_keywords": "[]",
            "custom_fields-TOTAL_FORMS": "1",
            "custom_fields-0-key": "tier",
            "custom_fields-0-label": "Tier",
            "custom_fields-0-field_type": "choice",
            "custom_fields-0-choices": "[]",
        }
    )

    refused = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)
    data["custom_fields-0-choices"] = '["Gold", "Silver"]'
    created = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)

    formset = refused.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors["choices"] == ["A choice field needs at least one choice."]
    assert created.status_code == 302
    sending_list = SendingList.objects.get()
    assert (sending_list.phone_number, sending_list.default_region) == ("+18005550142", "US")
    assert list(sending_list.custom_fields.values_list("key", "field_type", "choices")) == [
        ("tier", "choice", ["Gold", "Silver"])
    ]


def test_sending_list_form_refuses_an_unknown_region(admin_client):
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_sendinglist_add")))
    data.update(
        {
            "name": "Acme",
            "phone_number": "(800) 555-0142",
            "default_region": "zz",
            "opt_out_keywords": "[]",
            "opt_in_keywords": "[]",
        }
    )

    refused = admin_client.post(reverse("admin:sendinglists_sendinglist_add"), data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["default_region"] == [
        "'ZZ' is not a known country code (use e.g. US, GB, DE)."
    ]
    assert not SendingList.objects.exists()


def test_creating_an_api_token_shows_the_plain_token_once_and_stores_only_its_hash(admin_client, staff_user):
    sending_list = SendingListFactory()
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_apitoken_add")))

    response = admin_client.post(
        reverse("admin:sendinglists_apitoken_add"),
        {**data, "name": "Shopify sync", "read_only": "on", "sending_lists": [sending_list.pk]},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"] if "Copy it now" in str(m)]
    plain_key = message.rsplit(": ", 1)[1]
    token = ApiToken.objects.get()
    assert message == f"API token 'Shopify sync' created. Copy it now, it is not shown again: {plain_key}"
    assert token.key_hash == api_token_hash(plain_key)
    assert plain_key not in {token.key_hash, token.key_prefix}
    assert (token.name, token.read_only, token.created_by) == ("Shopify sync", True, staff_user)
    assert list(token.sending_lists.all()) == [sending_list]
    assert token.limited_to_lists is True
    assert plain_key.encode() not in admin_client.get(_change(token)).content


def test_api_token_chosen_lists_limit_it_and_clearing_them_in_the_admin_does_not_widen_it(admin_client):
    sending_list = SendingListFactory()
    token, _ = api_token_create(name="Everything")
    data = admin_form_data(admin_client.get(_change(token)))

    admin_client.post(_change(token), {**data, "sending_lists": [sending_list.pk]})
    token.refresh_from_db()
    assert (token.limited_to_lists, list(token.sending_lists.all())) == (True, [sending_list])

    data = admin_form_data(admin_client.get(_change(token)))
    del data["sending_lists"]
    admin_client.post(_change(token), data)
    token.refresh_from_db()
    assert (token.limited_to_lists, list(token.sending_lists.all())) == (True, [])
    assert api_token_for_key_scope(token) == []


def api_token_for_key_scope(token: ApiToken):
    """The list ids the API applies to `token` (None: every list)."""
    plain_key = "k" * 40
    ApiToken.objects.filter(pk=token.pk).update(key_hash=api_token_hash(plain_key))
    return api_token_for_key(plain_key).allowed_list_ids


def test_revoke_action_revokes_tokens(admin_client):
    token, _ = api_token_create(name="Old")

    _action(admin_client, "sendinglists.apitoken", "revoke_tokens", [token])

    token.refresh_from_db()
    assert token.revoked_at is not None


def _export(client, model: str, resource_prefix: str, **filters) -> list[list[str]]:
    url = reverse(f"admin:{model.replace('.', '_')}_export")
    if filters:
        url += "?" + "&".join(f"{key}={value}" for key, value in filters.items())
    form = client.get(url).context["form"]
    fields = {name: "on" for name in form.fields if name.startswith(resource_prefix)}
    response = client.post(url, {"format": "0", "resource": "0", **fields})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_contact_export_neutralizes_spreadsheet_formulas(admin_client):
    contact = ContactFactory(
        phone_number="+14155550123",
        first_name='=HYPERLINK("http://evil.example","x")',
        last_name="+SUM(A1:A9)",
        email="ok@example.com",
        carrier="-2+3",
        timezone="@cmd",
    )
    contact.tags.set([TagFactory(name="=1+1"), TagFactory(name="vip")])

    rows = _export(admin_client, "contacts.contact", "contactresource_")

    header, row = rows
    cells = dict(zip(header, row, strict=True))
    assert header[:6] == ["id", "uuid", "phone_number", "email", "first_name", "last_name"]
    assert {
        key: cells[key] for key in ("phone_number", "first_name", "last_name", "carrier", "timezone", "tags")
    } == {
        "phone_number": "+14155550123",
        "first_name": '\'=HYPERLINK("http://evil.example","x")',
        "last_name": "'+SUM(A1:A9)",
        "carrier": "'-2+3",
        "timezone": "'@cmd",
        "tags": "'=1+1, vip",
    }


def test_membership_export_neutralizes_formulas_and_respects_the_changelist_filters(admin_client):
    sending_list = SendingListFactory(name="@Deals")
    custom_field_create(sending_list=sending_list, key="note", field_type="text")
    kept = list_contact_subscribe(
        sending_list=sending_list,
        contact=ContactFactory(phone_number="+14155550123", first_name="-Bob", last_name="Ok"),
        signup_method="import",
        actor=Actor.system("t"),
        custom_fields={"note": "=cmd"},
    ).membership
    other = _subscribe(sending_list, ContactFactory())
    list_contact_opt_out(membership=other, reason=UnsubReason.MANUAL, actor=Actor.system("t"))

    rows = _export(admin_client, "sendinglists.listcontact", "membershipresource_", status="active")

    header, row = rows
    cells = dict(zip(header, row, strict=True))
    assert {key: cells[key] for key in ("id", "sending_list", "phone_number", "first_name", "status")} == {
        "id": str(kept.pk),
        "sending_list": "'@Deals",
        "phone_number": "+14155550123",
        "first_name": "'-Bob",
        "status": "Active",
    }
    assert cells["custom_fields"] == '{"note": "=cmd"}'
    assert (cells["send_count"], cells["revenue_total"]) == ("0", "0.00")


def test_export_selected_action_exports_only_the_selected_rows(admin_client):
    first, _second, third = ContactFactory.create_batch(3)

    form_page = _action(admin_client, "contacts.contact", "export_admin_action", [first, third])
    fields = {name: "on" for name in form_page.context["form"].fields if name.startswith("contactresource_")}
    response = admin_client.post(
        reverse("admin:contacts_contact_export"),
        {"format": "0", "resource": "0", "export_items": [first.pk, third.pk], **fields},
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert sorted(row[2] for row in rows[1:]) == sorted([first.phone_number, third.phone_number])


def test_audience_admin_saves_through_the_audience_services_and_reports_a_bad_query(admin_client, staff_user):
    sending_list = SendingListFactory()
    data = admin_form_data(admin_client.get(reverse("admin:sendinglists_audience_add")))
    data.update({"sending_list": str(sending_list.pk), "name": "Active", "query": "status = nonsense"})

    refused = admin_client.post(reverse("admin:sendinglists_audience_add"), data)
    data["query"] = "status=active"
    created = admin_client.post(reverse("admin:sendinglists_audience_add"), data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["query"]
    assert created.status_code == 302
    audience = Audience.objects.get()
    assert (audience.name, audience.query, audience.created_by) == ("Active", "status = active", staff_user)
    assert audience.rules["rules"] == [{"field": "status", "operator": "=", "value": "active"}]


def test_message_search_finds_a_provider_id_or_the_contact_by_name(admin_client, jane):
    sending_list = SendingListFactory()
    membership = _subscribe(sending_list, jane)
    message = Message.objects.create(
        direction="outbound",
        sending_list=sending_list,
        contact=jane,
        list_contact=membership,
        from_number=sending_list.phone_number,
        to_number=jane.phone_number,
        body="Hi",
        provider_message_id="SM0123456789abcdef0123456789abcdef",
        status="delivered",
        sent_at=timezone.now(),
    )

    by_id = admin_client.get(_changelist("engagement.message"), {"q": message.provider_message_id})
    by_name = admin_client.get(_changelist("engagement.message"), {"q": "smith"})
    by_phone = admin_client.get(_changelist("engagement.message"), {"q": "(415) 555-0123"})

    assert [m.pk for m in _results(by_id)] == [message.pk]
    assert [m.pk for m in _results(by_name)] == [message.pk]
    assert [m.pk for m in _results(by_phone)] == [message.pk]


def test_an_export_larger_than_the_admin_limit_is_refused_with_a_message(admin_client, monkeypatch):
    from sendinglists.contacts.admin import ContactAdmin

    monkeypatch.setattr(ContactAdmin, "max_export_rows", 2)
    ContactFactory.create_batch(3)
    url = reverse("admin:contacts_contact_export")
    fields = {
        name: "on"
        for name in admin_client.get(url).context["form"].fields
        if name.startswith("contactresource_")
    }

    response = admin_client.post(url, {"format": "0", "resource": "0", **fields})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "This export has more than 2 rows." in " ".join(str(m) for m in response.context["messages"])


def test_the_admin_refuses_custom_fields_over_the_list_limit_in_place(admin_client, settings):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 1
    sending_list = SendingListFactory(name="Acme")
    CustomFieldFactory(sending_list=sending_list, key="plan")
    add = reverse("admin:sendinglists_customfield_add")
    data = admin_form_data(admin_client.get(add))
    data.update(
        {
            "sending_list": sending_list.pk,
            "key": "tier",
            "label": "Tier",
            "field_type": "text",
            "choices": "[]",
        }
    )

    refused = admin_client.post(add, data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.non_field_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, and 1 more would make 2."
    ]
    change = reverse("admin:sendinglists_sendinglist_change", args=[sending_list.pk])
    data = admin_form_data(admin_client.get(change))
    data.update(
        {
            "custom_fields-TOTAL_FORMS": "2",
            "custom_fields-1-key": "tier",
            "custom_fields-1-label": "Tier",
            "custom_fields-1-field_type": "text",
            "custom_fields-1-choices": "[]",
        }
    )

    inline_refused = admin_client.post(change, data)

    assert inline_refused.status_code == 200
    formset = inline_refused.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, and 1 more would make 2."
    ]
    assert list(sending_list.custom_fields.values_list("key", flat=True)) == ["plan"]
