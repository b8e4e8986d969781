"""Issue 17, attacked from outside through the real stack: list-scoped tokens, consent, hostile
input. One test per problem found. A problem not fixed yet is a strict xfail naming it (the issue's
note lists them): its test passes the day the product is fixed, and then fails until the mark goes."""

import pytest

from contacts.models import Contact, ContactChannel
from engagement.backends import locmem
from sendinglists.actors import Actor
from sendinglists.models import ListContact
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.engagement.support import LIST_NUMBER, receive
from tests.factories import ContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db


def open_problem(reason: str, *, condition: bool = True):
    return pytest.mark.xfail(condition, reason=f"open (issue 17): {reason}", strict=True)


SYSTEM = Actor.system("attack")


def subscribe(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership


@pytest.fixture
def world(make_client):
    mine, theirs = SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")
    member = ContactFactory(phone_number="+16285550301")
    subscribe(mine, member)
    outsider = ContactFactory(phone_number="+16285550302")
    subscribe(theirs, outsider)
    shared = ContactFactory(phone_number="+16285550304")
    subscribe(mine, shared)
    subscribe(theirs, shared)
    return {
        "mine": mine,
        "theirs": theirs,
        "member": member,
        "outsider": outsider,
        "shared": shared,
        "scoped": make_client(sending_lists=[mine]),
    }


def test_scoped_token_phone_change_names_the_out_of_scope_contact_holding_the_number(world):
    """A list-scoped token PATCHes its own contact's phone onto any number and the 400 says
    "already the phone number of contact #N": it learns that a number it may not see is a contact
    of another list, and that contact's id (tests/test_consent_attacks.py's
    test_scoped_token_cannot_learn_a_number_is_on_another_list is the rule)."""
    scoped, member, outsider = world["scoped"], world["member"], world["outsider"]

    response = scoped.patch(
        f"/api/v1/contact/{member.pk}", {"phone_number": outsider.phone_number}, format="json"
    )

    assert response.status_code == 400
    assert f"#{outsider.pk}" not in response.content.decode(), response.json()


def test_scoped_token_channel_add_names_the_out_of_scope_contact_holding_the_number(world):
    scoped, member, outsider = world["scoped"], world["member"], world["outsider"]

    response = scoped.post(
        f"/api/v2/contact/{member.uuid}/channels",
        {"kind": "phone", "value": outsider.phone_number},
        format="json",
    )

    assert response.status_code == 403  # no phone channel from a list-scoped token at all
    assert f"#{outsider.pk}" not in response.content.decode(), response.json()


def test_scoped_token_merge_retry_reveals_a_withheld_channel_of_a_shared_contact(world, client):
    """A full-access token merged another list's contact into a shared one. The list-scoped token
    sees the shared contact with its channels withheld, but "retrying" that merge (POST merge with
    the duplicate's id, guessable) replays the merge answer: the duplicate's id, uuid and number,
    which is now one of the shared contact's (withheld) channels."""
    scoped, shared = world["scoped"], world["shared"]
    duplicate = ContactFactory(phone_number="+16285550388")
    subscribe(world["theirs"], duplicate)
    assert (
        client.post(
            f"/api/v1/contact/{shared.pk}/merge", {"duplicate": duplicate.pk}, format="json"
        ).status_code
        == 200
    )
    seen = scoped.get(f"/api/v2/contact/{shared.uuid}").json()
    assert "channels" in seen["withheld_fields"] and seen["channels"] == []

    response = scoped.post(f"/api/v1/contact/{shared.pk}/merge", {"duplicate": duplicate.pk}, format="json")

    assert response.status_code == 403
    text = response.content.decode()
    assert "6285550388" not in text, response.json()


def test_merge_answer_on_seed_path_writes_the_duplicates_number_with_the_plus(client, world):
    """Seed 001's paths answer numbers as digits without the plus; the merge on
    /api/v1/contact/{id}/merge answers the survivor in digits but the duplicate's number (and so
    the survivor's new channel) with the plus, in one answer."""
    member = world["member"]
    duplicate = ContactFactory(phone_number="+16285550389")

    body = client.post(
        f"/api/v1/contact/{member.pk}/merge", {"duplicate": duplicate.pk}, format="json"
    ).json()

    assert body["contact"]["phone_number"] == "16285550301"
    assert body["duplicate"]["phone_number"] == "16285550389", body["duplicate"]


def test_start_from_a_contacts_own_phone_lifts_the_stop_of_a_number_attached_to_it(make_client):
    """Consent belongs to the number. X sent STOP to the list; an operator attaches X as a phone
    channel to an unrelated contact C that is not on the list (allowed: C is active nowhere
    there). C's own phone sends START: the ledger lifts X's opt-out too, though X never sent
    START. Detach X, create it again: it is subscribed and messaged."""
    locmem.outbox.clear()
    sending_list = SendingListFactory(phone_number=LIST_NUMBER, name="Deals")
    stopped = "+14155550888"
    receive("STOP", phone=stopped)  # a number nobody held: the ledger keeps its opt-out
    Contact.objects.filter(phone_number=stopped).delete()
    api = make_client()
    c = api.post("/api/v1/contact", {"phone_number": "+14155550889"}, format="json").json()
    added = api.post(
        f"/api/v2/contact/{c['uuid']}/channels", {"kind": "phone", "value": stopped}, format="json"
    )
    assert added.status_code == 201, added.json()

    receive("START", phone="+14155550889")  # C's own number, not X

    channel = added.json()["id"]
    assert api.delete(f"/api/v2/contact/{c['uuid']}/channels/{channel}").status_code == 204
    response = api.post(
        f"/api/v1/lists/{sending_list.pk}/contacts/", {"phone_number": stopped}, format="json"
    )

    assert not ListContact.objects.filter(
        sending_list=sending_list, contact__phone_number=stopped, active=True
    ).exists(), ("the START of +14155550889 lifted the STOP of +14155550888", response.json())


def test_scoped_token_duplicates_cursor_carries_an_out_of_scope_contacts_email(world):
    """GET contact/duplicates filters out the pairs a list-scoped token may not merge, but the
    `next` cursor is the base64 of the last email the walk read: another list's contacts' email,
    in clear once decoded (and, page by page with limit=1, every duplicated email of the base)."""
    import base64

    theirs = world["theirs"]
    for phone in ("+16285550501", "+16285550502"):
        subscribe(theirs, ContactFactory(phone_number=phone, email="Secret.Person@example.com"))
    # A pair after it, so that the walk does not end on the secret one.
    for phone in ("+16285550503", "+16285550504"):
        subscribe(theirs, ContactFactory(phone_number=phone, email="zz@example.com"))

    body = world["scoped"].get("/api/v1/contact/duplicates?limit=1").json()

    assert body["results"] == []
    cursor = body["next"] or ""
    decoded = base64.urlsafe_b64decode(cursor.encode() + b"==")
    assert b"secret.person" not in decoded.lower() and "secret.person" not in cursor.lower(), cursor


def test_merge_page_finds_no_contact_by_its_channel_number(client):
    """Issue 17 point 6: a channel number identifies its contact everywhere a number does, the
    pages' lookups included. The merge page takes "an id or a number" (`?duplicate=`), and a
    number that is a contact's phone channel is "No contact has the id or number" (404)."""
    from tests.staff import CHANGE_PERMISSIONS, VIEW_PERMISSIONS, staff_with

    operator = staff_with(*VIEW_PERMISSIONS, *CHANGE_PERMISSIONS, "contacts.delete_contact", username="op")
    client.force_login(operator)
    survivor = ContactFactory(phone_number="+16285550601")
    other = ContactFactory(phone_number="+16285550602")
    ContactChannel.objects.create(contact=other, kind="phone", value="+16285550603")

    response = client.get(f"/contacts/{survivor.pk}/merge/", {"duplicate": "(628) 555-0603"})

    assert response.status_code == 200, response.status_code
    assert response.context["duplicate"].pk == other.pk


@pytest.mark.parametrize("path", ["channels", "patch"])  # (a v1 contact has no channels)
def test_scoped_token_cannot_claim_a_number_as_a_channel_to_capture_another_lists_subscriptions(
    world, make_client, settings, path
):
    """Token A (list Mine) adds an unowned number X as a phone channel of its own contact C. Token B
    (list Theirs) then subscribes X, whose owner consented to Theirs: the subscription would land on
    C, and Theirs' messages go to C's phone, which never joined Theirs, while X gets nothing. A
    channel number identifies its contact on every list, so only a token with access to every list
    may add one: A is refused, and Theirs' subscription of X is X's own."""
    from engagement.services import message_send

    settings.SMS_BACKEND = "engagement.backends.locmem.LocMemBackend"
    locmem.outbox.clear()
    scoped, member, theirs = world["scoped"], world["member"], world["theirs"]
    claimed = "+16285550777"
    channel = {"kind": "phone", "value": claimed}
    if path == "channels":
        response = scoped.post(f"/api/v2/contact/{member.uuid}/channels", channel, format="json")
        assert response.status_code == 403, response.json()
    else:
        response = scoped.patch(
            f"/api/v2/contact/{member.uuid}", {"first_name": "Ann", "channels": [channel]}, format="json"
        )
        assert response.status_code == 400, response.json()
        assert list(response.json()["field_errors"]) == ["channels.0.kind"], response.json()
    assert "cannot add a phone channel" in response.content.decode()
    member.refresh_from_db()
    assert member.first_name != "Ann" and not ContactChannel.objects.filter(value=claimed).exists()
    # An email channel stays the token's to add.
    assert (
        scoped.post(
            f"/api/v2/contact/{member.uuid}/channels",
            {"kind": "email", "value": "ann@example.com"},
            format="json",
        ).status_code
        == 201
    )

    their_token = make_client(sending_lists=[theirs])
    response = their_token.post(
        f"/api/v1/lists/{theirs.pk}/contacts/", {"phone_number": claimed}, format="json"
    )
    assert response.status_code == 201, response.json()
    membership = ListContact.objects.get(
        sending_list=theirs, active=True, contact__numbers__phone_number=claimed
    )
    message_send(sending_list=theirs, contact=membership.contact, body="Welcome to Theirs")

    assert [sms.to_number for sms in locmem.outbox] == [claimed]


def test_a_full_access_token_adds_a_phone_channel(world, client):
    response = client.post(
        f"/api/v2/contact/{world['member'].uuid}/channels",
        {"kind": "phone", "value": "+16285550778"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert ContactChannel.objects.get(value="+16285550778").contact == world["member"]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/contact/search?q=16285550888",
        "/api/v1/contact?phone=16285550888",
        "/api/v1/lists/{mine}/contacts/?phone=16285550888",
        "/api/v1/lists/{mine}/contacts/?search=16285550888",
    ],
)
def test_scoped_token_finds_a_shared_contact_by_its_withheld_channel_number(world, client, query):
    """A shared contact's channels are withheld from a list-scoped token, and a filter on a withheld
    field must never match such a contact (permissions.without_withheld_contacts: the email filter
    and search honour it). The phone search and the phone filter match the withheld channel: the
    token learns that this contact holds that number."""
    scoped, shared = world["scoped"], world["shared"]
    assert (
        client.post(
            f"/api/v2/contact/{shared.uuid}/channels",
            {"kind": "phone", "value": "+16285550888"},
            format="json",
        ).status_code
        == 201
    )
    assert scoped.get(f"/api/v2/contact/{shared.uuid}").json()["channels"] == []

    response = scoped.get(query.format(mine=world["mine"].pk))

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_field_id_sent_as_seed_001_says_is_taken_by_another_lists_all_digit_key(client):
    """Seed 001 keys custom values by the field id that POST /contact-fields answers. Another list
    the contact is on defines a field whose key is that id's digits (a slug may be all digits):
    "keys first", so the value is written to the other list's field, answered 200, and the field
    the integrator named is left unchanged: a silent misroute into another list's data."""
    from sendinglists.models import CustomField

    deals, other = SendingListFactory(name="Deals"), SendingListFactory(name="Other")
    contact = ContactFactory(phone_number="+16285550701")
    subscribe(deals, contact)
    subscribe(other, contact)
    plan = CustomField.objects.create(sending_list=deals, key="plan", label="Plan", field_type="text")
    CustomField.objects.create(sending_list=other, key=str(plan.pk), label="Trap", field_type="text")
    ids = [f["id"] for f in client.post("/api/v1/contact-fields", {}, format="json").json()["results"]]
    assert plan.pk in ids

    response = client.patch(
        f"/api/v1/contact/{contact.pk}", {"custom_fields": {str(plan.pk): "pro"}}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert "is both the id of the field 'Plan'" in str(response.json()), response.json()
    assert ListContact.objects.get(sending_list=deals, contact=contact).custom_fields == {}
    assert ListContact.objects.get(sending_list=other, contact=contact).custom_fields == {}


def test_many_unknown_custom_field_ids_are_a_400_not_a_database_error(client, world):
    """150,000 unknown all-digit names in custom_fields (a 2 MB body): the error path looks them up
    with one `key IN (…) OR id IN (…)` of 300,000 parameters, over SQLite's limit: an unhandled
    OperationalError (a 500) instead of the 400 naming them. (On PostgreSQL it is a 400, but a
    20,000-name body already costs seconds and answers 2.7 MB.)"""
    from django.db import OperationalError

    client.raise_request_exception = False
    body = {"custom_fields": {str(100_000 + i): "x" for i in range(150_000)}}

    try:
        response = client.patch(f"/api/v1/contact/{world['member'].pk}", body, format="json")
    except OperationalError as exc:  # pragma: no cover - the test client re-raised it
        pytest.fail(f"database error: {exc}")

    assert response.status_code == 400


def _cursor(stage, position) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps([stage, position]).encode()).decode()


def test_a_duplicates_cursor_holding_a_nul_is_a_400_not_a_500(client):
    """(PostgreSQL.) The duplicates cursor is base64 JSON of ["email", <last email>]: an edited one whose email
    holds a NUL reaches PostgreSQL (DataError, a 500 in HTML on the API) instead of "This page link
    is not valid any more"."""
    client.raise_request_exception = False

    response = client.get("/api/v1/contact/duplicates", {"cursor": _cursor("email", "a\x00")})

    assert response.status_code in (200, 400), response.status_code  # SQLite: 200; PostgreSQL: 500


def test_a_duplicates_page_link_holding_a_nul_is_not_a_500(client):
    from tests.staff import VIEW_PERMISSIONS, staff_with

    client.raise_request_exception = False
    client.force_login(staff_with(*VIEW_PERMISSIONS, username="viewer"))

    response = client.get("/contacts/duplicates/", {"after": _cursor("email", "a\x00")})

    assert response.status_code in (200, 400), response.status_code


def test_admin_change_giving_the_new_phone_as_a_channel_too_is_a_form_error_not_a_500(client, world):
    """In the contact admin, one save that changes the phone to X and adds X in the channels inline:
    each form validates alone (X is nobody's yet), save_model renumbers, then the inline's channel
    add raises a ValidationError out of save_formset: a 500, not the error next to the field."""
    import re

    from django.contrib.auth import get_user_model

    client.raise_request_exception = False
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    member = world["member"]
    url = f"/admin/contacts/contact/{member.pk}/change/"
    html = client.get(url).content.decode()
    data = {}
    for name in re.findall(r'name="([^"]+)"', html):
        value = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
        if re.search(
            r"(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$|^memberships-\d+-(id|contact|sending_list)$", name
        ):
            data[name] = value.group(1) if value else ""
    new = "+16285550901"
    data.update({"phone_number": new, "first_name": "A", "channels-TOTAL_FORMS": "1"})
    data.update({"channels-0-kind": "phone", "channels-0-value": new, "channels-0-contact": str(member.pk)})

    response = client.post(url, data)

    assert response.status_code == 200, response.status_code
    assert "This is the contact&#x27;s phone number" in response.content.decode()
    member.refresh_from_db()
    assert member.phone_number == "+16285550301"
    assert not ContactChannel.objects.filter(value=new).exists()
