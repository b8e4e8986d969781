"""List hygiene: the bulk clean-ups of a list (invalid numbers, long-time non-engagers), previewed as
a segment, then run as a resumable background job that opts the members out in audited chunks.

The job runs in `sendinglists.audiences.tasks.run_hygiene_job`, enqueued after commit by name
(`config.celery.enqueue_on_commit`): this module never imports the tasks module that calls it.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.celery import enqueue_on_commit
from sendinglists.actors import Actor
from sendinglists.audiences.models import HygieneAction, HygieneJob, HygieneStatus
from sendinglists.audiences.services import Segment, segment_build, segment_count
from sendinglists.choices import UnsubReason
from sendinglists.lists.models import SendingList
from sendinglists.subscriptions.opt_out import list_contacts_opt_out_bulk

HYGIENE_CHUNK_SIZE = 1000
RUN_HYGIENE_JOB_TASK = "sendinglists.audiences.tasks.run_hygiene_job"

HYGIENE_REASONS = {
    HygieneAction.INVALID_NUMBERS: UnsubReason.INVALID_CONTACT,
    HygieneAction.NON_ENGAGERS: UnsubReason.MANUAL,
}


def hygiene_rules(*, action: str, no_click_days: int | None = None, min_sends: int | None = None) -> dict:
    """The members a hygiene action removes, as audience rules (one definition for preview and run)."""
    if action == HygieneAction.INVALID_NUMBERS:
        return {
            "group": "and",
            "rules": [
                {"field": "status", "operator": "=", "value": "active"},
                {"field": "is_valid", "operator": "=", "value": False},
            ],
        }
    if action == HygieneAction.NON_ENGAGERS:
        return {
            "group": "and",
            "rules": [
                {"field": "status", "operator": "=", "value": "active"},
                {"field": "not_clicked_within", "operator": "=", "value": f"{no_click_days}d"},
                {"field": "sends", "operator": ">=", "value": min_sends},
            ],
        }
    raise ValidationError({"action": f"Unknown hygiene action {action!r}."})


def _check_hygiene_params(action: str, no_click_days, min_sends) -> tuple[int | None, int | None]:
    if action not in HygieneAction.values:
        raise ValidationError({"action": f"Unknown hygiene action {action!r}."})
    if action != HygieneAction.NON_ENGAGERS:
        return None, None
    errors = {}
    try:
        no_click_days = int(no_click_days)
        if not 1 <= no_click_days <= 3650:
            raise ValueError
    except (TypeError, ValueError):
        errors["no_click_days"] = "Days without a click: a whole number from 1 to 3650."
    try:
        min_sends = int(min_sends)
        if not 1 <= min_sends <= 100_000:
            raise ValueError
    except (TypeError, ValueError):
        errors["min_sends"] = "Minimum sends: a whole number from 1 to 100000."
    if errors:
        raise ValidationError(errors)
    return no_click_days, min_sends


def hygiene_segment(*, sending_list: SendingList, action: str, no_click_days=None, min_sends=None) -> Segment:
    no_click_days, min_sends = _check_hygiene_params(action, no_click_days, min_sends)
    rules = hygiene_rules(action=action, no_click_days=no_click_days, min_sends=min_sends)
    return segment_build(sending_list=sending_list, rules=rules)


def hygiene_preview(*, sending_list: SendingList, action: str, no_click_days=None, min_sends=None) -> int:
    """How many active members the action would remove now."""
    segment = hygiene_segment(
        sending_list=sending_list, action=action, no_click_days=no_click_days, min_sends=min_sends
    )
    return segment_count(segment=segment)


@transaction.atomic
def hygiene_job_start(
    *, sending_list: SendingList, action: str, user=None, no_click_days=None, min_sends=None
) -> HygieneJob:
    """Record a hygiene job and enqueue it after commit. The operator saw `previewed_count` first."""
    no_click_days, min_sends = _check_hygiene_params(action, no_click_days, min_sends)
    previewed = hygiene_preview(
        sending_list=sending_list, action=action, no_click_days=no_click_days, min_sends=min_sends
    )
    job = HygieneJob.objects.create(
        sending_list=sending_list,
        action=action,
        no_click_days=no_click_days,
        min_sends=min_sends,
        created_by=user,
        previewed_count=previewed,
    )
    enqueue_on_commit(RUN_HYGIENE_JOB_TASK, job.pk)
    return job


@transaction.atomic
def hygiene_job_retry(*, job: HygieneJob) -> bool:
    """Enqueue a failed job again (after commit): it resumes after its last committed chunk.

    Returns False, doing nothing, for a job that has not failed.
    """
    if not HygieneJob.objects.filter(pk=job.pk, status=HygieneStatus.FAILED).exists():
        return False
    enqueue_on_commit(RUN_HYGIENE_JOB_TASK, job.pk)
    return True


def _job_actor(job: HygieneJob) -> Actor:
    if job.created_by is not None:
        return Actor.for_user(job.created_by)
    return Actor.system(f"list hygiene job #{job.pk}")


def hygiene_job_run(*, job_id: int, chunk_size: int | None = None) -> HygieneJob:
    """Run (or resume) a hygiene job: opt out its members in chunks, recording progress.

    Idempotent and resumable: each chunk's opt-outs and the job's resume point commit together,
    so running the job again (a redelivered task, a retry after a failure) continues after the
    last committed chunk, and a completed job does nothing. The members are chosen with the job's creation time
    as "now", so a resumed run removes the same set the operator previewed.
    """
    job = HygieneJob.objects.select_related("sending_list", "created_by").get(pk=job_id)
    if job.status == HygieneStatus.COMPLETED:
        return job
    segment = hygiene_segment(
        sending_list=job.sending_list,
        action=job.action,
        no_click_days=job.no_click_days,
        min_sends=job.min_sends,
    )
    matching = segment.queryset(now=job.created_at)
    if job.status == HygieneStatus.QUEUED:
        HygieneJob.objects.filter(pk=job.pk, status=HygieneStatus.QUEUED).update(
            status=HygieneStatus.RUNNING, started_at=timezone.now(), total=matching.count()
        )
    elif job.status == HygieneStatus.FAILED:  # run again after a failure: carry on from the resume point
        HygieneJob.objects.filter(pk=job.pk).update(
            status=HygieneStatus.RUNNING, failure_reason="", finished_at=None
        )
    chunk_size = chunk_size or HYGIENE_CHUNK_SIZE
    actor = _job_actor(job)
    reason = HYGIENE_REASONS[job.action]
    note = f"List hygiene job #{job.pk}: {job.description.lower()}."
    while _hygiene_chunk(
        job_id=job.pk, matching=matching, chunk_size=chunk_size, reason=reason, actor=actor, note=note
    ):
        pass
    HygieneJob.objects.filter(pk=job.pk).update(status=HygieneStatus.COMPLETED, finished_at=timezone.now())
    job.refresh_from_db()
    return job


@transaction.atomic
def _hygiene_chunk(*, job_id: int, matching, chunk_size: int, reason: str, actor: Actor, note: str) -> bool:
    """Opt out the next chunk of a job's members; False when none are left.

    The job row is locked first, so a duplicate run of the same job waits here and then reads the
    resume point the first one committed, instead of counting the same chunk twice. The members
    are chosen under their row locks: one who clicked since the preview is left alone.
    """
    job = HygieneJob.objects.select_for_update().get(pk=job_id)
    if job.status == HygieneStatus.COMPLETED:
        return False
    # Uses index: listcontact_list_id (sending_list, id) walked upwards from the resume point.
    ids = list(
        matching.filter(id__gt=job.last_membership_id)
        .order_by("id")
        .select_for_update(of=("self",))
        .values_list("id", flat=True)[:chunk_size]
    )
    if not ids:
        return False
    removed = list_contacts_opt_out_bulk(
        sending_list_id=job.sending_list_id, membership_ids=ids, reason=reason, actor=actor, note=note
    )
    HygieneJob.objects.filter(pk=job.pk).update(
        last_membership_id=ids[-1], processed=F("processed") + len(ids), removed=F("removed") + removed
    )
    return True


def hygiene_job_fail(*, job_id: int, reason: str) -> None:
    HygieneJob.objects.filter(pk=job_id).exclude(status=HygieneStatus.COMPLETED).update(
        status=HygieneStatus.FAILED, failure_reason=reason[:2000], finished_at=timezone.now()
    )
