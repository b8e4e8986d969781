"""Import pages: the list of imports, upload, preview + mapping, progress, counts, error report.

Staff only; viewing needs `sendinglists.view_importjob`, uploading, starting and cancelling need
`sendinglists.add_importjob`. Every action calls the import services.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.pagination import id_param
from sendinglists.actors import Actor
from sendinglists.choices import ImportMode, ImportStatus
from sendinglists.imports.forms import ImportUploadForm, MappingForm
from sendinglists.imports.mapping import target_label
from sendinglists.imports.models import ImportJob
from sendinglists.imports.running import import_cancel
from sendinglists.imports.selectors import (
    delimiter_label,
    import_error_report_lines,
    import_preview,
    import_progress,
)
from sendinglists.imports.services import import_create, import_start
from sendinglists.lists.models import SendingList

PAGE_SIZE = 50


@require_GET
@staff_member_required
@permission_required("sendinglists.view_importjob", raise_exception=True)
def import_index(request):
    """Latest imports first, keyset-paged by id (`?before=<id>`)."""
    jobs = ImportJob.objects.select_related("sending_list", "created_by").order_by("-id")
    list_id = id_param(request.GET.get("list"))
    if list_id is not None:
        jobs = jobs.filter(sending_list_id=list_id)
    before = id_param(request.GET.get("before"))
    if before is not None:
        jobs = jobs.filter(pk__lt=before)
    page = list(jobs[: PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    return render(
        request,
        "imports/index.html",
        {"nav": "imports", "jobs": page[:PAGE_SIZE], "older": older, "list_id": list_id or ""},
    )


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("sendinglists.add_importjob", raise_exception=True)
def import_new(request):
    initial = {}
    list_id = id_param(request.GET.get("list"))
    if list_id is not None:
        initial["sending_list"] = get_object_or_404(SendingList, pk=list_id)
    form = ImportUploadForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_create(
                sending_list=form.cleaned_data["sending_list"],
                uploaded_file=form.cleaned_data["file"],
                actor=Actor.for_user(request.user),
                region=form.cleaned_data["region"],
                mode=form.cleaned_data["mode"] or ImportMode.SUBSCRIBE,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("imports:detail", job_id=job.pk)
    return render(
        request,
        "imports/new.html",
        {"nav": "imports", "form": form, "sending_list": initial.get("sending_list")},
    )


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("sendinglists.view_importjob", raise_exception=True)
def import_detail(request, job_id: int):
    """Before the start: preview and mapping. While running: progress. When done: the counts."""
    job = get_object_or_404(ImportJob.objects.select_related("sending_list", "created_by"), pk=job_id)
    context = {"nav": "imports", "job": job, "progress": import_progress(job=job)}
    if job.status == ImportStatus.PENDING:
        custom_fields = {field.key: field for field in job.sending_list.custom_fields.all()}
        preview = import_preview(job=job)
        form = MappingForm(request.POST or None, job=job, custom_fields=custom_fields, samples=preview)
        if request.method == "POST":
            if not request.user.has_perm("sendinglists.add_importjob"):
                raise PermissionDenied
            if form.is_valid():
                try:
                    import_start(
                        job=job,
                        mapping=form.mapping(),
                        has_header=form.cleaned_data["has_header"],
                        actor=Actor.for_user(request.user),
                        consent_attestation=form.consent_attestation(),
                    )
                except ValidationError as exc:
                    for error in exc.messages:
                        form.add_error(None, error)
                else:
                    messages.success(request, f"Import #{job.pk} started.")
                    return redirect("imports:detail", job_id=job.pk)
        context.update(
            form=form,
            preview=preview,
            delimiter=delimiter_label(job.delimiter),
            phone_guessed="phone" in job.mapping.values(),
        )
    elif request.method == "POST":
        return redirect("imports:detail", job_id=job.pk)
    else:
        fields = {field.key: field for field in job.sending_list.custom_fields.all()}
        context["columns"] = [
            (name, target_label(job.mapping.get(str(index), ""), fields))
            for index, name in enumerate(job.header)
        ]
    return render(request, "imports/detail.html", context)


@require_GET
@staff_member_required
@permission_required("sendinglists.view_importjob", raise_exception=True)
def import_progress_json(request, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id)
    return JsonResponse(import_progress(job=job))


@require_POST
@staff_member_required
@permission_required("sendinglists.add_importjob", raise_exception=True)
def import_cancel_view(request, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id)
    if import_cancel(job=job):
        messages.success(
            request, f"Import #{job.pk} cancelled; rows already imported stay imported and counted."
        )
    else:
        messages.warning(request, f"Import #{job.pk} had already finished.")
    return redirect("imports:detail", job_id=job.pk)


@require_GET
@staff_member_required
@permission_required("sendinglists.view_importjob", raise_exception=True)
def import_error_report(request, job_id: int):
    job = get_object_or_404(ImportJob, pk=job_id)
    response = StreamingHttpResponse(
        import_error_report_lines(job=job), content_type="text/csv; charset=utf-8"
    )
    stem = job.original_filename.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = f'attachment; filename="{stem}-errors-import-{job.pk}.csv"'
    return response
