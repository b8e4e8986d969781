"""The operator review queue of messages that read like an opt-out."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from engagement.models import Message
from sendinglists.actors import Actor
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.support import PHONE, receive
from tests.factories import ContactFactory, UserFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def flagged(sending_list):
    contact = ContactFactory(phone_number=PHONE)
    list_contact_subscribe(sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM)
    return receive("Please remove me from this list").message


def test_the_queue_lists_flagged_messages_newest_first_with_one_query_per_page(
    staff_client, sending_list, flagged, django_assert_max_num_queries
):
    newer = receive("wrong number", phone="+14155550999").message
    receive("STOP", phone="+14155550998")  # a keyword: acted on, not flagged

    with django_assert_max_num_queries(4):  # session, user, the page of messages (joined)
        response = staff_client.get("/messages/review/")

    assert response.status_code == 200
    assert [m.pk for m in response.context["messages_to_review"]] == [newer.pk, flagged.pk]
    html = response.content.decode()
    assert "Please remove me from this list" in html
    assert "wrong number" in html


def test_one_click_opt_out_opts_the_contact_out_naming_the_operator(
    staff_client, staff_user, sending_list, flagged
):
    response = staff_client.post(f"/messages/{flagged.pk}/review/opt-out/", follow=True)

    assert response.status_code == 200
    assert f"{PHONE} is opted out of Acme Deals." in response.content.decode()
    membership = ListContact.objects.get()
    assert (membership.active, membership.unsub_reason) == (False, "message")
    event = SubscriptionEvent.objects.get(kind="opted_out")
    assert (event.actor_kind, event.user_id) == ("user", staff_user.pk)
    assert f"#{flagged.pk}" in event.note
    flagged.refresh_from_db()
    assert (flagged.needs_review, flagged.reviewed_by_id) == (False, staff_user.pk)
    assert staff_client.get("/messages/review/").context["messages_to_review"] == []


def test_opting_out_a_non_member_records_the_opt_out(staff_client, sending_list):
    message = receive("please stop", phone="+14155550777").message

    staff_client.post(f"/messages/{message.pk}/review/opt-out/")

    membership = ListContact.objects.get(contact__phone_number="+14155550777")
    assert (membership.active, membership.unsub_reason) == (False, "message")


def test_dismiss_clears_the_flag_and_changes_no_membership(staff_client, staff_user, sending_list, flagged):
    response = staff_client.post(f"/messages/{flagged.pk}/review/dismiss/")

    assert response.status_code == 302
    flagged.refresh_from_db()
    assert (flagged.needs_review, flagged.reviewed_by_id, flagged.reviewed_at is not None) == (
        False,
        staff_user.pk,
        True,
    )
    assert ListContact.objects.get().active is True
    assert not SubscriptionEvent.objects.filter(kind="opted_out").exists()


def test_a_second_click_on_a_reviewed_message_changes_nothing(staff_client, sending_list, flagged):
    staff_client.post(f"/messages/{flagged.pk}/review/dismiss/")
    response = staff_client.post(f"/messages/{flagged.pk}/review/opt-out/", follow=True)

    assert f"Message #{flagged.pk} was already reviewed." in response.content.decode()
    assert ListContact.objects.get().active is True


def test_the_queue_needs_a_staff_login_and_actions_need_post(sending_list, flagged):
    anonymous = Client()
    assert anonymous.get("/messages/review/").status_code == 302
    assert anonymous.post(f"/messages/{flagged.pk}/review/opt-out/").status_code == 302
    member = Client()
    member.force_login(UserFactory(username="clerk", is_staff=False))
    assert member.get("/messages/review/").status_code == 302

    staff = Client()
    staff.force_login(staff_with("boss", "sendinglists.change_listcontact", "engagement.view_message"))
    assert staff.get(f"/messages/{flagged.pk}/review/opt-out/").status_code == 405
    assert ListContact.objects.get().active is True
    assert Message.objects.get(pk=flagged.pk).needs_review is True


def test_the_queue_pages_by_id(staff_client, sending_list, flagged, monkeypatch):
    monkeypatch.setattr("engagement.views.REVIEW_PAGE_SIZE", 1)
    newer = receive("wrong number", phone="+14155550999").message

    first = staff_client.get("/messages/review/")
    second = staff_client.get(f"/messages/review/?before={first.context['next_before']}")

    assert [m.pk for m in first.context["messages_to_review"]] == [newer.pk]
    assert [m.pk for m in second.context["messages_to_review"]] == [flagged.pk]
    assert second.context["next_before"] is None


def staff_with(username: str, *permissions: str):
    user = UserFactory(username=username, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_without_view_message_cannot_read_the_queue_or_act_on_it(sending_list, flagged):
    client = client_of(staff_with("nosy", "sendinglists.view_sendinglist", "sendinglists.change_listcontact"))

    response = client.get("/messages/review/")
    assert response.status_code == 403
    assert b"Please remove me" not in response.content
    assert b"/messages/review/" not in client.get("/lists/").content
    assert client.post(f"/messages/{flagged.pk}/review/opt-out/").status_code == 403
    assert client.post(f"/messages/{flagged.pk}/review/dismiss/").status_code == 403
    assert ListContact.objects.get().active is True
    assert not SubscriptionEvent.objects.filter(kind="opted_out").exists()
    flagged.refresh_from_db()
    assert (flagged.needs_review, flagged.reviewed_by_id) == (True, None)


def test_staff_who_may_only_read_messages_sees_the_queue_without_buttons_and_cannot_act(
    sending_list, flagged
):
    client = client_of(staff_with("reader", "sendinglists.view_sendinglist", "engagement.view_message"))

    response = client.get("/messages/review/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Please remove me from this list" in html
    assert "/review/opt-out/" not in html
    assert "/review/dismiss/" not in html
    assert 'href="/messages/review/"' in client.get("/lists/").content.decode()
    assert client.post(f"/messages/{flagged.pk}/review/opt-out/").status_code == 403
    assert client.post(f"/messages/{flagged.pk}/review/dismiss/").status_code == 403
    assert ListContact.objects.get().active is True
    flagged.refresh_from_db()
    assert (flagged.needs_review, flagged.reviewed_by_id) == (True, None)


def test_opting_out_from_the_queue_needs_change_listcontact_and_dismissing_needs_change_message(
    sending_list, flagged
):
    dismisser = staff_with("dismisser", "engagement.view_message", "engagement.change_message")
    client = client_of(dismisser)

    html = client.get("/messages/review/").content.decode()
    assert "/review/opt-out/" not in html
    assert f"/messages/{flagged.pk}/review/dismiss/" in html
    assert client.post(f"/messages/{flagged.pk}/review/opt-out/").status_code == 403
    assert ListContact.objects.get().active is True

    opter = client_of(staff_with("opter", "engagement.view_message", "sendinglists.change_listcontact"))
    html = opter.get("/messages/review/").content.decode()
    assert f"/messages/{flagged.pk}/review/opt-out/" in html
    assert "/review/dismiss/" not in html
    assert opter.post(f"/messages/{flagged.pk}/review/dismiss/").status_code == 403
    flagged.refresh_from_db()
    assert flagged.needs_review is True

    assert opter.post(f"/messages/{flagged.pk}/review/opt-out/").status_code == 302
    assert ListContact.objects.get().active is False
