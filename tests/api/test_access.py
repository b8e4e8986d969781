"""Object-level access, endpoint by endpoint: a token limited to some lists never sees or changes
anything outside them; a read-only token never writes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact, ContactChannel
from engagement.models import Message
from sendinglists.models import CustomField, ListContact, SendingList
from tests.factories import (
    ContactChannelFactory,
    ContactFactory,
    CustomFieldFactory,
    ListContactFactory,
    SendingListFactory,
    TagFactory,
)


@pytest.fixture
def world(db):
    mine, theirs = SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")
    member = ListContactFactory(sending_list=mine).contact
    outsider = ListContactFactory(sending_list=theirs).contact
    both = ContactFactory()
    ListContactFactory(sending_list=mine, contact=both)
    ListContactFactory(sending_list=theirs, contact=both)
    loner = ContactFactory()
    ContactChannelFactory(contact=outsider)
    my_field = CustomFieldFactory(sending_list=mine, key="plan")
    their_field = CustomFieldFactory(sending_list=theirs, key="secret")
    return {
        "mine": mine,
        "theirs": theirs,
        "member": member,
        "outsider": outsider,
        "both": both,
        "loner": loner,
        "my_field": my_field,
        "their_field": their_field,
    }


@pytest.fixture
def scoped(make_client, world):
    return make_client(sending_lists=[world["mine"]])


def result_ids(response, key="id"):
    assert response.status_code == 200, response.json()
    return sorted(row[key] for row in response.json()["results"])


def test_scoped_token_lists_only_its_lists(scoped, world):
    assert result_ids(scoped.get("/api/v1/lists/")) == [world["mine"].pk]
    assert scoped.get(f"/api/v1/lists/{world['theirs'].pk}/").status_code == 404
    response = scoped.post("/api/v1/lists/", {"phone_number": "+18005550199", "name": "New"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == (
        "This token is limited to some sending lists: it cannot create or change sending lists."
    )
    assert SendingList.objects.count() == 2


def test_scoped_token_sees_only_members_of_its_lists(scoped, world):
    assert result_ids(scoped.get("/api/v1/contacts/")) == sorted([world["member"].pk, world["both"].pk])
    assert result_ids(scoped.get("/api/v2/contacts/")) == sorted(
        [str(world["member"].uuid), str(world["both"].uuid)]
    )
    for contact in (world["outsider"], world["loner"]):
        assert scoped.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
        assert scoped.get(f"/api/v2/contacts/{contact.uuid}/").status_code == 404
        assert scoped.get(f"/api/v1/contacts/{contact.pk}/tags/").status_code == 404
        assert scoped.get(f"/api/v2/contacts/{contact.uuid}/channels/").status_code == 404
    assert result_ids(scoped.get("/api/v1/contacts/", {"phone": world["outsider"].phone_number})) == []
    response = scoped.get("/api/v1/contacts/", {"list": world["theirs"].pk})
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"list": [f"No sending list {world['theirs'].pk}."]}


def test_scoped_token_sees_only_its_subscriptions_of_a_shared_contact(scoped, world):
    body = scoped.get(f"/api/v1/contacts/{world['both'].pk}/").json()
    assert [s["sending_list"] for s in body["subscriptions"]] == [world["mine"].pk]


def test_scoped_token_cannot_change_contacts_outside_its_lists(scoped, world):
    outsider = world["outsider"]
    assert (
        scoped.patch(f"/api/v1/contacts/{outsider.pk}/", {"first_name": "X"}, format="json").status_code
        == 404
    )
    assert (
        scoped.patch(f"/api/v2/contacts/{outsider.uuid}/", {"first_name": "X"}, format="json").status_code
        == 404
    )
    assert (
        scoped.post(f"/api/v1/contacts/{outsider.pk}/tags/", {"tags": ["x"]}, format="json").status_code
        == 404
    )
    channel = outsider.channels.get()
    assert scoped.delete(f"/api/v2/contacts/{outsider.uuid}/channels/{channel.pk}/").status_code == 404
    assert scoped.delete(f"/api/v1/contacts/{outsider.pk}/").status_code == 404
    outsider.refresh_from_db()
    assert outsider.first_name != "X"
    assert list(outsider.tags.all()) == []
    assert ContactChannel.objects.filter(pk=channel.pk).exists()


def test_scoped_token_changes_members_of_its_lists(scoped, world):
    member = world["member"]
    response = scoped.patch(f"/api/v1/contacts/{member.pk}/", {"first_name": "Mine"}, format="json")
    assert response.status_code == 200
    assert scoped.delete(f"/api/v1/contacts/{member.pk}/").status_code == 204
    assert not Contact.objects.filter(pk=member.pk).exists()


def test_scoped_token_cannot_delete_a_contact_that_is_also_on_other_lists(scoped, world):
    response = scoped.delete(f"/api/v1/contacts/{world['both'].pk}/")
    assert response.status_code == 403
    assert "also on sending lists this token cannot access" in response.json()["message"]
    assert ListContact.objects.filter(contact=world["both"]).count() == 2


def test_scoped_token_creates_contacts_only_through_its_lists(scoped, world):
    response = scoped.post("/api/v1/contacts/", {"phone_number": "+14155559999"}, format="json")
    assert response.status_code == 403
    response = scoped.post(
        "/api/v1/contacts/bulk/", {"contacts": [{"phone_number": "+14155559999"}]}, format="json"
    )
    assert response.json()["results"][0]["errors"] == {
        "sending_list": ["This token is limited to some sending lists: name one to subscribe to."]
    }
    response = scoped.post(
        "/api/v1/contacts/bulk/",
        {"sending_list": world["theirs"].pk, "contacts": [{"phone_number": "+14155559999"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"sending_list": [f"No sending list {world['theirs'].pk}."]}
    assert not Contact.objects.filter(phone_number="+14155559999").exists()
    response = scoped.post(
        "/api/v1/contacts/bulk/",
        {"sending_list": world["mine"].pk, "contacts": [{"phone_number": "+14155559999"}]},
        format="json",
    )
    assert response.json()["results"][0]["subscription"]["outcome"] == "created"


def test_scoped_token_cannot_touch_memberships_of_other_lists(scoped, world):
    theirs, outsider = world["theirs"], world["outsider"]
    base = f"/api/v1/lists/{theirs.pk}/contacts/"
    assert scoped.get(base).status_code == 404
    assert scoped.get(f"{base}{outsider.pk}/").status_code == 404
    assert scoped.post(base, {"phone_number": "+14155559999"}, format="json").status_code == 404
    assert (
        scoped.patch(f"{base}{outsider.pk}/", {"custom_fields": {"secret": "x"}}, format="json").status_code
        == 404
    )
    assert scoped.post(f"{base}{outsider.pk}/unsubscribe/", format="json").status_code == 404
    assert scoped.delete(f"{base}{outsider.pk}/").status_code == 404
    membership = ListContact.objects.get(sending_list=theirs, contact=outsider)
    assert (membership.active, membership.custom_fields) == (True, {})
    assert not Contact.objects.filter(phone_number="+14155559999").exists()
    # Their member is not in my list, so not reachable through it either.
    assert scoped.get(f"/api/v1/lists/{world['mine'].pk}/contacts/{outsider.pk}/").status_code == 404


def test_scoped_token_cannot_subscribe_an_unseen_contact_by_id(scoped, world):
    response = scoped.post(
        f"/api/v1/lists/{world['mine'].pk}/contacts/", {"contact_id": world["outsider"].pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field_errors"] == {"contact_id": [f"No contact {world['outsider'].pk}."]}
    assert not ListContact.objects.filter(sending_list=world["mine"], contact=world["outsider"]).exists()


def test_scoped_token_does_not_change_a_blocked_contact_it_cannot_see(scoped, world):
    blocked = ContactFactory(phone_number="+14155558888", first_name="Kept", blocked=True)
    response = scoped.post(
        f"/api/v1/lists/{world['mine'].pk}/contacts/",
        {"phone_number": "+14155558888", "first_name": "Changed"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "outcome": "skipped_blocked",
        "reason": "The contact is blocked and is never subscribed.",
        "membership": None,
    }
    blocked.refresh_from_db()
    assert blocked.first_name == "Kept"


def test_scoped_token_sees_and_creates_only_its_lists_fields(scoped, world):
    assert result_ids(scoped.get("/api/v1/contact-fields")) == [world["my_field"].pk]
    assert result_ids(scoped.post("/api/v1/contact-fields", {}, format="json")) == [world["my_field"].pk]
    assert scoped.get(f"/api/v1/contact-fields/{world['their_field'].pk}/").status_code == 404
    response = scoped.post(
        f"/api/v1/lists/{world['theirs'].pk}/contact-fields", {"key": "sneaky"}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["message"] == f"No sending list {world['theirs'].pk}."
    assert not CustomField.objects.filter(key="sneaky").exists()
    response = scoped.post(f"/api/v1/lists/{world['mine'].pk}/contact-fields", {"key": "tier"}, format="json")
    assert response.status_code == 201
    assert CustomField.objects.get(key="tier").sending_list == world["mine"]


# --- read-only tokens -----------------------------------------------------------------------------


def write_requests(world):
    mine, member = world["mine"], world["member"]
    channel = world["outsider"].channels.get()
    return [
        ("post", "/api/v1/contacts/", {"phone_number": "+14155559999"}),
        ("patch", f"/api/v1/contacts/{member.pk}/", {"first_name": "X"}),
        ("delete", f"/api/v1/contacts/{member.pk}/", None),
        ("post", f"/api/v1/contacts/{member.pk}/tags/", {"tags": ["x"]}),
        ("put", f"/api/v1/contacts/{member.pk}/tags/", {"tags": ["x"]}),
        ("post", "/api/v1/contacts/bulk/", {"contacts": [{"phone_number": "+14155559999"}]}),
        ("post", "/api/v1/lists/", {"phone_number": "+18005550199", "name": "New"}),
        ("post", f"/api/v1/lists/{mine.pk}/contacts/", {"phone_number": "+14155559999"}),
        ("patch", f"/api/v1/lists/{mine.pk}/contacts/{member.pk}/", {"custom_fields": {"plan": "x"}}),
        ("post", f"/api/v1/lists/{mine.pk}/contacts/{member.pk}/unsubscribe/", {}),
        ("delete", f"/api/v1/lists/{mine.pk}/contacts/{member.pk}/", None),
        ("post", f"/api/v1/lists/{mine.pk}/contact-fields", {"key": "tier"}),
        ("post", "/api/v1/contact", {"phone_number": "14155559999"}),
        ("patch", f"/api/v1/contact/{member.pk}", {"first_name": "X"}),
        ("delete", f"/api/v1/contact/{member.pk}", None),
        ("patch", f"/api/v2/contact/{member.uuid}", {"first_name": "X"}),
        ("delete", f"/api/v2/contact/{member.uuid}", None),
        ("post", "/api/v2/contacts/", {"phone_number": "+14155559999"}),
        ("patch", f"/api/v2/contacts/{member.uuid}/", {"first_name": "X"}),
        ("delete", f"/api/v2/contacts/{member.uuid}/", None),
        (
            "post",
            f"/api/v2/contacts/{world['outsider'].uuid}/channels/",
            {"kind": "email", "value": "a@b.co"},
        ),
        ("delete", f"/api/v2/contacts/{world['outsider'].uuid}/channels/{channel.pk}/", None),
    ]


def snapshot():
    return (
        sorted(Contact.objects.values_list("id", "first_name")),
        sorted(ListContact.objects.values_list("id", "active", "custom_fields")),
        SendingList.objects.count(),
        CustomField.objects.count(),
        ContactChannel.objects.count(),
        Contact.tags.through.objects.count(),
    )


def test_read_only_token_is_refused_every_write_and_nothing_changes(make_client, world):
    client = make_client(read_only=True)
    before = snapshot()
    for method, path, body in write_requests(world):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path, response.json())
        assert response.json()["code"] == "permission_denied"
    assert snapshot() == before


def test_read_only_token_reads_every_endpoint(make_client, world):
    client = make_client(read_only=True)
    mine, member = world["mine"], world["member"]
    for path in (
        "/api/v1/contacts/",
        f"/api/v1/contacts/{member.pk}/",
        f"/api/v1/contacts/{member.pk}/tags/",
        "/api/v1/lists/",
        f"/api/v1/lists/{mine.pk}/",
        f"/api/v1/lists/{mine.pk}/contacts/",
        f"/api/v1/lists/{mine.pk}/contacts/{member.pk}/",
        "/api/v1/contact-fields",
        f"/api/v1/contact-fields/{world['my_field'].pk}/",
        "/api/v2/contacts/",
        f"/api/v2/contacts/{member.uuid}/",
        f"/api/v2/contacts/{member.uuid}/channels/",
    ):
        assert client.get(path).status_code == 200, path


def test_read_only_scoped_token_is_both(make_client, world):
    client = make_client(read_only=True, sending_lists=[world["mine"]])
    assert client.get(f"/api/v1/contacts/{world['outsider'].pk}/").status_code == 404
    assert client.get(f"/api/v1/contacts/{world['member'].pk}/").status_code == 200
    assert (
        client.patch(
            f"/api/v1/contacts/{world['member'].pk}/", {"first_name": "X"}, format="json"
        ).status_code
        == 403
    )


HUGE_ID = 10**30


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("get", f"/api/v1/contacts/{HUGE_ID}/", None, 404),
        ("get", f"/api/v1/lists/{HUGE_ID}/contacts/", None, 404),
        ("get", f"/api/v1/lists/{{list}}/contacts/{HUGE_ID}/", None, 404),
        ("get", f"/api/v1/imports/{HUGE_ID}/", None, 404),
        ("get", f"/api/v1/contacts/?list={HUGE_ID}", None, 400),
        ("get", f"/api/v1/contact-fields?sending_list={HUGE_ID}", None, 400),
        ("post", "/api/v1/lists/{list}/contacts/", {"contact_id": HUGE_ID}, 400),
        (
            "post",
            "/api/v1/contacts/bulk/",
            {"sending_list": HUGE_ID, "contacts": [{"phone_number": "+14155551234"}]},
            400,
        ),
        ("post", "/api/v1/contact-fields", {"sending_list": HUGE_ID}, 400),
        ("post", f"/api/v1/lists/{HUGE_ID}/contact-fields", {"key": "x"}, 404),
    ],
)
def test_ids_beyond_any_database_integer_are_clean_4xx(client, world, method, path, body, expected):
    path = path.replace("{list}", str(world["mine"].pk))
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == expected
    assert set(response.json()) == {"code", "message", "field_errors"}


# --- a list limit only ever narrows ----------------------------------------------------------------


def test_token_whose_lists_were_all_deleted_sees_nothing_and_creates_nothing(make_client, world):
    gone = SendingListFactory(name="Gone")
    client = make_client(sending_lists=[gone])
    gone.delete()
    theirs, outsider = world["theirs"], world["outsider"]
    memberships_before = ListContact.objects.filter(sending_list=theirs).count()

    assert result_ids(client.get("/api/v1/lists/")) == []
    assert result_ids(client.get("/api/v1/contacts/")) == []
    assert result_ids(client.get("/api/v2/contacts/")) == []
    assert result_ids(client.get("/api/v1/contact-fields")) == []
    assert client.get(f"/api/v1/lists/{theirs.pk}/").status_code == 404
    assert client.get(f"/api/v1/lists/{theirs.pk}/contacts/").status_code == 404
    assert client.get(f"/api/v1/lists/{theirs.pk}/contacts/{outsider.pk}/").status_code == 404
    assert client.get(f"/api/v1/contacts/{outsider.pk}/").status_code == 404
    response = client.post("/api/v1/lists/", {"phone_number": "+18005550199", "name": "New"}, format="json")
    assert response.status_code == 403
    assert response.json()["message"] == (
        "This token is limited to some sending lists: it cannot create or change sending lists."
    )
    assert (
        client.post("/api/v1/contacts/", {"phone_number": "+14155559999"}, format="json").status_code == 403
    )
    response = client.post(
        f"/api/v1/lists/{theirs.pk}/contacts/", {"phone_number": "+14155559999"}, format="json"
    )
    assert response.status_code == 404
    response = client.post(
        f"/api/v1/lists/{theirs.pk}/contacts/{outsider.pk}/sends", {"body": "hi"}, format="json"
    )
    assert response.status_code == 404
    assert not SendingList.objects.filter(phone_number="+18005550199").exists()
    assert not Contact.objects.filter(phone_number="+14155559999").exists()
    assert ListContact.objects.filter(sending_list=theirs).count() == memberships_before
    assert not Message.objects.exists()


def test_token_keeps_its_limit_when_one_of_its_lists_is_deleted(make_client, world):
    gone = SendingListFactory(name="Gone")
    client = make_client(sending_lists=[world["mine"], gone])
    gone.delete()

    assert result_ids(client.get("/api/v1/lists/")) == [world["mine"].pk]
    assert client.get(f"/api/v1/lists/{world['theirs'].pk}/contacts/").status_code == 404


def test_token_created_for_every_list_is_not_limited(make_client, world):
    client = make_client()

    assert client.token.limited_to_lists is False
    assert result_ids(client.get("/api/v1/lists/")) == sorted([world["mine"].pk, world["theirs"].pk])


# --- contacts shared with lists outside the token's scope ----------------------------------------

SHARED_MESSAGE = (
    "This contact is shared with sending lists outside this token's scope: its own fields, tags and "
    "channels can only be changed by a token that can access all of them."
)


def contact_state(contact):
    contact.refresh_from_db()
    return (
        contact.first_name,
        contact.email,
        sorted(contact.tags.values_list("name", flat=True)),
        sorted(contact.channels.values_list("value", flat=True)),
    )


def test_scoped_token_cannot_change_a_contact_shared_with_lists_outside_its_scope(scoped, world):
    both = world["both"]
    channel = ContactChannelFactory(contact=both)
    before = contact_state(both)
    for method, path, body in [
        ("patch", f"/api/v1/contacts/{both.pk}/", {"first_name": "Hijacked"}),
        ("patch", f"/api/v2/contacts/{both.uuid}/", {"email": "evil@example.com"}),
        ("patch", f"/api/v2/contacts/{both.uuid}/", {"channels": [{"kind": "email", "value": "x@y.co"}]}),
        ("post", f"/api/v1/contacts/{both.pk}/tags/", {"tags": ["vip"]}),
        ("put", f"/api/v1/contacts/{both.pk}/tags/", {"tags": []}),
        ("post", f"/api/v2/contacts/{both.uuid}/tags/", {"tags": ["vip"]}),
        ("post", f"/api/v2/contacts/{both.uuid}/channels/", {"kind": "email", "value": "x@y.co"}),
        ("delete", f"/api/v2/contacts/{both.uuid}/channels/{channel.pk}/", None),
    ]:
        response = getattr(scoped, method)(path, body, format="json")
        assert response.status_code == 403, (method, path, response.json())
        assert response.json()["message"] == SHARED_MESSAGE, (method, path)
    assert contact_state(both) == before


V1_WITHHELD = ["email", "first_name", "last_name", "timezone", "carrier", "tags"]
V2_WITHHELD = [*V1_WITHHELD, "channels"]
MEMBERSHIP_WITHHELD = ["email", "first_name", "last_name", "tags"]


def personalize(contact):
    """Give a contact every personal field, as another list's owner would."""
    Contact.objects.filter(pk=contact.pk).update(
        email="secret@example.com",
        first_name="Secret",
        last_name="Holder",
        timezone="Europe/Paris",
        carrier="Their Carrier",
    )
    contact.tags.add(TagFactory(name="theirs"))
    if not contact.channels.exists():
        ContactChannelFactory(contact=contact)


def test_scoped_token_sees_a_shared_contacts_personal_fields_withheld_in_every_contact_answer(scoped, world):
    both, member = world["both"], world["member"]
    personalize(both)
    personalize(member)

    v1 = scoped.get(f"/api/v1/contacts/{both.pk}/").json()
    v2 = scoped.get(f"/api/v2/contacts/{both.uuid}/").json()
    v1_page = {row["id"]: row for row in scoped.get("/api/v1/contacts/").json()["results"]}
    v2_page = {row["id"]: row for row in scoped.get("/api/v2/contacts/").json()["results"]}

    for body in (v1, v1_page[both.pk]):
        assert {name: body[name] for name in [*V1_WITHHELD, "withheld_fields"]} == {
            "email": "",
            "first_name": "",
            "last_name": "",
            "timezone": "",
            "carrier": "",
            "tags": [],
            "withheld_fields": V1_WITHHELD,
        }
        assert (body["id"], body["uuid"], body["phone_number"], body["blocked"]) == (
            both.pk,
            str(both.uuid),
            both.phone_number,
            False,
        )
        assert [s["sending_list"] for s in body["subscriptions"]] == [world["mine"].pk]
    for body in (v2, v2_page[str(both.uuid)]):
        assert (body["channels"], body["withheld_fields"]) == ([], V2_WITHHELD)
        assert (body["first_name"], body["email"], body["tags"]) == ("", "", [])
    assert "Secret" not in str([v1, v2, v1_page[both.pk], v2_page[str(both.uuid)]])
    # A contact only the token's lists hold shows everything.
    assert (v1_page[member.pk]["first_name"], v1_page[member.pk]["withheld_fields"]) == ("Secret", [])
    assert v2_page[str(member.uuid)]["channels"] != []
    assert scoped.get(f"/api/v1/contacts/{both.pk}/tags/").json() == {"tags": []}
    assert scoped.get(f"/api/v2/contacts/{both.uuid}/channels/").json() == []
    assert scoped.get(f"/api/v1/contacts/{member.pk}/tags/").json() == {"tags": ["theirs"]}


def test_scoped_token_sees_a_shared_contacts_personal_fields_withheld_in_membership_answers(scoped, world):
    both, mine = world["both"], world["mine"]
    personalize(both)
    base = f"/api/v1/lists/{mine.pk}/contacts/"

    page = {row["contact"]["id"]: row["contact"] for row in scoped.get(base).json()["results"]}
    retrieved = scoped.get(f"{base}{both.pk}/").json()["contact"]
    updated = scoped.patch(f"{base}{both.pk}/", {"custom_fields": {"plan": "pro"}}, format="json").json()
    unsubscribed = scoped.post(f"{base}{both.pk}/unsubscribe/", {}, format="json").json()["membership"]

    # Still subscribed to the other list, but that one is outside the token's scope: after the
    # unsubscribe the token sees the contact unsubscribed.
    answers = [
        (page[both.pk], "subscribed"),
        (retrieved, "subscribed"),
        (updated["contact"], "subscribed"),
        (unsubscribed["contact"], "unsubscribed"),
    ]
    for contact, status in answers:
        assert contact == {
            "id": both.pk,
            "uuid": str(both.uuid),
            "phone_number": both.phone_number,
            "email": "",
            "first_name": "",
            "last_name": "",
            "blocked": False,
            "tags": [],
            "status": status,
            "withheld_fields": MEMBERSHIP_WITHHELD,
        }
    assert page[world["member"].pk]["withheld_fields"] == []
    assert updated["custom_fields"] == {"plan": "pro"}


def test_full_access_token_sees_a_shared_contacts_personal_fields(client, world):
    both = world["both"]
    personalize(both)

    body = client.get(f"/api/v2/contacts/{both.uuid}/").json()
    membership = client.get(f"/api/v1/lists/{world['theirs'].pk}/contacts/{both.pk}/").json()

    assert (body["first_name"], body["carrier"], body["tags"], body["withheld_fields"]) == (
        "Secret",
        "Their Carrier",
        ["theirs"],
        [],
    )
    assert (membership["contact"]["email"], membership["contact"]["withheld_fields"]) == (
        "secret@example.com",
        [],
    )


def test_scoped_token_sees_a_contact_withheld_once_another_list_also_holds_it(scoped, world):
    member = world["member"]
    personalize(member)
    assert scoped.get(f"/api/v1/contacts/{member.pk}/").json()["first_name"] == "Secret"

    ListContactFactory(sending_list=world["theirs"], contact=member)

    body = scoped.get(f"/api/v1/contacts/{member.pk}/").json()
    assert (body["first_name"], body["withheld_fields"]) == ("", V1_WITHHELD)


def test_scoped_token_subscribing_another_lists_contact_keeps_its_fields_and_sees_only_its_membership(
    scoped, world
):
    outsider = world["outsider"]
    theirs_membership = ListContact.objects.get(contact=outsider, sending_list=world["theirs"])
    ListContact.objects.filter(pk=theirs_membership.pk).update(send_count=7, custom_fields={"secret": "s"})
    before = contact_state(outsider)

    response = scoped.post(
        f"/api/v1/lists/{world['mine'].pk}/contacts/",
        {
            "phone_number": outsider.phone_number,
            "first_name": "Overwritten",
            "email": "evil@example.com",
            "tags": ["mine"],
            "custom_fields": {"plan": "pro"},
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"outcome", "reason", "membership"}
    assert body["outcome"] == "created"
    membership = body["membership"]
    assert (membership["custom_fields"], membership["send_count"]) == ({"plan": "pro"}, 0)
    assert membership["contact"] == {
        "id": outsider.pk,
        "uuid": str(outsider.uuid),
        "phone_number": outsider.phone_number,
        "email": "",
        "first_name": "",
        "last_name": "",
        "blocked": False,
        "tags": [],
        "status": "subscribed",
        "withheld_fields": MEMBERSHIP_WITHHELD,
    }
    assert "secret" not in str(body)
    assert contact_state(outsider) == before
    mine = ListContact.objects.get(contact=outsider, sending_list=world["mine"])
    assert (mine.active, mine.custom_fields) == (True, {"plan": "pro"})
    theirs_membership.refresh_from_db()
    assert (theirs_membership.send_count, theirs_membership.custom_fields) == (7, {"secret": "s"})
    # Now a member: the contact shows only the token's subscription, its personal fields withheld.
    contact = scoped.get(f"/api/v1/contacts/{outsider.pk}/").json()
    assert [s["sending_list"] for s in contact["subscriptions"]] == [world["mine"].pk]
    assert contact["withheld_fields"] == V1_WITHHELD


def test_scoped_token_subscribe_answer_has_one_shape_whether_or_not_another_list_holds_the_number(
    scoped, world
):
    """No `ignored_fields` (or anything else) appears only for a number another list holds."""
    mine = world["mine"]
    given = {"first_name": "X", "email": "x@example.com", "tags": ["t"]}

    held = scoped.post(
        f"/api/v1/lists/{mine.pk}/contacts/",
        {"phone_number": world["outsider"].phone_number, **given},
        format="json",
    )
    fresh = scoped.post(
        f"/api/v1/lists/{mine.pk}/contacts/", {"phone_number": "+14155559999", **given}, format="json"
    )

    assert (held.status_code, fresh.status_code) == (201, 201)
    held, fresh = held.json(), fresh.json()
    assert set(held) == set(fresh) == {"outcome", "reason", "membership"}
    assert set(held["membership"]) == set(fresh["membership"])
    assert set(held["membership"]["contact"]) == set(fresh["membership"]["contact"])
    assert (
        fresh["membership"]["contact"]["first_name"],
        fresh["membership"]["contact"]["withheld_fields"],
    ) == (
        "X",
        [],
    )


def test_scoped_token_subscribing_a_contact_only_it_holds_still_merges_its_fields(scoped, world):
    member = world["member"]

    response = scoped.post(
        f"/api/v1/lists/{world['mine'].pk}/contacts/",
        {"phone_number": member.phone_number, "first_name": "Renamed"},
        format="json",
    )

    assert response.status_code == 200
    contact = response.json()["membership"]["contact"]
    assert (contact["first_name"], contact["withheld_fields"]) == ("Renamed", [])
    member.refresh_from_db()
    assert member.first_name == "Renamed"


def test_scoped_bulk_upsert_of_another_lists_contact_subscribes_it_without_changing_its_fields(scoped, world):
    outsider = world["outsider"]
    before = contact_state(outsider)

    response = scoped.post(
        "/api/v1/contacts/bulk/",
        {
            "sending_list": world["mine"].pk,
            "contacts": [
                {"phone_number": outsider.phone_number, "first_name": "Overwritten", "tags": ["x"]},
                {"phone_number": "+14155559999", "first_name": "New"},
            ],
        },
        format="json",
    )

    assert response.status_code == 200
    shared, new = response.json()["results"]
    assert shared["status"] == "ok"
    assert shared["subscription"]["outcome"] == "created"
    assert set(shared) == set(new)
    assert shared["contact"] == {
        "id": outsider.pk,
        "uuid": str(outsider.uuid),
        "phone_number": outsider.phone_number,
        "created": False,
        "status": "subscribed",
        "withheld_fields": V1_WITHHELD,
    }
    assert (new["contact"]["created"], new["contact"]["withheld_fields"]) == (True, [])
    assert contact_state(outsider) == before
    assert ListContact.objects.filter(contact=outsider, sending_list=world["mine"], active=True).exists()
    assert Contact.objects.get(phone_number="+14155559999").first_name == "New"


def test_scoped_upsert_of_another_lists_contacts_phone_channel_is_refused_without_naming_it(scoped, world):
    """The number is a phone channel of a contact the token may not know of: subscribing it would
    put that contact on the token's list and answer its id and phone."""
    outsider = world["outsider"]
    ContactChannel.objects.create(contact=outsider, kind="phone", value="+14155558888")
    before = contact_state(outsider)

    response = scoped.post(
        f"/api/v1/lists/{world['mine'].pk}/contacts/",
        {"phone_number": "(415) 555-8888", "first_name": "Overwritten"},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert response.json()["field_errors"] == {
        "phone_number": ["+14155558888 is already held by another contact."]
    }
    assert str(outsider.pk) not in response.content.decode().replace("+14155558888", "")
    assert contact_state(outsider) == before
    assert not ListContact.objects.filter(contact=outsider, sending_list=world["mine"]).exists()
    assert Contact.objects.filter(phone_number="+14155558888").count() == 0


def test_full_access_token_still_changes_a_shared_contact(client, world):
    both = world["both"]

    response = client.patch(f"/api/v1/contacts/{both.pk}/", {"first_name": "Shared"}, format="json")

    assert response.status_code == 200
    assert (response.json()["first_name"], response.json()["withheld_fields"]) == ("Shared", [])
    assert (
        client.post(f"/api/v1/contacts/{both.pk}/tags/", {"tags": ["vip"]}, format="json").status_code == 200
    )
    both.refresh_from_db()
    assert both.first_name == "Shared"


def test_scoped_token_import_does_not_change_a_contact_that_other_lists_hold(
    scoped, world, django_capture_on_commit_callbacks
):
    outsider = world["outsider"]
    before = contact_state(outsider)
    csv = f"Phone,First name,Tags\n{outsider.phone_number},Overwritten,intruder\n+14155550999,Newcomer,new\n"
    file = SimpleUploadedFile("contacts.csv", csv.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = scoped.post(
            "/api/v1/imports/",
            {
                "file": file,
                "sending_list": world["mine"].pk,
                "mapping": '{"0": "phone", "1": "first_name", "2": "tags"}',
                "consent_attestation": "Signed up in store.",
            },
            format="multipart",
        )
    assert response.status_code == 201, response.json()
    assert ListContact.objects.filter(contact=outsider, sending_list=world["mine"]).exists()
    assert contact_state(outsider) == before
    assert not outsider.tags.exists()
    # A contact only the token's lists hold is imported as usual.
    newcomer = Contact.objects.get(phone_number="+14155550999")
    assert (newcomer.first_name, [tag.name for tag in newcomer.tags.all()]) == ("Newcomer", ["new"])


def member_ids(response):
    assert response.status_code == 200, response.json()
    return sorted(row["contact"]["id"] for row in response.json()["results"])


def test_scoped_token_filters_never_match_a_shared_contacts_withheld_fields(scoped, world):
    both, member, mine = world["both"], world["member"], world["mine"]
    personalize(both)
    personalize(member)
    Contact.objects.filter(pk=member.pk).update(email="mine@example.com", first_name="Secretary")
    members = f"/api/v1/lists/{mine.pk}/contacts/"

    for params, expected in [
        ({"email": "secret@example.com"}, []),
        ({"search": "secret@example.com"}, []),
        ({"search": "Secret"}, [member.pk]),
        ({"tag": "theirs"}, [member.pk]),
    ]:
        assert result_ids(scoped.get("/api/v1/contacts/", params)) == expected, params
        assert member_ids(scoped.get(members, params)) == expected, params
    # The phone number is not withheld.
    for params in ({"search": both.phone_number}, {"phone": both.phone_number}):
        assert result_ids(scoped.get("/api/v1/contacts/", params)) == [both.pk]
        assert member_ids(scoped.get(members, params)) == [both.pk]


def test_full_access_token_filters_match_a_shared_contacts_fields(client, world):
    personalize(world["both"])

    assert result_ids(client.get("/api/v1/contacts/", {"email": "secret@example.com"})) == [world["both"].pk]
    assert member_ids(client.get(f"/api/v1/lists/{world['mine'].pk}/contacts/", {"tag": "theirs"})) == [
        world["both"].pk
    ]


def test_scoped_token_pages_mark_shared_contacts_in_a_fixed_number_of_queries(
    make_client, django_assert_max_num_queries
):
    mine, theirs = SendingListFactory(name="Mine"), SendingListFactory(name="Theirs")
    for index in range(30):
        contact = ListContactFactory(sending_list=mine).contact
        contact.tags.add(TagFactory(name="vip"))
        if index % 2:
            ListContactFactory(sending_list=theirs, contact=contact)
    scoped = make_client(sending_lists=[mine])

    for path in ("/api/v1/contacts/", "/api/v2/contacts/", f"/api/v1/lists/{mine.pk}/contacts/"):
        with django_assert_max_num_queries(6):
            rows = scoped.get(path).json()["results"]
        withheld = [row.get("contact", row)["withheld_fields"] != [] for row in rows]
        assert (len(rows), withheld.count(True)) == (30, 15), path


def test_audience_rules_on_withheld_fields_never_match_a_shared_contact_for_a_scoped_token(
    scoped, world, client
):
    from sendinglists.audiences.services import audience_create

    both = world["both"]
    both.timezone = "Pacific/Fiji"
    both.save(update_fields=["timezone"])
    audience = audience_create(sending_list=world["mine"], name="Fiji", query='timezone = "Pacific/Fiji"')
    base = f"/api/v1/lists/{world['mine'].pk}"

    counted = scoped.get(f"{base}/audiences/{audience.pk}/count").json()["count"]
    members = scoped.get(f"{base}/audiences/{audience.pk}/contacts/").json()["results"]
    adhoc = scoped.get(f"{base}/contacts/", {"q": 'timezone = "Pacific/Fiji"'}).json()["results"]

    # The token cannot learn the shared contact's time zone by asking who has it.
    assert (counted, members, adhoc) == (0, [], [])
    # A full-access token, and a rule on fields the token may see, still find it.
    assert client.get(f"{base}/audiences/{audience.pk}/count").json()["count"] == 1
    active = scoped.get(f"{base}/contacts/", {"q": "status = active"}).json()["results"]
    assert both.pk in [row["contact"]["id"] for row in active]
