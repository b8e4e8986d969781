"""List hygiene bulk actions: preview, run in chunks with progress, audited, resumable, reversible only
by the explicit resubscribe service."""

import datetime as dt
import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from sendinglists.actors import Actor
from sendinglists.audiences import hygiene as hygiene_services
from sendinglists.audiences.hygiene import hygiene_job_run, hygiene_job_start, hygiene_preview
from sendinglists.audiences.models import HygieneAction, HygieneJob, HygieneStatus
from sendinglists.audiences.tasks import run_hygiene_job
from sendinglists.choices import EventKind
from sendinglists.lists.services import list_status_counts
from sendinglists.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out, list_contacts_opt_out_bulk
from sendinglists.subscriptions.subscribe import Outcome, list_contact_resubscribe, list_contact_subscribe
from tests.conftest import wait_for
from tests.factories import ContactFactory, SendingListFactory, UserFactory


def subscribe(sending_list, name: str, *, is_valid: bool = True, **engagement) -> ListContact:
    contact = ContactFactory(first_name=name, is_valid=is_valid)
    membership = list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="import",
        actor=Actor.system("test setup"),
        occurred_at=timezone.now() - dt.timedelta(days=400),
    ).membership
    if engagement:
        ListContact.objects.filter(pk=membership.pk).update(**engagement)
    return membership


def opt_out(membership: ListContact, reason: str = "message") -> None:
    list_contact_opt_out(membership=membership, reason=reason, actor=Actor.system("test setup"))


def hygiene_events(sending_list) -> list[SubscriptionEvent]:
    return list(
        SubscriptionEvent.objects.filter(sending_list=sending_list, actor_kind__in=["user", "system"])
        .exclude(actor_label="test setup")
        .order_by("id")
    )


def names(memberships) -> set[str]:
    return {m.contact.first_name for m in memberships}


@pytest.fixture
def invalid_numbers_list(db):
    sending_list = SendingListFactory()
    members = {
        "ana": subscribe(sending_list, "ana", is_valid=False, in_workflow=True),
        "ben": subscribe(sending_list, "ben"),
        "cleo": subscribe(sending_list, "cleo", is_valid=False),
        "dev": subscribe(sending_list, "dev", is_valid=False),
    }
    opt_out(members["cleo"])
    sending_list.members = members
    return sending_list


def now_minus(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.fixture
def non_engagers_list(db):
    sending_list = SendingListFactory()
    members = {
        "eve": subscribe(sending_list, "eve", send_count=10),  # never clicked
        "fay": subscribe(sending_list, "fay", send_count=5, last_clicked_at=now_minus(100)),
        "gus": subscribe(sending_list, "gus", send_count=50, last_clicked_at=now_minus(10)),
        "hana": subscribe(sending_list, "hana", send_count=4),  # too few sends to judge
        "ivan": subscribe(sending_list, "ivan", send_count=100),
    }
    opt_out(members["ivan"])
    sending_list.members = members
    return sending_list


def test_invalid_numbers_preview_counts_active_members_with_invalid_numbers(invalid_numbers_list):
    assert hygiene_preview(sending_list=invalid_numbers_list, action=HygieneAction.INVALID_NUMBERS) == 2


def test_remove_invalid_numbers_opts_them_out_with_an_audited_event_each(
    invalid_numbers_list, django_capture_on_commit_callbacks
):
    user = UserFactory(username="operator")
    counts_before = list_status_counts(sending_list_ids=[invalid_numbers_list.pk])[invalid_numbers_list.pk]

    with django_capture_on_commit_callbacks(execute=True):
        job = hygiene_job_start(
            sending_list=invalid_numbers_list, action=HygieneAction.INVALID_NUMBERS, user=user
        )

    job.refresh_from_db()
    assert (job.status, job.previewed_count, job.total, job.processed, job.removed) == (
        HygieneStatus.COMPLETED,
        2,
        2,
        2,
        2,
    )
    assert job.percent == 100
    members = {m.contact.first_name: m for m in ListContact.objects.filter(sending_list=invalid_numbers_list)}
    assert {name: (m.active, m.unsub_reason) for name, m in members.items()} == {
        "ana": (False, "invalid_contact"),
        "ben": (True, ""),
        "cleo": (False, "message"),
        "dev": (False, "invalid_contact"),
    }
    assert members["ana"].in_workflow is False
    assert members["ana"].opted_out_at == members["ana"].status_changed_at
    events = hygiene_events(invalid_numbers_list)
    assert [
        (e.list_contact.contact.first_name, e.kind, e.reason, e.actor_kind, e.actor_id, e.user)
        for e in events
    ] == [
        ("ana", EventKind.OPTED_OUT, "invalid_contact", "user", str(user.pk), user),
        ("dev", EventKind.OPTED_OUT, "invalid_contact", "user", str(user.pk), user),
    ]
    assert {e.note for e in events} == {
        f"List hygiene job #{job.pk}: active members whose number is invalid."
    }
    assert {e.phone_number for e in events} == {
        members["ana"].contact.phone_number,
        members["dev"].contact.phone_number,
    }
    counts_after = list_status_counts(sending_list_ids=[invalid_numbers_list.pk])[invalid_numbers_list.pk]
    assert Counter(counts_after) - Counter(counts_before) == Counter({"invalid_contact": 2})
    assert counts_after["active"] == counts_before["active"] - 2 == 1


def test_remove_non_engagers_takes_only_members_without_a_click_in_n_days_and_with_m_sends(
    non_engagers_list, django_capture_on_commit_callbacks
):
    assert (
        hygiene_preview(
            sending_list=non_engagers_list, action=HygieneAction.NON_ENGAGERS, no_click_days=90, min_sends=5
        )
        == 2
    )

    with django_capture_on_commit_callbacks(execute=True):
        job = hygiene_job_start(
            sending_list=non_engagers_list, action=HygieneAction.NON_ENGAGERS, no_click_days=90, min_sends=5
        )

    job.refresh_from_db()
    assert (job.status, job.removed) == (HygieneStatus.COMPLETED, 2)
    removed = ListContact.objects.filter(sending_list=non_engagers_list, unsub_reason="manual")
    assert names(removed) == {"eve", "fay"}
    assert names(ListContact.objects.filter(sending_list=non_engagers_list, active=True)) == {"gus", "hana"}
    events = hygiene_events(non_engagers_list)
    assert [(e.actor_kind, e.actor_label, e.reason) for e in events] == [
        ("system", f"list hygiene job #{job.pk}", "manual"),
        ("system", f"list hygiene job #{job.pk}", "manual"),
    ]
    assert events[0].note == (
        f"List hygiene job #{job.pk}: active members with no click in 90 days and at least 5 sends."
    )


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (
            {"no_click_days": 0, "min_sends": 5},
            {"no_click_days": ["Days without a click: a whole number from 1 to 3650."]},
        ),
        (
            {"no_click_days": "x", "min_sends": None},
            {
                "no_click_days": ["Days without a click: a whole number from 1 to 3650."],
                "min_sends": ["Minimum sends: a whole number from 1 to 100000."],
            },
        ),
    ],
)
def test_non_engagers_needs_valid_days_and_sends(non_engagers_list, params, errors):
    with pytest.raises(ValidationError) as raised:
        hygiene_job_start(sending_list=non_engagers_list, action=HygieneAction.NON_ENGAGERS, **params)

    assert raised.value.message_dict == errors
    assert HygieneJob.objects.count() == 0


def test_unknown_action_is_refused(non_engagers_list):
    with pytest.raises(ValidationError) as raised:
        hygiene_preview(sending_list=non_engagers_list, action="everyone")

    assert raised.value.message_dict == {"action": ["Unknown hygiene action 'everyone'."]}


def test_running_a_completed_job_again_changes_nothing(
    invalid_numbers_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = hygiene_job_start(sending_list=invalid_numbers_list, action=HygieneAction.INVALID_NUMBERS)
    events_before = SubscriptionEvent.objects.count()

    result = run_hygiene_job(job.pk)

    assert result == {"job": job.pk, "status": "completed", "processed": 2, "removed": 2}
    assert SubscriptionEvent.objects.count() == events_before


def test_job_that_failed_mid_way_resumes_after_its_last_committed_chunk(invalid_numbers_list, monkeypatch):
    job = HygieneJob.objects.create(sending_list=invalid_numbers_list, action=HygieneAction.INVALID_NUMBERS)
    real_bulk = hygiene_services.list_contacts_opt_out_bulk
    calls = []

    def fail_on_second_chunk(**kwargs):
        calls.append(kwargs["membership_ids"])
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_bulk(**kwargs)

    monkeypatch.setattr(hygiene_services, "list_contacts_opt_out_bulk", fail_on_second_chunk)
    monkeypatch.setattr(hygiene_services, "HYGIENE_CHUNK_SIZE", 1)

    with pytest.raises(RuntimeError):
        run_hygiene_job(job.pk)

    job.refresh_from_db()
    ana, dev = invalid_numbers_list.members["ana"], invalid_numbers_list.members["dev"]
    assert (job.status, job.failure_reason, job.processed, job.removed, job.last_membership_id) == (
        HygieneStatus.FAILED,
        "RuntimeError: database went away",
        1,
        1,
        ana.pk,
    )
    assert names(
        ListContact.objects.filter(
            sending_list=invalid_numbers_list, active=False, unsub_reason="invalid_contact"
        )
    ) == {"ana"}

    monkeypatch.setattr(hygiene_services, "list_contacts_opt_out_bulk", real_bulk)
    job = hygiene_job_run(job_id=job.pk, chunk_size=1)

    assert (job.status, job.failure_reason, job.processed, job.removed, job.last_membership_id) == (
        HygieneStatus.COMPLETED,
        "",
        2,
        2,
        dev.pk,
    )
    assert [e.list_contact_id for e in hygiene_events(invalid_numbers_list)] == [ana.pk, dev.pk]


def test_removed_members_come_back_only_through_the_explicit_resubscribe(
    invalid_numbers_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        hygiene_job_start(sending_list=invalid_numbers_list, action=HygieneAction.INVALID_NUMBERS)
    ana = ListContact.objects.select_related("contact").get(pk=invalid_numbers_list.members["ana"].pk)

    again = list_contact_subscribe(
        sending_list=invalid_numbers_list,
        contact=ana.contact,
        signup_method="import",
        actor=Actor.system("import"),
    )
    assert again.outcome == Outcome.SKIPPED_OPTED_OUT
    ana.refresh_from_db()
    assert (ana.active, ana.unsub_reason) == (False, "invalid_contact")

    operator = UserFactory(username="fixer")
    change = list_contact_resubscribe(membership=ana, actor=Actor.for_user(operator), note="number fixed")

    assert change.changed is True
    ana.refresh_from_db()
    assert (ana.active, ana.unsub_reason) == (True, "")
    assert SubscriptionEvent.objects.filter(list_contact=ana).order_by("-id").values_list("kind", "user")[
        0
    ] == (
        EventKind.RESUBSCRIBED,
        operator.pk,
    )


def test_bulk_opt_out_skips_inactive_members_and_later_status_changes(invalid_numbers_list):
    members = invalid_numbers_list.members
    ListContact.objects.filter(pk=members["dev"].pk).update(
        status_changed_at=timezone.now() + dt.timedelta(hours=1)
    )

    changed = list_contacts_opt_out_bulk(
        sending_list_id=invalid_numbers_list.pk,
        membership_ids=[members["ana"].pk, members["cleo"].pk, members["dev"].pk],
        reason="manual",
        actor=Actor.system("cleanup"),
        occurred_at=timezone.now(),
    )

    assert changed == 1
    states = dict(
        ListContact.objects.filter(sending_list=invalid_numbers_list).values_list(
            "contact__first_name", "unsub_reason"
        )
    )
    assert states == {"ana": "manual", "ben": "", "cleo": "message", "dev": ""}
    assert SubscriptionEvent.objects.filter(actor_label="cleanup").count() == 1


def test_a_bulk_opt_out_of_now_applies_over_a_status_change_dated_ahead(invalid_numbers_list):
    """No time of its own: an act of now, which a provider's fast clock must not defeat."""
    members = invalid_numbers_list.members
    ListContact.objects.filter(pk=members["dev"].pk).update(
        status_changed_at=timezone.now() + dt.timedelta(minutes=2)
    )

    changed = list_contacts_opt_out_bulk(
        sending_list_id=invalid_numbers_list.pk,
        membership_ids=[members["dev"].pk],
        reason="manual",
        actor=Actor.system("cleanup"),
    )

    assert changed == 1
    assert ListContact.objects.get(pk=members["dev"].pk).unsub_reason == "manual"


def test_bulk_opt_out_ignores_memberships_of_other_lists(invalid_numbers_list):
    other = SendingListFactory()
    stranger = subscribe(other, "zed")

    changed = list_contacts_opt_out_bulk(
        sending_list_id=invalid_numbers_list.pk,
        membership_ids=[stranger.pk],
        reason="manual",
        actor=Actor.system("x"),
    )

    assert changed == 0
    stranger.refresh_from_db()
    assert stranger.active is True


def test_bulk_opt_out_refuses_an_unknown_reason(invalid_numbers_list):
    with pytest.raises(ValidationError):
        list_contacts_opt_out_bulk(
            sending_list_id=invalid_numbers_list.pk,
            membership_ids=[invalid_numbers_list.members["ana"].pk],
            reason="bored",
            actor=Actor.system("x"),
        )

    assert ListContact.objects.get(pk=invalid_numbers_list.members["ana"].pk).active is True


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_hygiene_job_runs_on_a_real_worker_with_progress(celery_worker):
    sending_list = SendingListFactory()
    for n in range(5):
        subscribe(sending_list, f"bad{n}", is_valid=False)
    subscribe(sending_list, "good")

    job = hygiene_job_start(sending_list=sending_list, action=HygieneAction.INVALID_NUMBERS)

    done = wait_for(lambda: HygieneJob.objects.filter(pk=job.pk, status=HygieneStatus.COMPLETED).first())
    assert (done.total, done.processed, done.removed) == (5, 5, 5)
    assert ListContact.objects.filter(sending_list=sending_list, active=True).count() == 1
    assert SubscriptionEvent.objects.filter(sending_list=sending_list, reason="invalid_contact").count() == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_the_same_job_at_once_remove_each_member_once():
    sending_list = SendingListFactory()
    for n in range(9):
        subscribe(sending_list, f"bad{n}", is_valid=False)
    job = HygieneJob.objects.create(sending_list=sending_list, action=HygieneAction.INVALID_NUMBERS)
    errors = []

    def run():
        try:
            hygiene_job_run(job_id=job.pk, chunk_size=2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    job.refresh_from_db()
    assert errors == []
    assert (job.status, job.total, job.processed, job.removed) == (HygieneStatus.COMPLETED, 9, 9, 9)
    assert SubscriptionEvent.objects.filter(sending_list=sending_list, reason="invalid_contact").count() == 9
