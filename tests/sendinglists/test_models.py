import pytest
from django.db import IntegrityError
from django.utils import timezone

from sendinglists.choices import MembershipStatus
from sendinglists.models import ListContact
from sendinglists.subscriptions.selectors import status_condition
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


@pytest.mark.parametrize(
    ("active", "reason", "label"),
    [
        (True, "", "Blocked"),
        (False, "message", "Blocked (Opted-out)"),
        (False, "complaint", "Blocked (Complaint)"),
    ],
)
def test_a_blocked_contacts_membership_reads_blocked_whatever_its_status(active, reason, label):
    membership = ListContact(active=active, unsub_reason=reason, contact=ContactFactory.build(blocked=True))

    assert membership.display_status == MembershipStatus.BLOCKED
    assert membership.display_status_label == label
    assert membership.status == (MembershipStatus.ACTIVE if active else reason)  # the subscription itself


def test_a_membership_of_a_contact_not_blocked_reads_its_status():
    membership = ListContact(active=False, unsub_reason="manual", contact=ContactFactory.build())

    assert (membership.display_status, membership.display_status_label) == (MembershipStatus.MANUAL, "Manual")


@pytest.mark.django_db
def test_status_condition_selects_what_each_status_reads():
    active = ListContactFactory()
    manual = ListContactFactory(active=False, unsub_reason="manual", opted_out_at=timezone.now())
    blocked_active = ListContactFactory(contact=ContactFactory(blocked=True))
    blocked_manual = ListContactFactory(
        contact=ContactFactory(blocked=True), active=False, unsub_reason="manual", opted_out_at=timezone.now()
    )

    def matching(status):
        return set(ListContact.objects.filter(status_condition(status)).values_list("pk", flat=True))

    assert matching("active") == {active.pk}
    assert matching("manual") == {manual.pk}
    assert matching("blocked") == {blocked_active.pk, blocked_manual.pk}
    assert matching("complaint") == set()
    with pytest.raises(ValueError):
        status_condition("nonsense")
    assert len(MembershipStatus.values) == 7


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
