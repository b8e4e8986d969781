"""The contact admin (sendinglists/contacts/admin.py): phone search in any format, audited
actions through the services, the contact form and its membership inline, formula-safe exports."""

import csv
import io

import pytest
from django.urls import reverse

from contacts.models import Contact, ContactChannel
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, UnsubReason
from sendinglists.contacts.services import contact_block
from sendinglists.lists.services import custom_field_create, list_status_counts
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from tests.admin_forms import _action, _change, _changelist, _export, _results, _subscribe, admin_form_data
from tests.factories import ContactFactory, SendingListFactory, TagFactory

pytestmark = pytest.mark.django_db


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


def test_the_contact_form_names_the_contact_already_holding_a_number_and_changes_nothing(admin_client):
    other = ContactFactory(phone_number="+14155550188")
    ContactChannel.objects.create(contact=other, kind="phone", value="+14155550189")
    contact = ContactFactory(phone_number="+14155550187")
    data = admin_form_data(admin_client.get(_change(contact)))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS") and "channel" in key).removesuffix(
        "-TOTAL_FORMS"
    )

    response = admin_client.post(
        _change(contact),
        {
            **data,
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-0-kind": "phone",
            f"{prefix}-0-value": "4155550188",
        },
    )
    merge = f"{reverse('contact_pages:merge', args=[contact.pk])}?duplicate={other.pk}"
    offer = (
        f' <a href="{reverse("contact_pages:detail", args=[other.pk])}">Open contact #{other.pk}</a>'
        f' · <a href="{merge}">Merge them…</a>'
    )
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][-1].formset.errors[0]["value"] == [
        f"+14155550188 is already the phone number of contact #{other.pk}.{offer}"
    ]
    assert f'<a href="{merge}">Merge them…</a>' in response.content.decode()

    response = admin_client.post(_change(contact), {**data, "phone_number": "(415) 555-0189"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone_number"] == [
        f"+14155550189 is already a channel of contact #{other.pk}.{offer}"
    ]
    response = admin_client.post(_change(contact), {**data, "phone_number": "(415) 555-0188"})
    assert response.context["adminform"].form.errors["phone_number"] == [
        f"+14155550188 is already the phone number of contact #{other.pk}.{offer}"
    ]
    contact.refresh_from_db()
    assert (contact.phone_number, contact.channels.count()) == ("+14155550187", 0)


def test_the_channels_inline_refuses_the_contacts_own_phone_and_audits_a_blocked_contacts_channel_as_the_user(
    admin_client, staff_user
):
    contact = ContactFactory(phone_number="+14155550187")
    contact_block(contact=contact, actor=Actor.system("test"))
    data = admin_form_data(admin_client.get(_change(contact)))
    prefix = next(key for key in data if key.endswith("-TOTAL_FORMS") and "channel" in key).removesuffix(
        "-TOTAL_FORMS"
    )
    channel = {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-kind": "phone"}

    response = admin_client.post(_change(contact), {**data, **channel, f"{prefix}-0-value": "4155550187"})
    assert response.context["inline_admin_formsets"][-1].formset.errors[0]["value"] == [
        "This is the contact's phone number: a channel is another number."
    ]

    response = admin_client.post(_change(contact), {**data, **channel, f"{prefix}-0-value": "4155550186"})
    assert response.status_code == 302
    event = SubscriptionEvent.objects.get(kind=EventKind.BLOCKED, note__contains="+14155550186")
    assert (event.actor_kind, event.actor_id) == ("user", str(staff_user.pk))


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
    holder = Contact.objects.get()
    assert taken.context["adminform"].form.errors["phone_number"] == [
        f"+14155550100 is already the phone number of contact #{holder.pk}."
        f' <a href="{reverse("contact_pages:detail", args=[holder.pk])}">Open contact #{holder.pk}</a>'
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
