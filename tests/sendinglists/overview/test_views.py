import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.models import ContactChannel, Tag
from sendinglists.actors import Actor
from sendinglists.contacts.services import contact_block
from sendinglists.models import CustomField, ImportJob, ListContact, ListStatusCount
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.selectors import list_member_counts
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    ListContactFactory,
    SendingListFactory,
    UserFactory,
    opt_outs,
    send,
)
from tests.staff import staff_with

pytestmark = pytest.mark.django_db

VIEW_PERMISSIONS = (
    "sendinglists.view_sendinglist",
    "sendinglists.view_listcontact",
    "sendinglists.view_customfield",
    "contacts.view_contact",
)
SYSTEM = Actor.system("test")


@pytest.fixture
def viewer(client):
    user = staff_with(*VIEW_PERMISSIONS)
    client.force_login(user)
    return user


def row_phones(response) -> list[str]:
    """The phone column of the Contacts table, in order."""
    return [membership.contact.phone_number for membership in response.context["page"].rows]


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/lists/", "/lists/{id}/", "/lists/{id}/fields/"])
def test_anonymous_user_is_redirected_to_login(client, path):
    sending_list = SendingListFactory()
    url = path.format(id=sending_list.pk)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_non_staff_user_is_redirected_to_login(client):
    client.force_login(UserFactory(username="customer", is_staff=False))

    response = client.get("/lists/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_view_permission_gets_403(client):
    client.force_login(staff_with(username="nobody"))

    response = client.get("/lists/")

    assert response.status_code == 403
    assert "Your account may not do this." in response.content.decode()


def test_root_redirects_to_sending_lists(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/lists/"


@pytest.mark.parametrize("path", ["/lists/999999/", "/lists/999999/fields/"])
def test_unknown_list_is_404(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 404
    assert "Nothing lives at <code>/lists/999999/" in response.content.decode()


# --- the lists ------------------------------------------------------------------------------------


def test_lists_page_shows_maintained_counts_opt_out_rate_and_last_import(admin_client, staff_user):
    quiet = SendingListFactory(name="Quiet list", phone_number="+18005550101")
    noisy = SendingListFactory(name="Noisy list", phone_number="+18005550102")
    for status, count in [("active", 97), ("message", 2), ("complaint", 1), ("bad_response", 5)]:
        ListStatusCount.objects.create(sending_list=noisy, status=status, count=count)
    ListStatusCount.objects.create(sending_list=quiet, status="active", count=1000)
    ListStatusCount.objects.create(sending_list=quiet, status="manual", count=10)
    ImportJob.objects.create(sending_list=noisy, original_filename="old.csv", status="completed")
    latest = ImportJob.objects.create(sending_list=noisy, original_filename="new.csv", status="running")
    # The opt-out rate is opt-outs (STOP, complaint) / sends over the last 30 days.
    contact = ContactFactory()
    yesterday = timezone.now() - dt.timedelta(days=1)
    send(noisy, contact, 105, yesterday)
    opt_outs(noisy, contact, 2, yesterday)
    opt_outs(noisy, contact, 1, yesterday, reason="complaint")
    opt_outs(
        noisy, contact, 5, yesterday, reason="manual"
    )  # an operator's clean-up: not the audience's choice
    send(quiet, contact, 1010, yesterday)
    opt_outs(quiet, contact, 10, yesterday)

    response = admin_client.get("/lists/")

    summaries = {s.sending_list.name: s for s in response.context["summaries"]}
    assert (summaries["Noisy list"].active, summaries["Noisy list"].opted_out) == (97, 3)
    assert summaries["Noisy list"].undeliverable == 5
    assert summaries["Noisy list"].opt_out_rate == Decimal(3) / Decimal(105)
    assert summaries["Noisy list"].opt_out_rate_is_high is True
    assert summaries["Noisy list"].last_import == latest
    assert summaries["Quiet list"].opt_out_rate_is_high is False
    assert summaries["Quiet list"].last_import is None
    html = response.content.decode()
    assert "(800) 555-0102" in html
    assert "2.86% high" in html
    assert "0.99%" in html
    assert f'href="/imports/{latest.pk}/"' in html


def test_lists_page_without_lists_shows_empty_state(admin_client):
    response = admin_client.get("/lists/")

    assert response.status_code == 200
    assert "No sending lists yet" in response.content.decode()


def test_lists_page_runs_a_fixed_number_of_queries(admin_client, django_assert_max_num_queries):
    for n in range(12):
        sending_list = SendingListFactory()
        ListStatusCount.objects.create(sending_list=sending_list, status="active", count=n)
        ImportJob.objects.create(sending_list=sending_list, original_filename="a.csv")

    # 3 for lists, counts and imports, 2 grouped queries for the opt-out rates (then cached)
    with django_assert_max_num_queries(7):
        assert admin_client.get("/lists/").status_code == 200


# --- the Contacts tab -----------------------------------------------------------------------------


@pytest.fixture
def members():
    """A list with five members in known states (oldest first)."""
    sending_list = SendingListFactory(name="Deals", phone_number="+18005550199")
    CustomField.objects.create(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )
    CustomField.objects.create(sending_list=sending_list, key="score", label="Score", field_type="number")
    vip = Tag.objects.create(name="VIP")
    now = timezone.now()
    specs = [
        # phone, first, last, email, active/reason, signup, sends, in_workflow, custom fields
        (
            "+16285550001",
            "Ana",
            "Smith",
            "ana@example.com",
            "",
            "import",
            3,
            False,
            {"plan": "pro", "score": 7},
        ),
        ("+16285550002", "Ben", "Jones", "ben@example.com", "message", "api", 10, False, {"plan": "free"}),
        ("+16285550003", "Cleo", "Smithers", "CLEO@Example.com", "", "journey", 0, True, {"score": 70}),
        ("+16285550004", "Dev", "Patel", "dev@example.com", "complaint", "import", 1, False, {}),
        ("+16285550005", "Ana", "Chen", "ana.chen@example.com", "", "manual", 5, True, {"plan": "pro"}),
    ]
    rows = {}
    for phone, first, last, email, reason, signup, sends, workflow, fields in specs:
        contact = ContactFactory(phone_number=phone, first_name=first, last_name=last, email=email)
        rows[first + last] = ListContactFactory(
            sending_list=sending_list,
            contact=contact,
            active=not reason,
            unsub_reason=reason,
            opted_out_at=now if reason else None,
            signup_method=signup,
            send_count=sends,
            in_workflow=workflow,
            custom_fields=fields,
        )
    rows["AnaSmith"].contact.tags.add(vip)
    rows["DevPatel"].contact.tags.add(vip)
    ListContactFactory(send_count=99)  # on another list
    return sending_list, rows


def test_contacts_tab_lists_members_newest_first_with_formatted_phones(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/")

    assert response.status_code == 200
    assert row_phones(response) == [f"+1628555000{n}" for n in (5, 4, 3, 2, 1)]
    html = response.content.decode()
    assert "(628) 555-0005" in html
    assert '<span class="badge complaint">Complaint</span>' in html
    assert '<span class="badge message">Opted-out</span>' in html
    assert "/imports/new/?list=" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "active"}, [5, 3, 1]),
        ({"status": "message"}, [2]),
        ({"status": "complaint"}, [4]),
        ({"unsub_reason": "complaint"}, [4]),
        ({"unsub_reason": "message"}, [2]),
        ({"signup_method": "import"}, [4, 1]),
        ({"signup_method": "journey"}, [3]),
        ({"in_workflow": "yes"}, [5, 3]),
        ({"in_workflow": "no"}, [4, 2, 1]),
        ({"tag": "vip"}, [4, 1]),
        ({"tag": "nope"}, []),
        ({"field": "plan", "value": "PRO"}, [5, 1]),
        ({"field": "score", "value": "70"}, [3]),
        ({"field": "score", "value": "7.0"}, [1]),
        ({"q": "(628) 555-0003"}, [3]),
        ({"q": "628.555.0002"}, [2]),
        ({"q": "+16285550004"}, [4]),
        ({"q": "16285550001"}, [1]),
        ({"q": "cleo@example.COM"}, [3]),
        ({"q": "smith"}, [3, 1]),
        ({"q": "ANA"}, [5, 1]),
        ({"q": "ana ch"}, [5]),
        ({"q": "zed"}, []),
        ({"status": "active", "signup_method": "import", "tag": "VIP"}, [1]),
    ],
)
def test_contacts_tab_filters(admin_client, members, query, expected):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", query)

    assert response.status_code == 200
    assert row_phones(response) == [f"+1628555000{n}" for n in expected]


def test_contacts_tab_search_finds_a_member_by_its_phone_channel(admin_client, members):
    sending_list, rows = members
    ContactChannel.objects.create(contact=rows["BenJones"].contact, kind="phone", value="+16285550099")

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"q": "(628) 555-0099"})

    assert row_phones(response) == ["+16285550002"]


def test_contacts_tab_search_says_how_it_matched(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"q": "(628) 555-0003"})

    assert "Searching by phone number +16285550003." in response.content.decode()


def test_contacts_tab_invalid_custom_field_value_shows_error_in_place_and_no_rows(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"field": "plan", "value": "gold"})

    assert response.status_code == 200
    assert response.context["page"].rows == []
    assert response.context["form"].errors == {"value": ["Plan: 'gold' is not one of: free, pro."]}
    assert "Plan: &#x27;gold&#x27; is not one of: free, pro." in response.content.decode()


def test_contacts_tab_unknown_custom_field_is_a_field_error(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"field": "nope", "value": "1"})

    assert response.context["page"].rows == []
    assert "field" in response.context["form"].errors


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("-send_count", [2, 5, 1, 4, 3]), ("send_count", [3, 4, 1, 5, 2]), ("-id", [5, 4, 3, 2, 1])],
)
def test_contacts_tab_sorts_on_engagement_columns(admin_client, members, ordering, expected):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"ordering": ordering})

    assert row_phones(response) == [f"+1628555000{n}" for n in expected]


def test_contacts_tab_sorts_never_sent_last_in_both_directions(admin_client):
    sending_list = SendingListFactory()
    now = timezone.now()
    never = ListContactFactory(sending_list=sending_list, last_sent_at=None)
    old = ListContactFactory(sending_list=sending_list, last_sent_at=now - dt.timedelta(days=2))
    new = ListContactFactory(sending_list=sending_list, last_sent_at=now)

    newest_first = admin_client.get(f"/lists/{sending_list.pk}/", {"ordering": "-last_sent_at"})
    oldest_first = admin_client.get(f"/lists/{sending_list.pk}/", {"ordering": "last_sent_at"})

    assert [m.pk for m in newest_first.context["page"].rows] == [new.pk, old.pk, never.pk]
    assert [m.pk for m in oldest_first.context["page"].rows] == [old.pk, new.pk, never.pk]


def test_contacts_tab_pages_forward_and_back(admin_client):
    sending_list = SendingListFactory()
    contacts = ContactFactory.create_batch(120)
    ListContact.objects.bulk_create(
        ListContact(
            sending_list=sending_list,
            contact=c,
            signup_method="api",
            subscribed_at=timezone.now(),
            status_changed_at=timezone.now(),
        )
        for c in contacts
    )
    newest_first = list(
        ListContact.objects.filter(sending_list=sending_list).order_by("-id").values_list("pk", flat=True)
    )
    url = f"/lists/{sending_list.pk}/"

    first = admin_client.get(url)
    second = admin_client.get(url, {"after": first.context["page"].next_cursor})
    third = admin_client.get(url, {"after": second.context["page"].next_cursor})
    back = admin_client.get(url, {"before": third.context["page"].previous_cursor})

    pks = [[m.pk for m in r.context["page"].rows] for r in (first, second, third, back)]
    assert pks == [newest_first[:50], newest_first[50:100], newest_first[100:], newest_first[50:100]]
    assert third.context["page"].next_cursor is None
    html = second.content.decode()
    assert 'rel="next"' in html and 'rel="prev"' in html


def test_contacts_tab_page_links_keep_filters_and_sort(admin_client, members):
    sending_list, _ = members
    ListContact.objects.filter(sending_list=sending_list).update(send_count=1)
    for _ in range(55):
        ListContactFactory(sending_list=sending_list, signup_method="import", send_count=2)

    response = admin_client.get(
        f"/lists/{sending_list.pk}/", {"signup_method": "import", "ordering": "-send_count"}
    )

    next_link = re.search(r'rel="next" href="\?([^"]+)"', response.content.decode()).group(1)
    assert "signup_method=import" in next_link
    assert "ordering=-send_count" in next_link
    assert "after=" in next_link


def test_contacts_tab_invalid_cursor_shows_first_page_with_warning(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"after": "not-a-cursor"}, follow=True)

    assert row_phones(response) == [f"+1628555000{n}" for n in (5, 4, 3, 2, 1)]
    assert "This page link is invalid or out of date; showing the first page." in response.content.decode()


def test_contacts_tab_empty_list_shows_empty_state(admin_client):
    sending_list = SendingListFactory()

    html = admin_client.get(f"/lists/{sending_list.pk}/").content.decode()

    assert "No contacts on this list yet" in html


def test_contacts_tab_no_match_shows_empty_state(admin_client, members):
    sending_list, _ = members

    html = admin_client.get(f"/lists/{sending_list.pk}/", {"q": "nobody"}).content.decode()

    assert "No contacts match" in html


def test_contacts_tab_query_count_does_not_grow_with_rows(client, django_assert_max_num_queries):
    client.force_login(staff_with(*VIEW_PERMISSIONS))
    small, large = SendingListFactory(), SendingListFactory()
    tag = Tag.objects.create(name="vip")
    for sending_list, size in ((small, 3), (large, 80)):
        CustomFieldFactory(sending_list=sending_list, key="plan")
        for _ in range(size):
            membership = ListContactFactory(sending_list=sending_list, custom_fields={"plan": "pro"})
            membership.contact.tags.add(tag)
        contact_block(contact=membership.contact, actor=SYSTEM)

    # session, user, permissions (2), list, custom fields, counts, tag lookup, page (+1 past NULLs)
    for sending_list in (small, large):
        for query in ({}, {"tag": "vip", "field": "plan", "value": "pro", "ordering": "-last_sent_at"}):
            # + 2 grouped queries of the opt-out chart when its cache is cold
            with django_assert_max_num_queries(12):
                response = client.get(f"/lists/{sending_list.pk}/", query)
            assert len(response.context["page"].rows) == (3 if sending_list is small else 50)


@pytest.fixture
def blocked_members(members):
    """`members` with Ana Smith (active) and Ben Jones (opted out by STOP) blocked."""
    sending_list, rows = members
    for name in ("AnaSmith", "BenJones"):
        contact_block(contact=rows[name].contact, actor=SYSTEM)
    return sending_list, rows


def test_contacts_tab_reads_blocked_members_as_blocked(admin_client, blocked_members):
    sending_list, rows = blocked_members

    response = admin_client.get(f"/lists/{sending_list.pk}/")

    html = response.content.decode()
    badges = re.findall(r'<span class="badge ([a-z_]+)">([^<]+)</span>', html)
    assert badges == [
        ("active", "Active"),
        ("complaint", "Complaint"),
        ("active", "Active"),
        ("blocked", "Blocked (Opted-out)"),
        ("blocked", "Blocked"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "blocked"}, [2, 1]),
        ({"status": "active"}, [5, 3]),
        ({"status": "message"}, []),
        ({"status": "complaint"}, [4]),
        ({"unsub_reason": "message"}, [2]),  # the reason is the membership's own
        ({"status": "blocked", "tag": "vip"}, [1]),
    ],
)
def test_contacts_tab_status_filter_reads_blocked_members_as_blocked(
    admin_client, blocked_members, query, expected
):
    sending_list, _ = blocked_members

    response = admin_client.get(f"/lists/{sending_list.pk}/", query)

    assert response.status_code == 200
    assert row_phones(response) == [f"+1628555000{n}" for n in expected]
    assert '<option value="blocked"' in response.content.decode()


def test_contacts_tab_counts_blocked_members_as_blocked(admin_client, blocked_members):
    sending_list, _ = blocked_members
    # The maintained counts as the services keep them: a block changes no membership.
    ListStatusCount.objects.bulk_create(
        ListStatusCount(sending_list=sending_list, status=status, count=count)
        for status, count in {"active": 3, "message": 1, "complaint": 1}.items()
    )

    response = admin_client.get(f"/lists/{sending_list.pk}/")

    summary = response.context["summary"]
    assert {value: count for value, _label, count in summary.status_rows if count} == {
        "active": 2,
        "complaint": 1,
        "blocked": 2,
    }
    assert (summary.total, summary.active, summary.opted_out) == (5, 2, 1)
    assert "Blocked" in [label for _value, label, _count in summary.status_rows]


def test_list_member_counts_move_blocked_members_per_list(blocked_members):
    sending_list, rows = blocked_members
    other = SendingListFactory()
    ListContactFactory(sending_list=other, contact=rows["AnaSmith"].contact)  # blocked on both lists
    ListStatusCount.objects.bulk_create(
        [
            ListStatusCount(sending_list=sending_list, status="active", count=3),
            ListStatusCount(sending_list=sending_list, status="message", count=1),
            ListStatusCount(sending_list=other, status="active", count=1),
        ]
    )

    counts = list_member_counts(sending_list_ids=[sending_list.pk, other.pk])

    assert counts[sending_list.pk] == {
        "active": 2,
        "message": 0,
        "bad_response": 0,
        "invalid_contact": 0,
        "manual": 0,
        "complaint": 0,
        "blocked": 2,
    }
    assert (counts[other.pk]["active"], counts[other.pk]["blocked"]) == (0, 1)


def test_lists_page_active_count_leaves_out_blocked_members(admin_client, blocked_members):
    sending_list, _ = blocked_members
    ListStatusCount.objects.create(sending_list=sending_list, status="active", count=3)

    response = admin_client.get("/lists/")

    (summary,) = [s for s in response.context["summaries"] if s.sending_list == sending_list]
    assert (summary.active, summary.counts["blocked"]) == (2, 2)


def test_view_only_staff_sees_no_import_button(client, viewer, members):
    sending_list, _ = members

    html = client.get(f"/lists/{sending_list.pk}/").content.decode()

    assert "/imports/new/" not in html


def test_importer_sees_the_import_button(client, members):
    sending_list, _ = members
    client.force_login(staff_with(*VIEW_PERMISSIONS, "sendinglists.add_importjob", username="importer"))

    html = client.get(f"/lists/{sending_list.pk}/").content.decode()

    assert f'href="/imports/new/?list={sending_list.pk}"' in html


def test_contacts_tab_header_shows_maintained_counts(admin_client):
    sending_list = SendingListFactory()
    contacts = ContactFactory.create_batch(3)
    for contact in contacts:
        list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM)
    list_contact_opt_out(
        membership=ListContact.objects.get(contact=contacts[0]), reason="message", actor=SYSTEM
    )

    response = admin_client.get(f"/lists/{sending_list.pk}/")

    summary = response.context["summary"]
    assert (summary.total, summary.active, summary.opted_out) == (3, 2, 1)


# --- the custom fields tab ------------------------------------------------------------------------


def test_fields_tab_lists_the_fields(admin_client):
    sending_list = SendingListFactory()
    CustomField.objects.create(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )

    response = admin_client.get(f"/lists/{sending_list.pk}/fields/")

    html = response.content.decode()
    assert "<code>plan</code>" in html
    assert "free, pro" in html


def test_fields_tab_adds_a_field(admin_client):
    sending_list = SendingListFactory()

    response = admin_client.post(
        f"/lists/{sending_list.pk}/fields/",
        {"key": "tier", "label": "Tier", "field_type": "choice", "choices": "gold, silver"},
        follow=True,
    )

    field = CustomField.objects.get(sending_list=sending_list)
    assert (field.key, field.label, field.field_type, field.choices) == (
        "tier",
        "Tier",
        "choice",
        ["gold", "silver"],
    )
    assert "Custom field “Tier” (tier) added." in response.content.decode()


def test_fields_tab_duplicate_key_shows_error_in_place(admin_client):
    sending_list = SendingListFactory()
    CustomFieldFactory(sending_list=sending_list, key="plan")

    response = admin_client.post(f"/lists/{sending_list.pk}/fields/", {"key": "plan", "field_type": "text"})

    assert response.status_code == 400
    assert response.context["form"].errors == {"key": ["This list already has a custom field 'plan'."]}
    assert CustomField.objects.filter(sending_list=sending_list).count() == 1


def test_fields_tab_choice_field_without_choices_is_an_error(admin_client):
    sending_list = SendingListFactory()

    response = admin_client.post(f"/lists/{sending_list.pk}/fields/", {"key": "tier", "field_type": "choice"})

    assert response.context["form"].errors == {"choices": ["A choice field needs at least one choice."]}
    assert not CustomField.objects.filter(sending_list=sending_list).exists()


def test_view_only_staff_sees_no_add_field_form_and_gets_403_on_post(client, viewer):
    sending_list = SendingListFactory()

    html = client.get(f"/lists/{sending_list.pk}/fields/").content.decode()
    response = client.post(f"/lists/{sending_list.pk}/fields/", {"key": "tier", "field_type": "text"})

    assert "Add a custom field" not in html
    assert response.status_code == 403
    assert not CustomField.objects.filter(sending_list=sending_list).exists()


def test_contacts_tab_unknown_sort_order_is_an_error_not_a_crash(admin_client, members):
    sending_list, _ = members

    response = admin_client.get(f"/lists/{sending_list.pk}/", {"ordering": "password"})

    assert response.status_code == 200
    assert response.context["page"].rows == []
    assert "Select a valid choice. password is not one of the available choices." in response.content.decode()


def test_fields_tab_refuses_a_field_over_the_list_limit(admin_client, settings):
    settings.CUSTOM_FIELDS_PER_LIST_MAX = 1
    sending_list = SendingListFactory(name="Acme")
    CustomFieldFactory(sending_list=sending_list, key="plan")

    response = admin_client.post(f"/lists/{sending_list.pk}/fields/", {"key": "tier", "field_type": "text"})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "A list can have at most 1 custom fields (CUSTOM_FIELDS_PER_LIST_MAX): 'Acme' has 1, and 1 more would make 2."
    ]
    assert CustomField.objects.filter(sending_list=sending_list).count() == 1
