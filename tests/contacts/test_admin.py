"""The admin base of contacts/admin.py on every admin: changelists of large tables in bounded
queries with a capped count, read-only history, change pages that render."""

from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from contacts.admin import LargeTablePaginator
from contacts.models import Contact, Tag
from engagement.models import Click, Conversion, Message
from sendinglists.choices import EventKind, UnsubReason
from sendinglists.lists.services import custom_field_create, list_status_counts_add
from sendinglists.models import Audience, ImportJob, ListContact, SubscriptionEvent
from sendinglists.tokens.services import api_token_create
from tests.admin_forms import _change, _changelist, _subscribe
from tests.factories import ContactFactory, SendingListFactory, TagFactory

ROWS = 5_000
HISTORY_ROWS = 1_000  # events and messages: enough to page, cheap to insert
QUERY_BUDGET = 8  # session, user, count, rows, a prefetch, filter choices: never one per row

pytestmark = pytest.mark.django_db


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
