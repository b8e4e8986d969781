import pytest
from django.db import IntegrityError
from django.utils import timezone

from sendinglists.choices import MembershipStatus, status_filter_kwargs
from sendinglists.models import ListContact
from tests.factories import ContactFactory, CustomFieldFactory, ListContactFactory, SendingListFactory


@pytest.mark.parametrize(
    ("active", "reason", "label", "status"),
    [
        # seed 000's status table, row by row
        (True, "", "Active", "active"),
        (False, "message", "Opted-out", "message"),
        (False, "bad_response", "Bad response", "bad_response"),
        (False, "invalid_contact", "Invalid contact", "invalid_contact"),
        (False, "manual", "Manual", "manual"),
        (False, "complaint", "Complaint", "complaint"),
    ],
)
def test_status_a_person_reads_derives_from_active_and_reason(active, reason, label, status):
    membership = ListContact(active=active, unsub_reason=reason)

    assert membership.status_label == label
    assert membership.status == status


def test_status_filter_kwargs_map_each_status_to_fields():
    assert status_filter_kwargs("active") == {"active": True}
    assert status_filter_kwargs("complaint") == {"active": False, "unsub_reason": "complaint"}
    with pytest.raises(ValueError):
        status_filter_kwargs("nonsense")
    assert len(MembershipStatus.values) == 6


@pytest.mark.django_db
def test_membership_is_unique_per_list_and_contact():
    membership = ListContactFactory()

    with pytest.raises(IntegrityError):
        ListContactFactory(sending_list=membership.sending_list, contact=membership.contact)


@pytest.mark.django_db
def test_an_active_membership_cannot_carry_an_opt_out_reason():
    with pytest.raises(IntegrityError):
        ListContactFactory(active=True, unsub_reason="message")


@pytest.mark.django_db
def test_an_inactive_membership_needs_a_reason_and_an_opt_out_time():
    with pytest.raises(IntegrityError):
        ListContactFactory(active=False, unsub_reason="", opted_out_at=timezone.now())


@pytest.mark.django_db
def test_an_inactive_membership_without_opt_out_time_is_refused():
    with pytest.raises(IntegrityError):
        ListContactFactory(active=False, unsub_reason="manual", opted_out_at=None)


@pytest.mark.django_db
def test_unknown_reason_is_refused_by_the_database():
    with pytest.raises(IntegrityError):
        ListContactFactory(active=False, unsub_reason="bored", opted_out_at=timezone.now())


@pytest.mark.django_db
def test_revenue_total_cannot_be_negative():
    with pytest.raises(IntegrityError):
        ListContactFactory(revenue_total=-1)


@pytest.mark.django_db
def test_sending_list_phone_is_unique_and_e164():
    SendingListFactory(phone_number="+18005551234")

    with pytest.raises(IntegrityError):
        SendingListFactory(phone_number="+18005551234")


@pytest.mark.django_db
def test_custom_field_key_is_unique_per_list_only():
    field = CustomFieldFactory(key="state")
    CustomFieldFactory(key="state")  # another list: fine

    with pytest.raises(IntegrityError):
        CustomFieldFactory(key="state", sending_list=field.sending_list)


@pytest.mark.django_db
def test_a_contact_can_belong_to_many_lists():
    contact = ContactFactory()
    ListContactFactory(contact=contact)
    ListContactFactory(contact=contact)

    assert contact.memberships.count() == 2
