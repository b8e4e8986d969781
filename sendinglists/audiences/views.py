"""Audience and hygiene pages of a sending list (staff only; Django permissions decide who may act).

Thin: every read and write goes through sendinglists.audiences.services (and .hygiene). The rule builder posts to
`audience_preview` (JSON) for the live count, the matching members and the canonical query, so
rules are added and checked without a page reload; without JavaScript the text query still works.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.jsonsafe import json_loads_bounded
from contacts.pagination import id_param
from sendinglists.audiences.charts import opt_out_chart
from sendinglists.audiences.export import export_filename, export_response
from sendinglists.audiences.hygiene import hygiene_job_retry, hygiene_job_start, hygiene_preview
from sendinglists.audiences.models import Audience, HygieneAction, HygieneJob
from sendinglists.audiences.rules import field_catalog
from sendinglists.audiences.services import (
    audience_create,
    audience_delete,
    audience_segment,
    audience_update,
    problems_of,
    segment_build,
    segment_count,
    segment_count_cached,
    segment_members,
)
from sendinglists.lists.models import SendingList
from sendinglists.overview.selectors import sending_list_summary

PREVIEW_ROWS = 10
MEMBER_PAGE_CUSTOM_COLUMNS = 4
DEFAULT_NO_CLICK_DAYS = 180
DEFAULT_MIN_SENDS = 10


def _list(list_id: int) -> SendingList:
    return get_object_or_404(SendingList, pk=list_id)


def _audience(sending_list: SendingList, audience_id: int) -> Audience:
    return get_object_or_404(
        Audience.objects.select_related("sending_list"), pk=audience_id, sending_list=sending_list
    )


def _page_context(sending_list: SendingList, **extra) -> dict:
    return {
        "nav": "lists",
        "tab": "audiences",
        "sending_list": sending_list,
        "summary": sending_list_summary(sending_list),
        **extra,
    }


def _catalog(sending_list: SendingList) -> list[dict]:
    return [
        {
            "name": spec.name,
            "label": spec.label,
            "kind": spec.kind.value,
            "section": spec.section,
            "operators": [op.value for op in spec.operators],
            "choices": list(spec.choices),
            "help": spec.help,
        }
        for spec in field_catalog(sending_list.custom_fields.all())
    ]


def _after(request) -> int | None:
    return id_param(request.GET.get("after"))


def _member_json(membership) -> dict:
    contact = membership.contact
    return {
        "id": membership.pk,
        "contact_id": contact.pk,
        "url": reverse("contact_pages:detail", args=[contact.pk]),
        "phone_number": contact.phone_number,
        "name": contact.full_name,
        "status": membership.display_status.value,
        "status_label": membership.display_status_label,
        "send_count": membership.send_count,
        "click_count": membership.click_count,
        "revenue_total": str(membership.revenue_total),
        "custom_fields": membership.custom_fields,
    }


# --- audiences ------------------------------------------------------------------------------------


@require_GET
@staff_member_required
@permission_required("sendinglists.view_audience", raise_exception=True)
def audience_index(request, list_id: int):
    sending_list = _list(list_id)
    audiences = Audience.objects.filter(sending_list=sending_list).order_by("name")
    return render(request, "audiences/index.html", _page_context(sending_list, audiences=audiences))


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("sendinglists.view_audience", raise_exception=True)
def audience_builder(request, list_id: int, audience_id: int | None = None):
    """Create (no audience_id) or edit an audience: name + rules, as a builder and as a text query."""
    sending_list = _list(list_id)
    audience = _audience(sending_list, audience_id) if audience_id else None
    needed = "sendinglists.change_audience" if audience else "sendinglists.add_audience"
    can_save = request.user.has_perm(needed)
    name = audience.name if audience else ""
    query = audience.query if audience else request.GET.get("q", "")
    errors, problems, status = {}, [], 200
    if request.method == "POST":
        if not can_save:
            raise PermissionDenied
        name, query = request.POST.get("name", ""), request.POST.get("query", "")
        try:
            if audience:
                audience = audience_update(audience=audience, name=name, query=query)
            else:
                audience = audience_create(
                    sending_list=sending_list, name=name, query=query, created_by=request.user
                )
        except ValidationError as exc:
            errors, problems, status = exc.message_dict, problems_of(exc), 400
        else:
            messages.success(request, f"Audience “{audience.name}” saved.")
            return redirect("audiences:members", list_id=sending_list.pk, audience_id=audience.pk)
    try:
        rules = segment_build(sending_list=sending_list, query=query).rules if not errors else None
    except ValidationError as exc:  # a saved audience whose custom fields changed since
        errors, problems = exc.message_dict, problems_of(exc)
        rules = None
    return render(
        request,
        "audiences/builder.html",
        _page_context(
            sending_list,
            audience=audience,
            name=name,
            query=query,
            rules=rules or {"group": "and", "rules": []},
            catalog=_catalog(sending_list),
            errors=errors,
            query_pointers=[
                " " * p["position"] + "^" for p in problems if p.get("position") is not None and query
            ],
            can_save=can_save,
            preview_url=reverse("audiences:preview", args=[sending_list.pk]),
        ),
        status=status,
    )


@require_POST
@staff_member_required
@permission_required("sendinglists.view_audience", raise_exception=True)
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def audience_preview(request, list_id: int):
    """JSON: {"rules": {...}} or {"query": "..."} -> count, first members, canonical query and rules;
    or 400 with problems (message, rule path, position in the query)."""
    sending_list = _list(list_id)
    try:
        payload = json_loads_bounded(request.body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError
    except ValueError:
        return JsonResponse(
            {"ok": False, "problems": [{"message": "Send a JSON object.", "path": "", "position": None}]},
            status=400,
        )
    try:
        segment = segment_build(
            sending_list=sending_list, rules=payload.get("rules"), query=payload.get("query")
        )
    except ValidationError as exc:
        return JsonResponse({"ok": False, "problems": problems_of(exc)}, status=400)
    page = segment_members(segment=segment, limit=PREVIEW_ROWS)
    return JsonResponse(
        {
            "ok": True,
            "query": segment.query,
            "rules": segment.rules,
            "count": segment_count(segment=segment),
            "members": [_member_json(m) for m in page.rows],
        }
    )


@require_GET
@staff_member_required
@permission_required("sendinglists.view_audience", raise_exception=True)
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def audience_members(request, list_id: int, audience_id: int):
    """The audience's members, newest first, in keyset pages like the Contacts tab."""
    sending_list = _list(list_id)
    audience = _audience(sending_list, audience_id)
    try:
        segment = audience_segment(audience=audience)
    except ValidationError as exc:
        return render(
            request,
            "audiences/members.html",
            _page_context(sending_list, audience=audience, problems=problems_of(exc), page=None),
            status=409,
        )
    after = _after(request)
    page = segment_members(segment=segment, after=after)
    custom_keys = [f.key for f in segment.custom_fields][:MEMBER_PAGE_CUSTOM_COLUMNS]
    return render(
        request,
        "audiences/members.html",
        _page_context(
            sending_list,
            audience=audience,
            page=page,
            rows=[(m, [m.custom_fields.get(key, "") for key in custom_keys]) for m in page.rows],
            count=segment_count_cached(segment=segment),
            is_first_page=after is None,
            custom_keys=custom_keys,
        ),
    )


@require_GET
@staff_member_required
@permission_required("sendinglists.view_audience", raise_exception=True)
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def audience_count_json(request, list_id: int, audience_id: int):
    sending_list = _list(list_id)
    try:
        segment = audience_segment(audience=_audience(sending_list, audience_id))
    except ValidationError as exc:
        return JsonResponse({"ok": False, "problems": problems_of(exc)}, status=409)
    return JsonResponse({"ok": True, "count": segment_count_cached(segment=segment)})


@require_POST
@staff_member_required
@permission_required("sendinglists.delete_audience", raise_exception=True)
def audience_delete_view(request, list_id: int, audience_id: int):
    sending_list = _list(list_id)
    audience = _audience(sending_list, audience_id)
    audience_delete(audience=audience)
    messages.success(request, f"Audience “{audience.name}” deleted. Its members are still on the list.")
    return redirect("audiences:index", list_id=sending_list.pk)


@require_GET
@staff_member_required
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def export_csv(request, list_id: int, audience_id: int | None = None):
    """Stream the audience (or the whole list, or the list filtered by ?q=) as CSV."""
    sending_list = _list(list_id)
    audience = _audience(sending_list, audience_id) if audience_id else None
    try:
        if audience:
            segment = audience_segment(audience=audience)
        else:
            segment = segment_build(sending_list=sending_list, query=request.GET.get("q", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("audiences:index", list_id=sending_list.pk)
    return export_response(
        queryset=segment.queryset(),
        custom_keys=[f.key for f in segment.custom_fields],
        filename=export_filename(sending_list=sending_list, audience=audience),
    )


# --- hygiene --------------------------------------------------------------------------------------


def _hygiene_params(data) -> dict:
    return {"no_click_days": data.get("no_click_days"), "min_sends": data.get("min_sends")}


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def hygiene(request, list_id: int):
    """Preview and run the bulk clean-ups; the opt-out chart; the jobs with their progress.

    POST `step=preview` counts who would be removed; `step=run` (after a preview) starts the job.
    """
    sending_list = _list(list_id)
    can_run = request.user.has_perm("sendinglists.add_hygienejob") and request.user.has_perm(
        "sendinglists.change_listcontact"
    )
    params = {"no_click_days": DEFAULT_NO_CLICK_DAYS, "min_sends": DEFAULT_MIN_SENDS}
    preview, errors, status = None, {}, 200
    if request.method == "POST":
        if not can_run:
            raise PermissionDenied
        action = request.POST.get("action", "")
        params = _hygiene_params(request.POST)
        try:
            if request.POST.get("step") == "run":
                job = hygiene_job_start(sending_list=sending_list, action=action, user=request.user, **params)
                messages.success(
                    request,
                    f"{job.get_action_display()}: job #{job.pk} started for {job.previewed_count:,} members.",
                )
                return redirect("audiences:hygiene", list_id=sending_list.pk)
            preview = {
                "action": action,
                "label": HygieneAction(action).label,
                "count": hygiene_preview(sending_list=sending_list, action=action, **params),
            }
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
    return render(
        request,
        "audiences/hygiene.html",
        _page_context(
            sending_list,
            tab="hygiene",
            chart=opt_out_chart(sending_list=sending_list),
            jobs=HygieneJob.objects.filter(sending_list=sending_list).select_related("created_by")[:20],
            preview=preview,
            params=params,
            errors=errors,
            can_run=can_run,
            actions=HygieneAction,
        ),
        status=status,
    )


@require_GET
@staff_member_required
@permission_required("sendinglists.view_listcontact", raise_exception=True)
def hygiene_job_json(request, list_id: int, job_id: int):
    job = get_object_or_404(HygieneJob, pk=job_id, sending_list_id=list_id)
    return JsonResponse(
        {
            "id": job.pk,
            "status": job.status,
            "status_label": job.get_status_display(),
            "total": job.total,
            "processed": job.processed,
            "removed": job.removed,
            "percent": job.percent,
            "failure_reason": job.failure_reason,
        }
    )


@require_POST
@staff_member_required
@permission_required("sendinglists.add_hygienejob", raise_exception=True)
@permission_required("sendinglists.change_listcontact", raise_exception=True)
def hygiene_job_retry_view(request, list_id: int, job_id: int):
    job = get_object_or_404(HygieneJob, pk=job_id, sending_list_id=list_id)
    if not hygiene_job_retry(job=job):
        raise Http404("Only a failed job can be retried.")
    messages.success(request, f"Job #{job.pk} resumes where it stopped.")
    return redirect("audiences:hygiene", list_id=list_id)
