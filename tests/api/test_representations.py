"""The list serializers build their output directly for speed; it must equal what DRF would render
from the declared fields (which is also what the OpenAPI schema describes)."""

from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from contacts.models import Contact
from sendinglists.contacts.api.serializers import ContactSerializer, ContactV2Serializer
from sendinglists.models import ListContact
from sendinglists.subscriptions.api.serializers import MembershipSerializer
from tests.factories import ContactChannelFactory, ListContactFactory, TagFactory


def declared_output(serializer_class, instance, context=None):
    return serializers.ModelSerializer.to_representation(serializer_class(context=context or {}), instance)


def make_membership():
    now = timezone.now()
    membership = ListContactFactory(
        active=False,
        unsub_reason="complaint",
        opted_out_at=now,
        custom_fields={"plan": "pro", "score": 3},
        send_count=4,
        click_count=2,
        conversion_count=1,
        revenue_total=Decimal("12.50"),
        last_sent_at=now,
        last_clicked_at=now,
    )
    contact = membership.contact
    contact.tags.add(TagFactory(name="vip"), TagFactory(name="Alpha"))
    ContactChannelFactory(contact=contact)
    return membership


def test_membership_fast_output_equals_the_declared_fields(db):
    membership = ListContact.objects.select_related("contact").get(pk=make_membership().pk)
    fast = MembershipSerializer(membership).data
    assert fast == declared_output(MembershipSerializer, membership)
    assert fast["revenue_total"] == 12.5
    assert fast["contact"]["tags"] == ["Alpha", "vip"]


def test_contact_fast_output_equals_the_declared_fields(db):
    membership = make_membership()
    contact = Contact.objects.get(pk=membership.contact_id)
    contact.scoped_memberships = [membership]
    for serializer_class in (ContactSerializer, ContactV2Serializer):
        fast = serializer_class(contact).data
        assert fast == declared_output(serializer_class, contact)
    assert ContactV2Serializer(contact).data["id"] == str(contact.uuid)


def test_fast_output_equals_the_declared_fields_for_a_blocked_contact(db):
    membership = make_membership()
    Contact.objects.filter(pk=membership.contact_id).update(blocked=True)
    membership = ListContact.objects.select_related("contact").get(pk=membership.pk)
    fast = MembershipSerializer(membership).data
    assert fast == declared_output(MembershipSerializer, membership)
    assert (fast["status"], fast["active"], fast["unsub_reason"]) == ("blocked", False, "complaint")

    contact = membership.contact
    contact.scoped_memberships = [membership]
    for serializer_class in (ContactSerializer, ContactV2Serializer):
        fast = serializer_class(contact).data
        assert fast == declared_output(serializer_class, contact)
        assert (fast["status"], fast["subscriptions"][0]["status"]) == ("blocked", "blocked")
