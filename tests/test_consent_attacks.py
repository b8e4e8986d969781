"""Outside review: attacks on the consent promise, token scoping and the send service.

Each test asserts the CORRECT behaviour: a failing test is a finding.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, TestCase
from django.utils import timezone

from contacts.choices import SuppressionKind
from contacts.models import Contact, NumberSuppression
from engagement.services.outbound import SendRefused, message_send
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, UnsubReason
from sendinglists.contacts.services import contact_block, contact_delete
from sendinglists.models import ListContact, SendingList, SubscriptionEvent
from sendinglists.subscriptions.consent import suppression_standing
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.conftest import sms_outbox  # noqa: F401 - autouse: sends go to the outbox
from tests.engagement.support import json_post, receive, twilio_post
from tests.factories import SendingListFactory
from tests.sendinglists.imports.conftest import csv_file, run_import

SYSTEM = Actor.system("attack")
L1_NUMBER = "+18005550100"
L2_NUMBER = "+18005550199"
PHONE = "+14155550123"


@pytest.fixture
def l1(db):
    return SendingListFactory(phone_number=L1_NUMBER, name="Acme Deals")


@pytest.fixture
def l2(db):
    return SendingListFactory(phone_number=L2_NUMBER, name="Acme News")


@pytest.fixture
def make_client(db):
    from rest_framework.test import APIClient

    from sendinglists.tokens.services import api_token_create

    def make(*, read_only=False, sending_lists=(), name="attacker"):
        token, key = api_token_create(name=name, read_only=read_only, sending_lists=sending_lists)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token = token
        return client

    return make


@pytest.fixture
def web():
    return Client()


def subscribe(sending_list, phone=PHONE):
    contact, _ = Contact.objects.get_or_create(phone_number=phone)
    result = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    )
    return contact, result


def membership(sending_list, phone=PHONE):
    return ListContact.objects.filter(sending_list=sending_list, contact__phone_number=phone).first()


def suppressed(sending_list, phone=PHONE) -> bool:
    return suppression_standing(sending_list_id=sending_list.pk, phone_number=phone) is not None


def inbound_event(web, body, *, frm=PHONE, to=L1_NUMBER, sid, timestamp=None):
    payload = {"type": "inbound", "id": sid, "from": frm, "to": to, "body": body}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return json_post(web, payload)


# --- future-dated events ------------------------------------------------------------------------


def soon() -> str:
    """A timestamp a fast provider clock might send: within the replay window, ahead of ours."""
    return (timezone.now() + dt.timedelta(seconds=120)).isoformat()


def test_a_far_future_keyword_is_refused_and_changes_nothing(l1, web):
    subscribe(l1)
    list_contact_opt_out(membership=membership(l1), reason=UnsubReason.MESSAGE, actor=SYSTEM)

    response = inbound_event(web, "START", sid="SMfuture1", timestamp="2099-01-01T00:00:00Z")

    assert response.status_code == 400
    assert response.json()["error"] == "timestamp: is in the future; send the time the event happened."
    assert membership(l1).active is False
    assert suppressed(l1)


def test_a_start_from_a_fast_clock_does_not_make_a_later_api_unsubscribe_a_no_op(l1, web, make_client):
    """A provider START a little ahead of our clock is kept at now: a later opt-out still applies."""
    subscribe(l1)
    list_contact_opt_out(membership=membership(l1), reason=UnsubReason.MESSAGE, actor=SYSTEM)
    response = inbound_event(web, "START", sid="SMfuture1", timestamp=soon())
    assert response.status_code in (200, 202), response.content
    assert membership(l1).active  # the START resubscribed

    api = make_client()
    contact_id = membership(l1).contact_id
    response = api.post(f"/api/v1/lists/{l1.pk}/contacts/{contact_id}/unsubscribe/", {}, format="json")
    assert response.status_code == 200, response.content
    assert membership(l1).active is False, response.json()
    assert suppressed(l1)


def test_a_start_from_a_fast_clock_does_not_defeat_an_opt_out_file(l1, web):
    subscribe(l1)
    list_contact_opt_out(membership=membership(l1), reason=UnsubReason.MESSAGE, actor=SYSTEM)
    inbound_event(web, "START", sid="SMfuture2", timestamp=soon())
    assert membership(l1).active

    job = run_import(l1, f"phone\n{PHONE}\n", mode="opt_out")
    assert job.status == "completed", job.status
    assert membership(l1).active is False
    assert suppressed(l1)


def test_a_start_from_a_fast_clock_then_a_stop_from_the_same_clock_opts_out(l1, web):
    inbound_event(web, "START", sid="SMfuture3", timestamp=soon())
    assert membership(l1).active
    later = (timezone.now() + dt.timedelta(seconds=121)).isoformat()
    inbound_event(web, "STOP", sid="SMfuture4", timestamp=later)  # the person's STOP, a second later
    contact = Contact.objects.get(phone_number=PHONE)
    assert membership(l1).active is False
    with pytest.raises(SendRefused):
        message_send(sending_list=l1, contact=contact, body="Sale!")


# --- STOPALL and lists created later ------------------------------------------------------------


def test_stopall_then_start_on_one_list_still_suppresses_a_list_created_later(l1, l2):
    receive("STOPALL", to=L1_NUMBER, phone=PHONE)
    receive("START", to=L1_NUMBER, phone=PHONE)
    assert membership(l1).active
    l3 = SendingListFactory(phone_number="+18005550150", name="Acme Later")
    # The STOPALL still stands on every list but L1, present and future.
    assert suppressed(l2)
    assert suppressed(l3)
    _, result = subscribe(l3)
    assert result.outcome != "created"


def test_stopall_on_list_created_later_blocks_import(l1):
    receive("STOPALL", to=L1_NUMBER, phone=PHONE)
    l3 = SendingListFactory(phone_number="+18005550151", name="Acme Later")
    job = run_import(l3, f"phone\n{PHONE}\n")
    assert not ListContact.objects.filter(sending_list=l3, active=True).exists(), job.__dict__


# --- out-of-order keywords under deleted contacts ----------------------------------------------


def test_late_older_start_after_contact_deleted_does_not_lift_newer_stop(l1):
    now = timezone.now()
    receive("STOP", to=L1_NUMBER, phone=PHONE, at=now)
    contact_delete(contact=Contact.objects.get(phone_number=PHONE))
    receive("START", to=L1_NUMBER, phone=PHONE, at=now - dt.timedelta(minutes=5))
    assert suppressed(l1)
    m = membership(l1)
    assert m is None or m.active is False


def test_late_older_start_after_stopall_and_delete(l1, l2):
    now = timezone.now()
    receive("STOPALL", to=L2_NUMBER, phone=PHONE, at=now)
    contact_delete(contact=Contact.objects.get(phone_number=PHONE))
    receive("START", to=L1_NUMBER, phone=PHONE, at=now - dt.timedelta(minutes=5))
    assert suppressed(l1)
    m = membership(l1)
    assert m is None or m.active is False


def test_older_stopall_arriving_after_newer_start_keeps_other_lists(l1, l2):
    now = timezone.now()
    subscribe(l2)
    receive("START", to=L1_NUMBER, phone=PHONE, at=now)
    receive("STOPALL", to=L1_NUMBER, phone=PHONE, at=now - dt.timedelta(minutes=5))
    assert membership(l1).active
    assert not suppressed(l1)
    assert membership(l2).active is False
    assert suppressed(l2)


def test_replayed_stop_after_start_changes_nothing(l1, web):
    subscribe(l1)
    inbound_event(web, "STOP", sid="SMreplay1")
    inbound_event(web, "START", sid="SMreplay2")
    assert membership(l1).active
    inbound_event(web, "STOP", sid="SMreplay1")  # a replay of the first STOP
    assert membership(l1).active
    assert not suppressed(l1)


# --- token scoping ------------------------------------------------------------------------------


def test_scoped_token_cannot_learn_a_number_is_on_another_list(l1, l2, make_client):
    """The upsert's `ignored_fields` answer tells a list-scoped token that some other list holds
    the number: other lists' data."""
    subscribe(l2, "+14155550177")
    api = make_client(sending_lists=[l1])
    held = api.post(
        f"/api/v1/lists/{l1.pk}/contacts/", {"phone_number": "+14155550177", "first_name": "X"}, format="json"
    ).json()
    fresh = api.post(
        f"/api/v1/lists/{l1.pk}/contacts/", {"phone_number": "+14155550178", "first_name": "X"}, format="json"
    ).json()
    assert set(held) == set(fresh), (held, fresh)
    # (was `held["membership"]["first_name"] == "X" or True`: a KeyError, the names are on the
    # membership's contact) The same shape all the way down.
    assert set(held["membership"]["contact"]) == set(fresh["membership"]["contact"]), (held, fresh)
    # Nothing in the answer for the shared contact reveals the other list.
    assert "ignored_fields" not in held


def test_scoped_token_sees_other_lists_contact_details_after_subscribing_by_phone(l1, l2, make_client):
    contact, _ = subscribe(l2, "+14155550179")
    Contact.objects.filter(pk=contact.pk).update(first_name="Secret", email="secret@example.com")
    api = make_client(sending_lists=[l1])
    body = api.post(
        f"/api/v1/lists/{l1.pk}/contacts/", {"phone_number": "+14155550179"}, format="json"
    ).json()
    text = str(body)
    assert "Secret" not in text and "secret@example.com" not in text, body


def test_token_whose_lists_were_deleted_sees_nothing(l1, l2, make_client):
    subscribe(l1, "+14155550181")
    subscribe(l2, "+14155550182")
    temp = SendingListFactory(phone_number="+18005550160", name="Temp")
    api = make_client(sending_lists=[temp])
    temp.delete()
    assert api.get("/api/v1/contacts/").json()["results"] == []
    assert api.get("/api/v2/contacts/").json()["results"] == []
    assert api.get("/api/v1/lists/").json()["results"] == []
    assert api.get(f"/api/v1/lists/{l1.pk}/contacts/").status_code == 404
    response = api.post(f"/api/v1/lists/{l1.pk}/contacts/", {"phone_number": "+14155550183"}, format="json")
    assert response.status_code in (403, 404)
    assert not Contact.objects.filter(phone_number="+14155550183").exists()


def test_scoped_token_bulk_cannot_write_contact_other_list_holds(l1, l2, make_client):
    contact, _ = subscribe(l2, "+14155550184")
    Contact.objects.filter(pk=contact.pk).update(first_name="Orig")
    api = make_client(sending_lists=[l1])
    api.post(
        "/api/v1/contacts/bulk/",
        {
            "sending_list": l1.pk,
            "contacts": [{"phone_number": "+14155550184", "first_name": "Evil", "tags": ["x"]}],
        },
        format="json",
    )
    contact.refresh_from_db()
    assert contact.first_name == "Orig"
    assert not contact.tags.exists()


def test_scoped_token_import_cannot_write_contact_other_list_holds(l1, l2, make_client):
    contact, _ = subscribe(l2, "+14155550185")
    Contact.objects.filter(pk=contact.pk).update(first_name="Orig", email="orig@example.com")
    api = make_client(sending_lists=[l1])
    upload = csv_file("phone,first_name,email,tags\n+14155550185,Evil,evil@example.com,x\n")
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post(
            "/api/v1/imports/",
            {
                "file": upload,
                "sending_list": l1.pk,
                "consent_attestation": "Signed up at the till.",
                "start": True,
            },
            format="multipart",
        )
    assert response.status_code in (201, 200, 202), response.content
    assert ListContact.objects.filter(sending_list=l1, contact=contact, active=True).exists()
    contact.refresh_from_db()
    assert (contact.first_name, contact.email) == ("Orig", "orig@example.com")
    assert not contact.tags.exists()


def test_scoped_token_contact_filter_cannot_probe_other_lists_status(l1, l2, make_client):
    """Filter `status=unsubscribed` must consider only the token's lists."""
    contact, _ = subscribe(l1, "+14155550186")
    subscribe(l2, "+14155550186")
    list_contact_opt_out(membership=membership(l1, "+14155550186"), reason="manual", actor=SYSTEM)
    api = make_client(sending_lists=[l1])
    ids = [c["id"] for c in api.get("/api/v1/contacts/?status=unsubscribed").json()["results"]]
    assert ids == [contact.pk]
    body = api.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert body["status"] == "unsubscribed"
    assert [s["sending_list"] for s in body["subscriptions"]] == [l1.pk]


# --- the send service ---------------------------------------------------------------------------


def test_send_refuses_number_blocked_under_a_deleted_contact_even_if_channel(l1):
    contact, _ = subscribe(l1)
    contact_block(contact=contact, actor=SYSTEM)
    contact_delete(contact=contact)
    again, result = subscribe(l1)
    with pytest.raises(SendRefused):
        message_send(sending_list=l1, contact=again, body="Sale!")


def test_send_refuses_after_stopall_even_when_member_active_elsewhere(l1, l2):
    subscribe(l1)
    subscribe(l2)
    receive("STOPALL", to=L2_NUMBER, phone=PHONE)
    contact = Contact.objects.get(phone_number=PHONE)
    for sending_list in (l1, l2):
        with pytest.raises(SendRefused):
            message_send(sending_list=sending_list, contact=contact, body="Sale!")


# --- ledger vs events ---------------------------------------------------------------------------


def _ledger_from_events():
    """What the ledger should hold, replaying the events in order (list opt-outs, STOPALL, blocks)."""
    state = {}
    for event in SubscriptionEvent.objects.order_by("pk"):
        key_list = (event.phone_number, event.sending_list_id)
        if event.kind == EventKind.OPTED_OUT:
            state.setdefault(key_list, "opt_out")
        elif event.kind == EventKind.BLOCKED:
            state[(event.phone_number, "block")] = "block"
        elif event.kind == EventKind.UNBLOCKED:
            state.pop((event.phone_number, "block"), None)
        elif event.kind == EventKind.RESUBSCRIBED:
            state.pop(key_list, None)
            if (event.phone_number, None) in state:
                del state[(event.phone_number, None)]
                for sl in SendingList.objects.exclude(pk=event.sending_list_id):
                    state.setdefault((event.phone_number, sl.pk), "opt_out")
    return state


def test_ledger_has_a_row_for_every_opted_out_membership(l1, l2, web):
    subscribe(l1, "+14155550191")
    subscribe(l2, "+14155550191")
    receive("STOP", to=L1_NUMBER, phone="+14155550191")
    receive("STOPALL", to=L2_NUMBER, phone="+14155550192")
    subscribe(l1, "+14155550193")
    list_contact_opt_out(membership=membership(l1, "+14155550193"), reason="complaint", actor=SYSTEM)
    for m in ListContact.objects.filter(active=False).select_related("contact"):
        assert (
            suppression_standing(sending_list_id=m.sending_list_id, phone_number=m.contact.phone_number)
            is not None
        ), m


# --- batch 2: admin permissions, replays after deletion, displays, imports --------------------


def _staff(*perms):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory(
        username=f"partial{len(perms)}{'_'.join(p.split('.')[-1] for p in perms)}", is_staff=True
    )
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return user


def test_view_only_staff_cannot_resubscribe_with_the_admin_action(l1):
    contact, _ = subscribe(l1)
    list_contact_opt_out(membership=membership(l1), reason=UnsubReason.MESSAGE, actor=SYSTEM)
    user = _staff("sendinglists.view_listcontact")
    web = Client()
    web.force_login(user)
    response = web.post(
        "/admin/sendinglists/listcontact/",
        {
            "action": "resubscribe_audited",
            "_selected_action": [membership(l1).pk],
            "confirm": "yes",
            "note": "Customer asked by phone.",
        },
    )
    assert response.status_code in (200, 302, 403)
    assert suppressed(l1), "the view-only user's action lifted the ledger opt-out"
    assert membership(l1).active is False


def test_view_only_staff_cannot_unblock_with_the_admin_action(l1):
    contact, _ = subscribe(l1)
    contact_block(contact=contact, actor=SYSTEM)
    user = _staff("contacts.view_contact")
    web = Client()
    web.force_login(user)
    web.post("/admin/contacts/contact/", {"action": "unblock_contacts", "_selected_action": [contact.pk]})
    contact.refresh_from_db()
    assert contact.blocked
    assert NumberSuppression.objects.filter(phone_number=PHONE, kind=SuppressionKind.BLOCK).exists()


def test_view_only_staff_cannot_unsubscribe_or_block_with_admin_actions(l1):
    contact, _ = subscribe(l1)
    user = _staff("sendinglists.view_listcontact", "contacts.view_contact")
    web = Client()
    web.force_login(user)
    web.post(
        "/admin/sendinglists/listcontact/",
        {"action": "unsubscribe_manual", "_selected_action": [membership(l1).pk]},
    )
    web.post("/admin/contacts/contact/", {"action": "block_contacts", "_selected_action": [contact.pk]})
    contact.refresh_from_db()
    assert membership(l1).active is True
    assert contact.blocked is False


def test_replayed_twilio_start_after_contact_deleted_does_not_resubscribe(l1, web):
    params = {
        "MessageSid": "SM" + "s" * 32,
        "AccountSid": "AC1",
        "From": PHONE,
        "To": L1_NUMBER,
        "Body": "START",
    }
    assert twilio_post(web, "/webhooks/twilio/inbound", params).status_code == 200
    assert membership(l1).active
    stop = {**params, "MessageSid": "SM" + "t" * 32, "Body": "STOP"}
    assert twilio_post(web, "/webhooks/twilio/inbound", stop).status_code == 200
    assert membership(l1).active is False
    contact_delete(contact=Contact.objects.get(phone_number=PHONE))
    # The provider (or anyone holding the signed request) replays the old START.
    assert twilio_post(web, "/webhooks/twilio/inbound", params).status_code == 200
    m = membership(l1)
    assert m is None or m.active is False
    assert suppressed(l1)


def test_replayed_json_start_after_contact_deleted_does_not_resubscribe(l1, web):
    inbound_event(web, "START", sid="SMjs1")
    inbound_event(web, "STOP", sid="SMjs2")
    contact_delete(contact=Contact.objects.get(phone_number=PHONE))
    inbound_event(web, "START", sid="SMjs1")  # replay within the window, no event timestamp
    m = membership(l1)
    assert m is None or m.active is False


def test_blocked_member_not_counted_active_anywhere(l1, make_client):
    contact, _ = subscribe(l1)
    subscribe(l1, "+14155550124")
    contact_block(contact=contact, actor=SYSTEM)
    api = make_client()
    lists = api.get("/api/v1/lists/").json()["results"]
    row = next(r for r in lists if r["id"] == l1.pk)
    text = str(row)
    # The list's active count must be 1 (the blocked member is not active).
    counts = row.get("counts") or row
    active = counts.get("active", counts.get("active_count"))
    assert active == 1, row
    members = api.get(f"/api/v1/lists/{l1.pk}/contacts/?status=active").json()["results"]
    assert [m["contact"]["phone_number"] for m in members] == ["+14155550124"], members
    q = api.get(f"/api/v1/lists/{l1.pk}/contacts/", {"q": "status = active"}).json()["results"]
    assert [m["contact"]["phone_number"] for m in q] == ["+14155550124"], q
    created = api.post(
        f"/api/v1/lists/{l1.pk}/audiences/", {"name": "Actives", "query": "status = active"}, format="json"
    )
    assert created.status_code == 201, created.content
    aid = created.json()["id"]
    assert api.get(f"/api/v1/lists/{l1.pk}/audiences/{aid}/count").json()["count"] == 1
    page = api.get(f"/api/v1/lists/{l1.pk}/audiences/{aid}/contacts/").json()["results"]
    assert [m["contact"]["phone_number"] for m in page] == ["+14155550124"]
    assert text


def test_membership_of_blocked_contact_not_shown_active_in_api(l1, make_client):
    contact, _ = subscribe(l1)
    contact_block(contact=contact, actor=SYSTEM)
    api = make_client()
    body = api.get(f"/api/v1/lists/{l1.pk}/contacts/{contact.pk}/").json()
    assert body["status"] != "active", body
    page = api.get(f"/api/v1/lists/{l1.pk}/contacts/").json()["results"]
    assert page[0]["status"] != "active", page


def test_import_same_number_in_three_formats_with_opt_out_stays_out(l1):
    subscribe(l1)
    list_contact_opt_out(membership=membership(l1), reason=UnsubReason.MESSAGE, actor=SYSTEM)
    contact_delete(contact=Contact.objects.get(phone_number=PHONE))
    job = run_import(
        l1, "phone,first_name\n(415) 555-0123,A\n14155550123,B\n+1 415 555 0123,C\n4155550123,D\n"
    )
    assert job.status == "completed"
    assert not ListContact.objects.filter(sending_list=l1, active=True).exists()
    assert suppressed(l1)


def test_import_hostile_cells_do_not_crash_and_are_row_errors(l1):
    huge = "9" * 5000
    content = (
        "phone,first_name,email\n"
        f"{huge},Huge,\n"
        '=HYPERLINK("http://evil"),Formula,\n'
        "+14155550140,=1+2,\n"
        "1e308,Sci,\n"
        "-4155550142,Neg,\n"
    )
    job = run_import(l1, content)
    assert job.status == "completed", (job.status, getattr(job, "failure_reason", ""))
    assert job.errors >= 3


def test_import_number_that_is_another_contacts_channel(l1):
    from sendinglists.contacts.numbers import contact_channel_add_checked

    owner, _ = subscribe(l1, "+14155550150")
    # The channel number opted out of L1 under a deleted contact first.
    other, _ = subscribe(l1, "+14155550151")
    list_contact_opt_out(membership=membership(l1, "+14155550151"), reason="message", actor=SYSTEM)
    contact_delete(contact=other)
    with pytest.raises(ValidationError, match="opted out of"):
        contact_channel_add_checked(contact=owner, kind="phone", value="+14155550151")
    job = run_import(l1, "phone\n+14155550151\n+14155550150\n")
    assert job.status == "completed"
    assert not ListContact.objects.filter(
        sending_list=l1, contact__phone_number="+14155550151", active=True
    ).exists()


def test_v2_patch_phone_onto_opted_out_number_refused(l1, make_client):
    a, _ = subscribe(l1, "+14155550160")
    b, _ = subscribe(l1, "+14155550161")
    list_contact_opt_out(membership=membership(l1, "+14155550161"), reason="message", actor=SYSTEM)
    contact_delete(contact=b)
    api = make_client()
    response = api.patch(f"/api/v2/contacts/{a.uuid}", {"phone_number": "14155550161"}, format="json")
    assert response.status_code == 400, response.content
    a.refresh_from_db()
    assert a.phone_number == "+14155550160"


def test_rename_back_and_forth_keeps_opt_out(l1, make_client):
    a, _ = subscribe(l1, "+14155550170")
    list_contact_opt_out(membership=membership(l1, "+14155550170"), reason="message", actor=SYSTEM)
    api = make_client()
    assert (
        api.patch(f"/api/v1/contacts/{a.pk}/", {"phone_number": "+14155550171"}, format="json").status_code
        == 200
    )
    # a new contact takes the old number and subscribes via API
    r = api.post(f"/api/v1/lists/{l1.pk}/contacts/", {"phone_number": "+14155550170"}, format="json")
    assert r.json()["outcome"] == "skipped_opted_out", r.json()
    new = Contact.objects.get(phone_number="+14155550170")
    api.delete(f"/api/v1/contacts/{new.pk}/")
    assert (
        api.patch(f"/api/v1/contacts/{a.pk}/", {"phone_number": "+14155550170"}, format="json").status_code
        == 200
    )
    assert suppressed(l1, "+14155550170")
    r = api.post(f"/api/v1/lists/{l1.pk}/contacts/", {"contact_id": a.pk}, format="json")
    assert r.json()["outcome"] == "skipped_opted_out"
    assert membership(l1, "+14155550170").active is False


def test_complaint_after_contact_deleted_still_suppresses_the_number(l1, web):
    contact, _ = subscribe(l1)
    message = message_send(sending_list=l1, contact=contact, body="Sale!")
    assert message.provider_message_id
    contact_delete(contact=contact)
    response = json_post(web, {"type": "complaint", "id": message.provider_message_id})
    assert response.status_code in (200, 202), response.content
    assert suppressed(l1), response.json()


def test_carrier_opt_out_21610_after_contact_deleted_still_suppresses(l1, web):
    contact, _ = subscribe(l1)
    message = message_send(sending_list=l1, contact=contact, body="Sale!")
    contact_delete(contact=contact)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    response = twilio_post(web, "/webhooks/twilio/status", params)
    assert response.status_code in (200, 204), response.content
    assert suppressed(l1)


def test_complaint_opts_out_and_send_is_refused(l1, web):
    contact, _ = subscribe(l1)
    message = message_send(sending_list=l1, contact=contact, body="Sale!")
    json_post(web, {"type": "complaint", "id": message.provider_message_id})
    assert suppressed(l1)
    with pytest.raises(SendRefused):
        message_send(sending_list=l1, contact=contact, body="Again")
