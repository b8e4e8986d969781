"""The membership and subscription-event admins (sendinglists/subscriptions/admin.py): search by
phone, the status filter, audited unsubscribe and resubscribe actions, a filtered export."""

import pytest

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, MembershipStatus, UnsubReason
from sendinglists.contacts.services import contact_block
from sendinglists.lists.services import custom_field_create, list_status_counts
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.admin_forms import _action, _changelist, _export, _results, _subscribe
from tests.factories import ContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db


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
