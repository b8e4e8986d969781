"""The consent ledger: an opt-out or a block belongs to the phone number, whatever happens to the
contact that held it (deleted, renumbered, re-created, given a channel)."""

import re

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact, NumberSuppression
from engagement.services.outbound import SendRefused, message_send
from sendinglists.actors import Actor
from sendinglists.choices import UnsubReason
from sendinglists.contacts.numbers import contact_change_phone, contact_channel_add_checked
from sendinglists.contacts.services import contact_block, contact_delete, contact_unblock
from sendinglists.models import ImportJob, ListContact, SubscriptionEvent
from sendinglists.subscriptions.consent import suppression_standing
from sendinglists.subscriptions.memberships import list_contact_delete
from sendinglists.subscriptions.opt_out import list_contact_opt_out, number_opt_out_everywhere
from sendinglists.subscriptions.subscribe import Outcome, list_contact_resubscribe, list_contact_subscribe
from tests.factories import ContactFactory, SendingListFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
FIRST, SECOND, THIRD = "+14155550126", "+14155550127", "+14155550128"


def subscribe(sending_list, contact):
    return list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    )


def active_numbers(sending_list) -> set[str]:
    return set(
        ListContact.objects.filter(sending_list=sending_list, active=True).values_list(
            "contact__phone_number", flat=True
        )
    )


@pytest.fixture
def scoped(make_client):
    sending_list = SendingListFactory(name="Offers")
    return sending_list, make_client(sending_lists=[sending_list])


def test_an_opt_out_survives_deleting_its_contact_and_renumbering_another_onto_it(scoped):
    """The outside review's first finding, step by step with a token limited to the list."""
    offers, client = scoped
    base = f"/api/v1/lists/{offers.pk}/contacts/"
    first = client.post(base, {"phone_number": FIRST}, format="json").json()["membership"]["contact"]["id"]
    assert client.post(f"{base}{first}/unsubscribe/", format="json").status_code == 200
    second = client.post(base, {"phone_number": SECOND}, format="json").json()["membership"]["contact"]["id"]
    assert client.delete(f"/api/v1/contacts/{first}").status_code == 204

    response = client.patch(f"/api/v1/contacts/{second}", {"phone_number": FIRST}, format="json")

    assert response.status_code == 400
    assert response.json()["field_errors"]["phone_number"] == [
        f"{FIRST} opted out of Offers ({offers.phone_number}), where this contact is subscribed; "
        "unsubscribe the contact there first, or have the number send START."
    ]
    assert Contact.objects.get(pk=second).phone_number == SECOND
    assert active_numbers(offers) == {SECOND}
    again = client.post(base, {"phone_number": FIRST}, format="json")
    assert again.status_code == 200
    assert again.json()["outcome"] == Outcome.SKIPPED_OPTED_OUT
    assert active_numbers(offers) == {SECOND}


def test_one_contact_cannot_shed_its_opt_out_by_moving_its_number_away_and_back(client):
    offers = SendingListFactory(name="Offers")
    contact = ContactFactory(phone_number=FIRST)
    membership = subscribe(offers, contact).membership
    list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=SYSTEM)
    contact_change_phone(contact=contact, phone_number=SECOND, actor=SYSTEM)
    list_contact_delete(membership=membership, actor=SYSTEM)
    resubscribed = client.post(
        f"/api/v1/lists/{offers.pk}/contacts/", {"contact_id": contact.pk}, format="json"
    ).json()
    assert resubscribed["outcome"] == Outcome.CREATED  # SECOND never opted out of Offers

    with pytest.raises(ValidationError, match=re.escape(f"{FIRST} opted out of Offers")):
        contact_change_phone(contact=contact, phone_number=FIRST, actor=SYSTEM)

    contact.refresh_from_db()
    assert contact.phone_number == SECOND
    assert suppression_standing(sending_list_id=offers.pk, phone_number=FIRST).reason == "message"


def test_a_phone_change_onto_a_number_that_opted_out_elsewhere_is_allowed():
    offers, news = SendingListFactory(name="Offers"), SendingListFactory(name="News")
    gone = ContactFactory(phone_number=FIRST)
    list_contact_opt_out(membership=subscribe(news, gone).membership, reason="manual", actor=SYSTEM)
    contact_delete(contact=gone)
    contact = ContactFactory(phone_number=SECOND)
    subscribe(offers, contact)

    contact = contact_change_phone(contact=contact, phone_number=FIRST, actor=SYSTEM)

    assert active_numbers(offers) == {FIRST}
    assert subscribe(news, contact).outcome == Outcome.SKIPPED_OPTED_OUT
    assert active_numbers(news) == set()


def test_a_deleted_contacts_opt_out_stands_against_an_api_create_an_import_and_a_bulk_upsert(client):
    offers = SendingListFactory(name="Offers")
    contact = ContactFactory(phone_number=FIRST, first_name="Ann", email="ann@example.com")
    list_contact_opt_out(membership=subscribe(offers, contact).membership, reason="complaint", actor=SYSTEM)
    contact_delete(contact=contact)

    # POST /contacts/ takes no sending_list (it was silently ignored here; now it would be a 400):
    # the create, then the list's subscribe.
    created = client.post("/api/v1/contacts/", {"phone_number": FIRST}, format="json")
    subscribed = client.post(f"/api/v1/lists/{offers.pk}/contacts/", {"phone_number": FIRST}, format="json")
    bulk = client.post(
        "/api/v1/contacts/bulk/",
        {"contacts": [{"phone_number": FIRST, "sending_list": offers.pk}]},
        format="json",
    )

    assert created.status_code == 201
    assert (subscribed.status_code, subscribed.json()["outcome"]) == (200, "skipped_opted_out")
    assert bulk.status_code == 200, bulk.json()
    membership = ListContact.objects.get(sending_list=offers)
    assert (membership.active, membership.unsub_reason) == (False, "complaint")
    # Personal data went with the contact; the evidence stayed with the number.
    event = SubscriptionEvent.objects.filter(kind="opted_out", reason="complaint").earliest("id")
    assert (event.phone_number, event.sending_list_id, event.contact_id) == (FIRST, offers.pk, None)
    assert Contact.objects.get().first_name == ""


def test_stopall_stands_on_lists_made_later_and_start_lifts_one_list_only():
    offers, news = SendingListFactory(name="Offers"), SendingListFactory(name="News")
    contact = ContactFactory(phone_number=FIRST)
    number_opt_out_everywhere(contact=contact, actor=SYSTEM)
    later = SendingListFactory(name="Later")

    for sending_list in (offers, news, later):
        assert subscribe(sending_list, contact).outcome == Outcome.SKIPPED_OPTED_OUT
    offers_membership = ListContact.objects.get(sending_list=offers, contact=contact)
    assert list_contact_resubscribe(membership=offers_membership, actor=SYSTEM).changed

    assert active_numbers(offers) == {FIRST}
    assert suppression_standing(sending_list_id=offers.pk, phone_number=FIRST) is None
    for sending_list in (news, later):
        assert suppression_standing(sending_list_id=sending_list.pk, phone_number=FIRST).reason == "message"
    assert active_numbers(news) == active_numbers(later) == set()


def test_a_block_belongs_to_the_number_through_deletion_re_creation_and_renumbering(client):
    offers = SendingListFactory()
    blocked = ContactFactory(phone_number=FIRST)
    contact_block(contact=blocked, actor=SYSTEM)
    contact_delete(contact=blocked)

    # POST /contacts/ takes no sending_list (it was silently ignored here; now it would be a 400):
    # the create, then the list's subscribe.
    response = client.post("/api/v1/contacts/", {"phone_number": FIRST}, format="json")
    subscribed = client.post(f"/api/v1/lists/{offers.pk}/contacts/", {"phone_number": FIRST}, format="json")

    again = Contact.objects.get(phone_number=FIRST)
    assert response.status_code == 201
    assert (response.json()["blocked"], again.blocked) == (True, True)
    assert (subscribed.status_code, subscribed.json()["outcome"]) == (200, "skipped_blocked")
    assert not ListContact.objects.filter(contact=again).exists()
    other = ContactFactory(phone_number=SECOND)
    with pytest.raises(ValidationError, match=re.escape(f"{FIRST} is blocked")):
        contact_change_phone(contact=other, phone_number=FIRST, actor=SYSTEM)
    # A blocked contact's new number is blocked too; unblocking lifts the block of the number it has.
    contact_change_phone(contact=again, phone_number=THIRD, actor=SYSTEM)
    assert NumberSuppression.objects.filter(kind="block").count() == 2
    contact_unblock(contact=again, actor=SYSTEM)
    assert set(NumberSuppression.objects.filter(kind="block").values_list("phone_number", flat=True)) == {
        FIRST
    }
    assert subscribe(offers, again).outcome == Outcome.CREATED


@pytest.mark.django_db(transaction=True)  # the command's chunks run after its commit, as in production
def test_an_import_re_creating_a_blocked_number_creates_it_blocked_and_subscribes_nothing(tmp_path):
    from django.core.management import call_command

    offers = SendingListFactory()
    blocked = ContactFactory(phone_number=FIRST)
    contact_block(contact=blocked, actor=SYSTEM)
    contact_delete(contact=blocked)
    path = tmp_path / "people.csv"
    path.write_text(f"phone\n{FIRST}\n{SECOND}\n")

    call_command(
        "import_contacts", str(path), "--list", offers.phone_number, "--consent", "They signed up in store."
    )

    assert Contact.objects.get(phone_number=FIRST).blocked is True
    assert active_numbers(offers) == {SECOND}


def test_a_phone_channel_that_opted_out_where_the_contact_is_active_is_refused():
    offers = SendingListFactory(name="Offers")
    gone = ContactFactory(phone_number=FIRST)
    list_contact_opt_out(membership=subscribe(offers, gone).membership, reason="message", actor=SYSTEM)
    contact_delete(contact=gone)
    contact = ContactFactory(phone_number=SECOND)
    subscribe(offers, contact)

    with pytest.raises(ValidationError, match=re.escape(f"{FIRST} opted out of Offers")):
        contact_channel_add_checked(contact=contact, kind="phone", value=FIRST)

    assert not contact.channels.exists()


def test_nothing_is_sent_to_an_active_member_whose_number_the_ledger_holds_as_opted_out(settings):
    settings.SMS_BACKEND = "engagement.backends.locmem.LocMemBackend"
    offers = SendingListFactory(name="Offers")
    contact = ContactFactory(phone_number=FIRST)
    subscribe(offers, contact)
    # Data from before the ledger: the number's opt-out stands while a membership reads active.
    NumberSuppression.objects.create(
        phone_number=FIRST,
        sending_list_id=offers.pk,
        kind="opt_out",
        reason="message",
        occurred_at="2026-01-01T00:00Z",
    )

    with pytest.raises(SendRefused, match=re.escape(f"{FIRST} opted out of Offers")):
        message_send(sending_list=offers, contact=contact, body="Sale!")

    # The next subscribe of that number settles it: the opt-out wins, with an event.
    assert subscribe(offers, contact).outcome == Outcome.SKIPPED_OPTED_OUT
    assert active_numbers(offers) == set()


def test_the_admin_refuses_a_phone_change_onto_an_opted_out_number_next_to_the_field(staff_user):
    from django.test import Client

    from tests.admin_forms import _change, admin_form_data

    admin_client = Client()
    admin_client.force_login(staff_user)

    offers = SendingListFactory(name="Offers")
    gone = ContactFactory(phone_number=FIRST)
    list_contact_opt_out(membership=subscribe(offers, gone).membership, reason="message", actor=SYSTEM)
    contact_delete(contact=gone)
    contact = ContactFactory(phone_number=SECOND)
    subscribe(offers, contact)
    data = admin_form_data(admin_client.get(_change(contact)))

    response = admin_client.post(_change(contact), {**data, "phone_number": "(415) 555-0126"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone_number"] == [
        f"{FIRST} opted out of Offers ({offers.phone_number}), where this contact is subscribed; "
        "unsubscribe the contact there first, or have the number send START."
    ]
    contact.refresh_from_db()
    assert contact.phone_number == SECOND


@pytest.mark.django_db(transaction=True)
def test_an_opt_out_file_opts_out_members_and_suppresses_unknown_numbers_with_their_reasons(tmp_path):
    from django.core.management import call_command

    offers = SendingListFactory(name="Offers")
    member = ContactFactory(phone_number=FIRST)
    subscribe(offers, member)
    bystander = ContactFactory(phone_number=THIRD)
    subscribe(offers, bystander)
    path = tmp_path / "opted-out-elsewhere.csv"
    path.write_text(
        f"phone,reason\n{FIRST},complaint\n{SECOND},\nnot a number,message\n+14155550129,sometimes\n"
    )

    call_command("import_contacts", str(path), "--list", offers.phone_number, "--opt-outs")

    job = ImportJob.objects.get()
    assert (job.mode, job.opted_out, job.errors, job.consent_attestation) == ("opt_out", 2, 2, "")
    assert active_numbers(offers) == {THIRD}
    first = ListContact.objects.get(contact=member)
    assert (first.active, first.unsub_reason) == (False, "complaint")
    # A number that was never a contact is suppressed too, with the default reason.
    second = ListContact.objects.get(contact__phone_number=SECOND)
    assert (second.active, second.unsub_reason) == (False, "message")
    assert suppression_standing(sending_list_id=offers.pk, phone_number=SECOND).reason == "message"
    events = SubscriptionEvent.objects.filter(kind="opted_out", actor_kind="import", actor_id=str(job.pk))
    assert sorted(events.values_list("phone_number", flat=True)) == [FIRST, SECOND]
    assert subscribe(offers, ContactFactory(phone_number="+14155550199")).outcome == Outcome.CREATED
    assert subscribe(offers, second.contact).outcome == Outcome.SKIPPED_OPTED_OUT


@pytest.mark.django_db(transaction=True)
def test_every_subscription_an_import_writes_names_the_attested_consent(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    offers = SendingListFactory(name="Offers")
    path = tmp_path / "people.csv"
    path.write_text(f"phone\n{FIRST}\n{SECOND}\n")

    with pytest.raises(CommandError, match="Say how these contacts gave consent"):
        call_command("import_contacts", str(path), "--list", offers.phone_number)
    assert not ImportJob.objects.exists()
    call_command(
        "import_contacts", str(path), "--list", offers.phone_number, "--consent", "Signed up in store"
    )

    job = ImportJob.objects.get()
    assert job.consent_attestation == "Signed up in store"
    assert job.attested_by_label.startswith("import_contacts command (")
    notes = set(SubscriptionEvent.objects.filter(kind="subscribed").values_list("note", flat=True))
    assert notes == {
        f"Consent attested by {job.attested_by_label} on {job.attested_at:%Y-%m-%d %H:%M} UTC (import #{job.pk})."
    }


def test_the_imports_api_refuses_a_subscribing_import_without_attestation_and_keeps_nothing(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    offers = SendingListFactory()
    file = SimpleUploadedFile("people.csv", f"phone\n{FIRST}\n".encode(), content_type="text/csv")

    response = client.post("/api/v1/imports/", {"file": file, "sending_list": offers.pk}, format="multipart")

    assert response.status_code == 400
    assert list(response.json()["field_errors"]) == ["consent_attestation"]
    assert not ImportJob.objects.exists()
    assert not Contact.objects.exists()


def test_the_imports_api_takes_an_opt_out_file(client, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    offers = SendingListFactory()
    file = SimpleUploadedFile("stops.csv", f"phone\n{FIRST}\n".encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports/",
            {"file": file, "sending_list": offers.pk, "mode": "opt_out"},
            format="multipart",
        )

    assert response.status_code == 201, response.json()
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (body["mode"], body["status"], body["counts"]["opted_out"]) == ("opt_out", "completed", 1)
    assert suppression_standing(sending_list_id=offers.pk, phone_number=FIRST).reason == "message"


def test_the_contact_page_shows_a_stopall_as_an_opt_out_of_every_list(staff_user):
    from django.test import Client

    offers = SendingListFactory(name="Offers")
    contact = ContactFactory(phone_number=FIRST)
    subscribe(offers, contact)
    number_opt_out_everywhere(contact=contact, actor=SYSTEM)
    operator = Client()
    operator.force_login(staff_user)

    page = operator.get(f"/contacts/{contact.pk}/").content.decode()

    assert "<strong>Unsubscribed</strong> · Opted-out · every list (STOPALL)" in page


def test_the_ledger_admin_finds_what_stands_against_a_number_and_cannot_change_it(staff_user):
    from django.test import Client

    offers = SendingListFactory(name="Offers")
    contact = ContactFactory(phone_number=FIRST)
    list_contact_opt_out(membership=subscribe(offers, contact).membership, reason="complaint", actor=SYSTEM)
    number_opt_out_everywhere(contact=contact, actor=SYSTEM)
    operator = Client()
    operator.force_login(staff_user)

    page = operator.get("/admin/contacts/numbersuppression/", {"q": "(415) 555-0126"})
    row = NumberSuppression.objects.get(sending_list_id=offers.pk)

    assert page.status_code == 200
    html = page.content.decode()
    assert str(offers) in html and "Every list" in html and f"Event #{row.event_id}" in html
    assert (
        operator.post(f"/admin/contacts/numbersuppression/{row.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert NumberSuppression.objects.filter(pk=row.pk).exists()


def test_deleting_a_contact_keeps_its_messages_as_evidence_without_what_they_said(client):
    from engagement.models import Message

    offers = SendingListFactory()
    contact = ContactFactory(phone_number=FIRST, first_name="Ann")
    membership = subscribe(offers, contact).membership
    stop = Message.objects.create(
        direction="inbound",
        sending_list=offers,
        contact=contact,
        list_contact=membership,
        from_number=FIRST,
        to_number=offers.phone_number,
        body="STOP, and my address is 1 Main St",
        provider_message_id="SMkept",
        keyword="opt_out",
        needs_review=True,
        status="received",
        sent_at="2026-01-01T00:00Z",
    )

    assert client.delete(f"/api/v1/contacts/{contact.pk}").status_code == 204

    stop.refresh_from_db()
    assert (stop.contact_id, stop.list_contact_id, stop.body, stop.needs_review) == (None, None, "", False)
    assert (stop.provider_message_id, stop.from_number, stop.keyword) == ("SMkept", FIRST, "opt_out")
    assert not Contact.objects.filter(first_name="Ann").exists()
