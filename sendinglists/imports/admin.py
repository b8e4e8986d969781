from django.contrib import admin
from django.utils.html import format_html

from contacts.admin import LargeTableAdmin, ReadOnlyAdminMixin
from sendinglists.admin_common import admin_link
from sendinglists.imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = (
        "id",
        "original_filename",
        "sending_list_link",
        "status",
        "rows_read",
        "contacts_created",
        "memberships_created",
        "skipped_opted_out",
        "errors",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "sending_list")
    list_select_related = ("sending_list", "created_by")
    search_fields = ("original_filename",)
    readonly_fields = ("file_link",)

    @admin.display(description="Sending list", ordering="sending_list")
    def sending_list_link(self, job: ImportJob) -> str:
        return admin_link(job.sending_list)

    @admin.display(description="Uploaded file")
    def file_link(self, job: ImportJob) -> str:
        if not job.file:
            return "-"
        return format_html('<a href="{}">{}</a>', job.file.url, job.original_filename)
