"""The merge pages (engagement/contacts/merge_views.py): the preview side by side, its confirm, the
possible duplicates, and the Contact admin's action that leads to the preview."""

import pytest
from django.urls import reverse

from contacts.models import Contact, ContactChannel
from contacts.services import contact_set_tags
from sendinglists.actors import Actor
from sendinglists.choices import EventKind
from sendinglists.models import ContactMerge, ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import ContactFactory, SendingListFactory
from tests.staff import CHANGE_PERMISSIONS, VIEW_PERMISSIONS, staff_with

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")


@pytest.fixture
def merger(client):
    user = staff_with(*VIEW_PERMISSIONS, *CHANGE_PERMISSIONS, "contacts.delete_contact", username="merger")
    client.force_login(user)
    return user


@pytest.fixture
def pair():
    deals = SendingListFactory(name="Deals")
    survivor = ContactFactory(phone_number="+16285550401", first_name="Ana", email="ana@example.com")
    duplicate = ContactFactory(phone_number="+16285550402", first_name="Anna", email="Ana@Example.com")
    list_contact_subscribe(sending_list=deals, contact=survivor, signup_method="api", actor=SYSTEM)
    membership = list_contact_subscribe(
        sending_list=deals, contact=duplicate, signup_method="api", actor=SYSTEM
    ).membership
    list_contact_opt_out(membership=membership, reason="complaint", actor=SYSTEM)
    return deals, survivor, duplicate


def merge_url(contact):
    return reverse("contact_pages:merge", args=[contact.pk])


def test_contact_page_offers_merge_to_those_who_may(client, merger, pair):
    _, survivor, _ = pair
    assert merge_url(survivor) in client.get(f"/contacts/{survivor.pk}/").content.decode()


def test_contact_page_hides_merge_from_an_operator_without_delete(client, operator, pair):
    _, survivor, duplicate = pair
    assert merge_url(survivor) not in client.get(f"/contacts/{survivor.pk}/").content.decode()
    assert client.get(f"{merge_url(survivor)}?duplicate={duplicate.pk}").status_code == 403
    assert client.post(merge_url(survivor), {"duplicate": duplicate.pk}).status_code == 403
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_merge_page_suggests_the_same_email(client, merger, pair):
    _, survivor, duplicate = pair
    response = client.get(merge_url(survivor))
    assert response.status_code == 200
    assert f'href="?duplicate={duplicate.pk}"' in response.content.decode()


def test_preview_shows_both_sides_and_the_result_without_changing_anything(client, merger, pair):
    deals, survivor, duplicate = pair
    contact_set_tags(contact=survivor, names=["a", "b", "c", "d", "e"])
    contact_set_tags(contact=duplicate, names=["zz"])

    response = client.get(merge_url(survivor), {"duplicate": "(628) 555-0402"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Merge (628) 555-0402 into (628) 555-0401</h1>" in page
    assert f'data-testid="merge-result-{deals.pk}">Complaint<' in page
    assert "Not kept (five at most): zz" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert Contact.objects.filter(pk=duplicate.pk).exists()
    assert ListContact.objects.get(sending_list=deals, contact=survivor).active is True


def test_preview_of_an_unknown_contact_is_a_404(client, merger, pair):
    _, survivor, _ = pair
    assert client.get(merge_url(survivor), {"duplicate": "999999"}).status_code == 404
    assert client.get(merge_url(survivor), {"duplicate": str(survivor.pk)}).status_code == 400


def test_confirm_merges_and_names_the_user(client, merger, pair):
    deals, survivor, duplicate = pair
    duplicate_id = duplicate.pk

    response = client.post(merge_url(survivor), {"duplicate": duplicate_id})

    assert response.status_code == 302
    assert response.url == f"/contacts/{survivor.pk}/"
    assert not Contact.objects.filter(pk=duplicate_id).exists()
    membership = ListContact.objects.get(sending_list=deals, contact=survivor)
    assert (membership.active, membership.unsub_reason) == (False, "complaint")
    event = SubscriptionEvent.objects.get(kind=EventKind.MERGED)
    assert (event.user, event.actor_label) == (merger, "merger")
    page = client.get(response.url).content.decode()
    assert f"Merged contact #{duplicate_id} (+16285550402) into this one" in page
    assert ContactChannel.objects.filter(contact=survivor, value="+16285550402").exists()
    # Posting again (a double submit) answers that it is done, and writes nothing.
    again = client.post(merge_url(survivor), {"duplicate": duplicate_id})
    assert again.status_code == 302
    assert SubscriptionEvent.objects.filter(kind=EventKind.MERGED).count() == 1


def test_confirm_needs_csrf(merger, pair):
    from django.test import Client

    _, survivor, duplicate = pair
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(merger)
    assert strict.post(merge_url(survivor), {"duplicate": duplicate.pk}).status_code == 403
    assert Contact.objects.filter(pk=duplicate.pk).exists()


def test_refused_merge_shows_why_and_changes_nothing(client, merger, pair):
    _, survivor, duplicate = pair

    response = client.post(merge_url(survivor), {"duplicate": survivor.pk})

    assert response.status_code == 400
    assert "A contact cannot be merged with itself." in response.content.decode()
    assert Contact.objects.filter(pk=duplicate.pk).exists()
    assert not ContactMerge.objects.exists()


def test_duplicates_page_lists_pairs_with_merge_links(client, merger, pair):
    _, survivor, duplicate = pair
    response = client.get(reverse("contact_pages:duplicates"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Same email ana@example.com" in page
    assert f"{merge_url(survivor)}?duplicate={duplicate.pk}" in page


def test_the_pages_show_an_email_channel_pair(client, merger, pair):
    _, survivor, _ = pair
    holder = ContactFactory(phone_number="+16285550403", email="")
    ContactChannel.objects.create(contact=holder, kind="email", value="ana@example.com")

    duplicates = client.get(reverse("contact_pages:duplicates")).content.decode()
    suggestions = client.get(merge_url(holder)).content.decode()

    assert "ana@example.com: an email channel of the first, the second's email" in duplicates
    assert f"{merge_url(holder)}?duplicate={survivor.pk}" in duplicates
    assert f'href="?duplicate={survivor.pk}"' in suggestions
    assert "ana@example.com is one's email and the other's email channel" in suggestions


def test_duplicates_page_shows_no_merge_links_to_a_viewer(client, viewer, pair):
    _, survivor, _ = pair
    page = client.get(reverse("contact_pages:duplicates")).content.decode()
    assert "Same email" in page
    assert merge_url(survivor) not in page


def test_admin_action_leads_to_the_preview_of_two_selected_contacts(admin_client, pair):
    _, survivor, duplicate = pair
    response = admin_client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "merge_contacts", "_selected_action": [duplicate.pk, survivor.pk]},
    )
    assert response.status_code == 302
    assert response.url == f"{merge_url(survivor)}?duplicate={duplicate.pk}"
    assert admin_client.get(response.url).status_code == 200


def test_admin_action_refuses_anything_but_two(admin_client, pair):
    _, survivor, _ = pair
    response = admin_client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "merge_contacts", "_selected_action": [survivor.pk]},
        follow=True,
    )
    assert "Select exactly two contacts to merge" in response.content.decode()
    assert Contact.objects.count() == 2
