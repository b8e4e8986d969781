"""Stream a list's members (all of them, or an audience) to CSV, any size, safe to open in a spreadsheet.

Rows are read in keyset chunks by membership id (newest first), so memory stays flat and each query
is an index range scan however deep the export is. Every text cell goes through
`contacts.csvsafe.neutralize_formula`: a contact named `=HYPERLINK(...)` arrives as text, not as a
formula. The columns match what the CSV import reads (phone, names, email, custom fields by key).
"""

import csv
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from contacts.csvsafe import neutralize_formula
from sendinglists.subscriptions.models import ListContact

EXPORT_CHUNK_ROWS = 2000

BASE_COLUMNS = [
    "phone_number",
    "first_name",
    "last_name",
    "email",
    "status",
    "signup_method",
    "subscribed_at",
    "opted_out_at",
    "send_count",
    "click_count",
    "conversion_count",
    "revenue_total",
    "last_sent_at",
    "last_clicked_at",
    "in_workflow",
    "tags",
]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    return neutralize_formula(str(value))


def _row(membership: ListContact, custom_keys: list[str]) -> list[str]:
    contact = membership.contact
    values = [
        contact.phone_number,
        contact.first_name,
        contact.last_name,
        contact.email,
        membership.display_status.value,
        membership.signup_method,
        membership.subscribed_at,
        membership.opted_out_at,
        membership.send_count,
        membership.click_count,
        membership.conversion_count,
        membership.revenue_total,
        membership.last_sent_at,
        membership.last_clicked_at,
        membership.in_workflow,
        ", ".join(sorted(tag.name for tag in contact.tags.all())),
    ]
    values += [membership.custom_fields.get(key) for key in custom_keys]
    return [_cell(value) for value in values]


def export_rows(*, queryset: QuerySet[ListContact], custom_keys: list[str]) -> Iterator[list[str]]:
    """The header, then one row per membership of `queryset`, newest first, read in chunks."""
    yield [*BASE_COLUMNS, *custom_keys]
    before_id = None
    while True:
        chunk = queryset.select_related("contact").prefetch_related("contact__tags").order_by("-id")
        if before_id is not None:
            chunk = chunk.filter(id__lt=before_id)
        # Uses index: listcontact_list_id (sending_list, id), one range per chunk.
        memberships = list(chunk[:EXPORT_CHUNK_ROWS])
        for membership in memberships:
            yield _row(membership, custom_keys)
        if len(memberships) < EXPORT_CHUNK_ROWS:
            return
        before_id = memberships[-1].pk


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_csv_lines(*, queryset: QuerySet[ListContact], custom_keys: list[str]) -> Iterator[str]:
    """CSV text, line by line, starting with a UTF-8 byte order mark so Excel reads names right."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in export_rows(queryset=queryset, custom_keys=custom_keys):
        yield writer.writerow(row)


def export_filename(*, sending_list, audience=None) -> str:
    name = slugify(audience.name if audience is not None else sending_list.name) or "members"
    return f"{name}-{timezone.now():%Y%m%d-%H%M}.csv"


def export_response(
    *, queryset: QuerySet[ListContact], custom_keys: list[str], filename: str
) -> StreamingHttpResponse:
    """A streamed CSV download: starts at once and never holds the export in memory."""
    response = StreamingHttpResponse(
        export_csv_lines(queryset=queryset, custom_keys=custom_keys), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
