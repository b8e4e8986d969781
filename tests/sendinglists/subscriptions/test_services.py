import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from sendinglists.actors import Actor
from sendinglists.contacts.services import contact_block, contact_delete, contact_unblock
from sendinglists.lists.services import (
    custom_field_create,
    list_status_counts,
    list_status_counts_squash,
    sending_list_create,
)
from sendinglists.models import ListContact, ListStatusCount, SendingList, SubscriptionEvent
from sendinglists.subscriptions.memberships import list_contact_delete, list_contact_update_custom_fields
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import (
    Outcome,
    list_contact_resubscribe,
    list_contact_subscribe,
    subscription_outcome,
)
from tests.factories import ContactFactory, SendingListFactory, UserFactory

SYSTEM = Actor.system("test")


def subscribe(sending_list, contact, method="api", **kwargs):
    return list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method=method,
        actor=kwargs.pop("actor", SYSTEM),
        **kwargs,
    )


def counts(sending_list):
    return {
        k: v for k, v in list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk].items() if v
    }


@pytest.mark.parametrize(
    ("active", "blocked", "suppressed", "expected"),
    [
        (None, False, False, Outcome.CREATED),
        (None, False, True, Outcome.SKIPPED_OPTED_OUT),
        (True, False, False, Outcome.UPDATED),
        (False, False, False, Outcome.SKIPPED_OPTED_OUT),
        (None, True, False, Outcome.SKIPPED_BLOCKED),
        (True, True, False, Outcome.SKIPPED_BLOCKED),
        (False, True, True, Outcome.SKIPPED_BLOCKED),
    ],
)
def test_subscription_outcome_decides_every_case(active, blocked, suppressed, expected):
    assert (
        subscription_outcome(membership_active=active, contact_blocked=blocked, suppressed=suppressed)
        == expected
    )


@pytest.mark.django_db
def test_subscribe_creates_an_active_membership_with_an_audited_event():
    sending_list, contact, user = SendingListFactory(), ContactFactory(), UserFactory()

    result = subscribe(sending_list, contact, "import", actor=Actor.for_user(user))

    membership = result.membership
    assert result.outcome == Outcome.CREATED
    assert (membership.active, membership.unsub_reason, membership.signup_method) == (True, "", "import")
    event = SubscriptionEvent.objects.get()
    assert (event.kind, event.signup_method, event.actor_kind, event.actor_id, event.user) == (
        "subscribed",
        "import",
        "user",
        str(user.pk),
        user,
    )
    assert event.phone_number == contact.phone_number
    assert counts(sending_list) == {"active": 1}


@pytest.mark.django_db
def test_subscribe_again_merges_custom_fields_and_records_no_event():
    sending_list, contact = SendingListFactory(), ContactFactory()
    custom_field_create(sending_list=sending_list, key="state")
    custom_field_create(sending_list=sending_list, key="plan")
    subscribe(sending_list, contact, custom_fields={"state": "CA", "plan": "pro"})

    result = subscribe(sending_list, contact, custom_fields={"state": "NY", "plan": ""})

    assert result.outcome == Outcome.UPDATED
    assert result.membership.custom_fields == {"state": "NY", "plan": "pro"}
    assert SubscriptionEvent.objects.count() == 1
    assert counts(sending_list) == {"active": 1}


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["import", "api", "journey"])
def test_subscribe_never_reactivates_an_opted_out_membership(method):
    sending_list, contact = SendingListFactory(), ContactFactory()
    custom_field_create(sending_list=sending_list, key="state")
    membership = subscribe(sending_list, contact, custom_fields={"state": "CA"}).membership
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)
    before = ListContact.objects.get(pk=membership.pk)

    result = subscribe(sending_list, contact, method, custom_fields={"state": "NY"})

    after = ListContact.objects.get(pk=membership.pk)
    assert result.outcome == Outcome.SKIPPED_OPTED_OUT
    assert "opted out of this list (Opted-out)" in result.reason
    assert (after.active, after.unsub_reason, after.custom_fields, after.updated_at) == (
        False,
        "message",
        {"state": "CA"},
        before.updated_at,
    )
    assert SubscriptionEvent.objects.filter(list_contact=membership).count() == 2
    assert counts(sending_list) == {"message": 1}


@pytest.mark.django_db
def test_a_blocked_contact_is_never_subscribed():
    sending_list, contact = SendingListFactory(), ContactFactory(blocked=True)

    result = subscribe(sending_list, contact)

    assert result.outcome == Outcome.SKIPPED_BLOCKED
    assert result.membership is None
    assert result.reason == "The contact is blocked and is never subscribed."
    assert ListContact.objects.count() == 0
    assert SubscriptionEvent.objects.count() == 0


@pytest.mark.django_db
def test_subscribe_validates_custom_fields_against_the_list_and_writes_nothing_on_error():
    sending_list, contact = SendingListFactory(), ContactFactory()
    custom_field_create(sending_list=sending_list, key="score", field_type="number")

    with pytest.raises(ValidationError) as error:
        subscribe(sending_list, contact, custom_fields={"score": "lots", "shoe": "9"})

    assert error.value.message_dict == {
        "custom_fields.score": ["Score: 'lots' is not a number."],
        "custom_fields.shoe": ["No custom field 'shoe' on this list; define it first (keys: score)."],
    }
    assert ListContact.objects.count() == 0


@pytest.mark.django_db
def test_custom_fields_are_accepted_by_key_or_by_field_id_and_typed():
    sending_list, contact = SendingListFactory(), ContactFactory()
    score = custom_field_create(sending_list=sending_list, key="score", field_type="number")
    custom_field_create(sending_list=sending_list, key="vip", field_type="boolean")
    custom_field_create(sending_list=sending_list, key="born", field_type="date")
    custom_field_create(sending_list=sending_list, key="plan", field_type="choice", choices=["Free", "Pro"])

    result = subscribe(
        sending_list,
        contact,
        custom_fields={str(score.pk): "42", "vip": "yes", "born": "07/04/1990", "plan": "pro"},
    )

    assert result.membership.custom_fields == {"score": 42, "vip": True, "born": "1990-07-04", "plan": "Pro"}


@pytest.mark.django_db
def test_unknown_signup_method_is_refused():
    with pytest.raises(ValidationError, match="Unknown signup method"):
        subscribe(SendingListFactory(), ContactFactory(), "carrier-pigeon")


@pytest.mark.django_db
def test_opt_out_records_reason_time_and_actor_and_moves_the_count():
    sending_list, contact = SendingListFactory(), ContactFactory()
    membership = subscribe(sending_list, contact).membership
    membership.in_workflow = True
    membership.save(update_fields=["in_workflow"])

    change = list_contact_opt_out(membership=membership, reason="complaint", actor=Actor.system("carrier"))

    membership.refresh_from_db()
    assert change.changed is True
    assert (membership.active, membership.unsub_reason, membership.in_workflow) == (False, "complaint", False)
    assert membership.opted_out_at is not None
    event = SubscriptionEvent.objects.filter(kind="opted_out").get()
    assert (event.reason, event.actor_kind, event.actor_label) == ("complaint", "system", "carrier")
    assert counts(sending_list) == {"complaint": 1}


@pytest.mark.django_db
def test_opt_out_twice_changes_nothing_the_second_time():
    membership = subscribe(SendingListFactory(), ContactFactory()).membership
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)

    change = list_contact_opt_out(membership=membership, reason="manual", actor=SYSTEM)

    membership.refresh_from_db()
    assert change.changed is False
    assert membership.unsub_reason == "message"
    assert SubscriptionEvent.objects.filter(kind="opted_out").count() == 1


@pytest.mark.django_db
def test_opt_out_rejects_an_unknown_reason():
    membership = subscribe(SendingListFactory(), ContactFactory()).membership

    with pytest.raises(ValidationError, match="Unknown opt-out reason"):
        list_contact_opt_out(membership=membership, reason="bored", actor=SYSTEM)

    membership.refresh_from_db()
    assert membership.active is True


@pytest.mark.django_db
def test_an_opt_out_older_than_the_latest_status_change_does_not_apply():
    now = timezone.now()
    membership = subscribe(SendingListFactory(), ContactFactory()).membership
    list_contact_opt_out(
        membership=membership, reason="message", actor=SYSTEM, occurred_at=now - dt.timedelta(minutes=10)
    )
    list_contact_resubscribe(membership=membership, actor=SYSTEM, occurred_at=now - dt.timedelta(minutes=5))

    stale = list_contact_opt_out(
        membership=membership, reason="message", actor=SYSTEM, occurred_at=now - dt.timedelta(minutes=7)
    )

    membership.refresh_from_db()
    assert stale.changed is False
    assert membership.active is True


@pytest.mark.django_db
def test_resubscribe_is_explicit_and_audited():
    sending_list, contact, user = SendingListFactory(), ContactFactory(), UserFactory()
    membership = subscribe(sending_list, contact).membership
    list_contact_opt_out(membership=membership, reason="manual", actor=SYSTEM)

    change = list_contact_resubscribe(
        membership=membership, actor=Actor.for_user(user), note="Asked by phone"
    )

    membership.refresh_from_db()
    assert change.changed is True
    assert (membership.active, membership.unsub_reason, membership.opted_out_at) == (True, "", None)
    event = SubscriptionEvent.objects.get(kind="resubscribed")
    assert (event.user, event.note) == (user, "Asked by phone")
    assert counts(sending_list) == {"active": 1}


@pytest.mark.django_db
def test_resubscribe_refuses_a_blocked_contact():
    contact = ContactFactory()
    membership = subscribe(SendingListFactory(), contact).membership
    list_contact_opt_out(membership=membership, reason="manual", actor=SYSTEM)
    contact_block(contact=contact, actor=SYSTEM)

    change = list_contact_resubscribe(membership=membership, actor=SYSTEM)

    membership.refresh_from_db()
    assert (change.changed, change.reason) == (False, "The contact is blocked; unblock it first.")
    assert membership.active is False
    assert not SubscriptionEvent.objects.filter(kind="resubscribed").exists()


@pytest.mark.django_db
def test_block_and_unblock_are_audited_once():
    contact, user = ContactFactory(), UserFactory()

    assert contact_block(contact=contact, actor=Actor.for_user(user)) is True
    assert contact_block(contact=contact, actor=Actor.for_user(user)) is False
    assert contact_unblock(contact=contact, actor=Actor.for_user(user)) is True

    contact.refresh_from_db()
    assert contact.blocked is False
    kinds = list(SubscriptionEvent.objects.order_by("id").values_list("kind", "user"))
    assert kinds == [("blocked", user.pk), ("unblocked", user.pk)]


@pytest.mark.django_db
def test_an_opt_out_survives_deleting_the_contact_and_adding_it_again():
    sending_list = SendingListFactory()
    contact = ContactFactory(phone_number="+14155550100")
    membership = subscribe(sending_list, contact).membership
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)
    contact_delete(contact=contact)
    assert counts(sending_list) == {}

    again = ContactFactory(phone_number="+14155550100")
    result = subscribe(sending_list, again, "import")

    assert result.outcome == Outcome.SKIPPED_OPTED_OUT
    restored = ListContact.objects.get(contact=again)
    assert (restored.active, restored.unsub_reason) == (False, "message")
    assert counts(sending_list) == {"message": 1}
    assert SubscriptionEvent.objects.filter(phone_number="+14155550100", kind="opted_out").count() == 2


@pytest.mark.django_db
def test_a_resubscribed_number_is_not_suppressed_after_deletion():
    sending_list = SendingListFactory()
    contact = ContactFactory(phone_number="+14155550101")
    membership = subscribe(sending_list, contact).membership
    list_contact_opt_out(membership=membership, reason="message", actor=SYSTEM)
    list_contact_resubscribe(membership=membership, actor=SYSTEM)
    contact_delete(contact=contact)

    result = subscribe(sending_list, ContactFactory(phone_number="+14155550101"))

    assert result.outcome == Outcome.CREATED


@pytest.mark.django_db
def test_membership_delete_keeps_events_and_moves_the_count():
    sending_list = SendingListFactory()
    membership = subscribe(sending_list, ContactFactory()).membership

    list_contact_delete(membership=membership, actor=SYSTEM)

    assert ListContact.objects.count() == 0
    assert SubscriptionEvent.objects.get().list_contact is None
    assert counts(sending_list) == {}


@pytest.mark.django_db
def test_update_custom_fields_merges_or_replaces():
    sending_list = SendingListFactory()
    custom_field_create(sending_list=sending_list, key="a")
    custom_field_create(sending_list=sending_list, key="b")
    membership = subscribe(sending_list, ContactFactory(), custom_fields={"a": "1"}).membership

    merged = list_contact_update_custom_fields(membership=membership, values={"b": "2"})
    replaced = list_contact_update_custom_fields(membership=membership, values={"b": "3"}, replace=True)

    assert merged.custom_fields == {"a": "1", "b": "2"}
    assert replaced.custom_fields == {"b": "3"}


@pytest.mark.django_db
def test_custom_field_create_validates_key_type_and_duplicates():
    sending_list = SendingListFactory()
    custom_field_create(sending_list=sending_list, key="state")

    with pytest.raises(ValidationError, match="already has a custom field 'state'"):
        custom_field_create(sending_list=sending_list, key="state")
    with pytest.raises(ValidationError):
        custom_field_create(sending_list=sending_list, key="Not a slug!")
    with pytest.raises(ValidationError, match="needs at least one choice"):
        custom_field_create(sending_list=sending_list, key="plan", field_type="choice")
    with pytest.raises(ValidationError):
        custom_field_create(sending_list=sending_list, key="x", field_type="color")


@pytest.mark.django_db
def test_sending_list_create_normalizes_the_sender_and_refuses_duplicates():
    created = sending_list_create(phone_number="(800) 555-1234", name="Deals")

    assert created.phone_number == "+18005551234"
    with pytest.raises(ValidationError, match="already uses"):
        sending_list_create(phone_number="18005551234", name="Again")
    with pytest.raises(ValidationError, match="not a valid sender number"):
        sending_list_create(phone_number="12", name="Bad")


@pytest.mark.django_db
def test_sending_list_create_refuses_an_unknown_region_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        sending_list_create(phone_number="(800) 555-1234", name="Deals", default_region="zz")

    assert caught.value.message_dict == {
        "default_region": ["'ZZ' is not a known country code (use e.g. US, GB, DE)."]
    }
    assert not SendingList.objects.exists()


@pytest.mark.django_db
def test_counts_follow_every_status_change_and_survive_squashing():
    sending_list = SendingListFactory()
    memberships = [subscribe(sending_list, ContactFactory()).membership for _ in range(5)]
    list_contact_opt_out(membership=memberships[0], reason="message", actor=SYSTEM)
    list_contact_opt_out(membership=memberships[1], reason="bad_response", actor=SYSTEM)
    list_contact_resubscribe(membership=memberships[1], actor=SYSTEM)
    expected = {"active": 4, "message": 1}
    assert counts(sending_list) == expected

    assert list_status_counts_squash() == 1

    assert counts(sending_list) == expected
    assert ListStatusCount.objects.filter(sending_list=sending_list).count() == 2
    assert list_status_counts_squash() == 0


@pytest.mark.django_db
def test_revenue_is_a_decimal():
    membership = subscribe(SendingListFactory(), ContactFactory()).membership

    assert membership.revenue_total == Decimal("0.00")
