"""Engagement events: counters and last_*_at move with F() updates in the event's transaction."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from engagement.models import Click, Conversion, Message
from engagement.services import (
    list_contact_record_click,
    list_contact_record_conversion,
    list_contact_record_send,
    list_contact_set_in_workflow,
)
from sendinglists.actors import Actor
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from tests.factories import ListContactFactory, MessageFactory

NOW = timezone.now()


@pytest.fixture
def member(sending_list):
    return ListContactFactory(sending_list=sending_list)


def counters(membership):
    membership.refresh_from_db()
    return (
        membership.send_count,
        membership.click_count,
        membership.conversion_count,
        membership.revenue_total,
    )


def test_a_click_is_recorded_with_its_counter_and_time(member):
    click = list_contact_record_click(membership=member, url="https://acme.example/sale", clicked_at=NOW)

    assert (click.contact_id, click.sending_list_id, click.url, click.clicked_at) == (
        member.contact_id,
        member.sending_list_id,
        "https://acme.example/sale",
        NOW,
    )
    assert counters(member) == (0, 1, 0, Decimal("0.00"))
    assert member.last_clicked_at == NOW


def test_last_clicked_at_keeps_the_latest_time_when_clicks_arrive_out_of_order(member):
    list_contact_record_click(membership=member, url="https://acme.example/a", clicked_at=NOW)
    list_contact_record_click(
        membership=member, url="https://acme.example/b", clicked_at=NOW - dt.timedelta(hours=1)
    )

    assert counters(member)[1] == 2
    assert member.last_clicked_at == NOW


def test_a_click_can_name_the_message_it_came_from(member):
    message = MessageFactory(
        sending_list=member.sending_list, contact=member.contact, provider_message_id="SMc1"
    )

    click = list_contact_record_click(
        membership=member, url="https://acme.example", provider_message_id="SMc1"
    )

    assert click.message_id == message.pk
    with pytest.raises(ValidationError) as error:
        list_contact_record_click(membership=member, url="https://acme.example", provider_message_id="SMnope")
    assert error.value.message_dict == {
        "provider_message_id": ["No message SMnope was sent to this contact."]
    }


@pytest.mark.parametrize("url", ["", "acme.example/sale", "javascript:alert(1)", "ftp://acme.example/x"])
def test_a_click_without_an_http_url_is_a_validation_error_and_counts_nothing(member, url):
    with pytest.raises(ValidationError) as error:
        list_contact_record_click(membership=member, url=url)

    assert list(error.value.message_dict) == ["url"]
    assert (Click.objects.count(), counters(member)[1]) == (0, 0)


def test_a_conversion_counts_its_revenue_once_per_order(member):
    first = list_contact_record_conversion(
        membership=member, order_id="A-1", revenue="19.99", converted_at=NOW
    )
    retry = list_contact_record_conversion(
        membership=member, order_id="A-1", revenue="19.99", converted_at=NOW
    )
    list_contact_record_conversion(membership=member, order_id="A-2", revenue=Decimal("5"), converted_at=NOW)

    assert (first.created, retry.created, retry.conversion.pk) == (True, False, first.conversion.pk)
    assert Conversion.objects.count() == 2
    assert counters(member) == (0, 0, 2, Decimal("24.99"))
    assert member.last_revenue_at == NOW


def test_the_same_order_for_another_contact_of_the_list_is_refused(member):
    other = ListContactFactory(sending_list=member.sending_list)
    list_contact_record_conversion(membership=member, order_id="A-1", revenue="10")

    with pytest.raises(ValidationError) as error:
        list_contact_record_conversion(membership=other, order_id="A-1", revenue="10")

    assert error.value.message_dict == {
        "order_id": ["Order A-1 is already recorded for another contact of this list."]
    }
    assert counters(other)[2:] == (0, Decimal("0.00"))


def test_the_same_order_id_on_another_list_is_another_conversion(member, other_list):
    elsewhere = ListContactFactory(sending_list=other_list, contact=member.contact)

    list_contact_record_conversion(membership=member, order_id="A-1", revenue="10")
    assert list_contact_record_conversion(membership=elsewhere, order_id="A-1", revenue="10").created is True


@pytest.mark.parametrize(
    ("revenue", "error"),
    [
        ("-1", "Must not be negative."),
        ("1.999", "At most two decimal places."),
        ("ten", "'ten' is not a number."),
        ("NaN", "Must be a finite number."),
        ("10000000000", "At most 9999999999.99."),
    ],
)
def test_bad_revenue_is_a_validation_error_and_counts_nothing(member, revenue, error):
    with pytest.raises(ValidationError) as raised:
        list_contact_record_conversion(membership=member, order_id="A-1", revenue=revenue)

    assert raised.value.message_dict == {"revenue": [error]}
    assert Conversion.objects.count() == 0


def test_a_recorded_send_writes_the_message_and_counts_once_per_provider_id(member):
    first = list_contact_record_send(membership=member, body="Hi", provider_message_id="ext-1", sent_at=NOW)
    retry = list_contact_record_send(membership=member, body="Hi", provider_message_id="ext-1", sent_at=NOW)
    list_contact_record_send(membership=member, sent_at=NOW - dt.timedelta(days=1))

    assert (first.created, retry.created, retry.message.pk) == (True, False, first.message.pk)
    message = first.message
    assert (message.direction, message.status, message.from_number, message.to_number) == (
        "outbound",
        "sent",
        member.sending_list.phone_number,
        member.contact.phone_number,
    )
    assert Message.objects.count() == 2
    assert counters(member)[0] == 2
    assert member.last_sent_at == NOW


def test_in_workflow_is_set_and_cleared_and_an_unsubscribed_member_cannot_enter(member):
    assert list_contact_set_in_workflow(membership=member, in_workflow=True) is True
    assert list_contact_set_in_workflow(membership=member, in_workflow=True) is False
    member.refresh_from_db()
    assert member.in_workflow is True
    assert list_contact_set_in_workflow(membership=member, in_workflow=False) is True

    list_contact_opt_out(membership=member, reason="manual", actor=Actor.system("test"))
    with pytest.raises(ValidationError) as error:
        list_contact_set_in_workflow(membership=member, in_workflow=True)
    assert error.value.message_dict == {
        "in_workflow": ["The membership is unsubscribed: it cannot enter a journey."]
    }
    member.refresh_from_db()
    assert member.in_workflow is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_and_conversions_on_one_membership_lose_no_update(sending_list):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database (SQLite serializes every writer)")
    member = ListContactFactory(sending_list=sending_list)
    errors = []

    def work(worker: int):
        try:
            for n in range(10):
                list_contact_record_click(membership=member, url=f"https://acme.example/{worker}/{n}")
                # Every worker records the same ten orders: each must count once.
                list_contact_record_conversion(membership=member, order_id=f"order-{n}", revenue="1.50")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counters(member) == (0, 80, 10, Decimal("15.00"))
    assert (Click.objects.count(), Conversion.objects.count()) == (80, 10)
