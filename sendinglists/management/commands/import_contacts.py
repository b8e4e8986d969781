"""`python manage.py import_contacts FILE --list +18005551234 --consent "HOW THEY CONSENTED" [--map COLUMN=FIELD ...]`
`python manage.py import_contacts FILE --list +18005551234 --opt-outs` (an opt-out file)

The same import as the upload page (the same services, the same column guess when no --map is
given), printing progress and the final counts. Exits non-zero with a one-line reason when the file
cannot be imported at all, or when the import fails or is cancelled.
"""

import getpass
import os
import time

from celery import current_app, signals
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from contacts.phones import normalize_phone
from sendinglists.actors import Actor
from sendinglists.choices import ImportMode, ImportStatus
from sendinglists.imports.mapping import mapping_override, target_label
from sendinglists.imports.models import ImportJob
from sendinglists.imports.selectors import delimiter_label, import_error_report_lines, import_progress
from sendinglists.imports.services import (
    consent_attestation_clean,
    import_create,
    import_discard,
    import_start,
)
from sendinglists.lists.models import SendingList


class Command(BaseCommand):
    help = "Import contacts from a CSV file into a sending list."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file")
        parser.add_argument(
            "--list", required=True, dest="sending_list", help="The list's sender number (or id)"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Map a column (its header, or 0-based index) to phone, email, first_name, last_name, "
            "full_name, timezone, carrier, tags, custom:<key>, custom:<key>:<type> or ignore. Columns "
            "not named keep the page's guess.",
        )
        parser.add_argument("--region", default="", help="Country for national numbers (default: the list's)")
        header = parser.add_mutually_exclusive_group()
        header.add_argument("--header", dest="has_header", action="store_true", default=None)
        header.add_argument("--no-header", dest="has_header", action="store_false")
        parser.add_argument("--chunk-rows", type=int, default=None, help="Rows per chunk (default: settings)")
        parser.add_argument("--error-report", metavar="PATH", help="Write the failed rows as CSV to PATH")
        parser.add_argument(
            "--consent",
            metavar="TEXT",
            help="Required unless --opt-outs: how these contacts gave consent to receive texts from the list's "
            "sender (kept on the import as evidence; every subscription it writes names it).",
        )
        parser.add_argument(
            "--opt-outs",
            action="store_true",
            help="The file lists numbers that opted out elsewhere: every number in it is opted out of the list, "
            "known or not (an optional reason column: message, bad_response, invalid_contact, manual, complaint).",
        )

    def handle(self, *args, **options):
        sending_list = self._sending_list(options["sending_list"])
        overrides = self._overrides(options["map"])
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        mode = ImportMode.OPT_OUT if options["opt_outs"] else ImportMode.SUBSCRIBE
        actor = Actor.system(f"import_contacts command ({getpass.getuser()})")
        job = None
        try:
            if mode == ImportMode.SUBSCRIBE:
                consent_attestation_clean(options["consent"], sending_list=sending_list)
            with open(path, "rb") as handle:
                job = import_create(
                    sending_list=sending_list,
                    uploaded_file=File(handle, name=os.path.basename(path)),
                    actor=actor,
                    region=options["region"],
                    has_header=options["has_header"],
                    chunk_rows=options["chunk_rows"],
                    mode=mode,
                )
            self._describe(job)
            mapping = mapping_override(mapping=job.mapping, overrides=overrides, header=job.header)
            self._watch(job)
            try:
                job = import_start(
                    job=job, mapping=mapping, actor=actor, consent_attestation=options["consent"]
                )
            finally:
                signals.task_postrun.disconnect(self._after_chunk)
        except ValidationError as exc:
            if job is not None:
                import_discard(job=job)  # a refused import leaves no job and no file
            raise CommandError(" ".join(exc.messages)) from None
        job = self._wait(job)
        self._report(job, options["error_report"])

    def _sending_list(self, value: str) -> SendingList:
        found = None
        if value.isdigit() and len(value) < 10:
            found = SendingList.objects.filter(pk=int(value)).first()
        if found is None:
            phone = normalize_phone(value, "US")
            found = SendingList.objects.filter(phone_number=phone.e164 or value).first()
        if found is None:
            raise CommandError(f"No sending list with the number {value}.")
        return found

    def _overrides(self, pairs: list[str]) -> dict:
        overrides = {}
        for pair in pairs:
            column, separator, target = pair.partition("=")
            if not separator or not column.strip():
                raise CommandError(f"--map {pair!r}: expected COLUMN=FIELD, e.g. --map 'Phone Number=phone'.")
            overrides[column.strip()] = target.strip()
        return overrides

    def _describe(self, job: ImportJob) -> None:
        self.stdout.write(
            f"Import #{job.pk} of {job.original_filename} into {job.sending_list}: {job.rows_total:,} rows, "
            f"{job.encoding}, {delimiter_label(job.delimiter)}-delimited, "
            f"{'with a header row' if job.has_header else 'no header row'}"
        )

    def _watch(self, job: ImportJob) -> None:
        """Print progress after each chunk when chunks run in this process (no broker)."""

        def after_chunk(sender=None, **kwargs):
            if sender is not None and sender.name.endswith("import_chunk_task"):
                self._progress(ImportJob.objects.get(pk=job.pk))

        self._after_chunk = after_chunk  # a strong reference: the signal holds weak ones
        signals.task_postrun.connect(after_chunk)

    def _progress(self, job: ImportJob) -> None:
        progress = import_progress(job=job)
        left = f", {progress['seconds_left']} s left" if progress["seconds_left"] is not None else ""
        self.stdout.write(
            f"  {progress['percent']:5.1f}%  {progress['rows_done']:,}/{progress['rows_total']:,} rows, "
            f"{progress['rows_per_s']:,} rows/s{left}"
        )

    def _wait(self, job: ImportJob) -> ImportJob:
        """With a broker, workers run the chunks: poll until the import finishes."""
        job.refresh_from_db()
        if current_app.conf.task_always_eager:
            return job  # the chunks ran in import_start, after its commit
        last = None
        while job.status not in (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED):
            if job.rows_read != last:
                self._progress(job)
                last = job.rows_read
            time.sleep(1)
            job.refresh_from_db()
        return job

    def _report(self, job: ImportJob, error_report: str | None) -> None:
        fields = {field.key: field for field in job.sending_list.custom_fields.all()}
        columns = ", ".join(
            f"{name} -> {target_label(job.mapping.get(str(i), ''), fields)}"
            for i, name in enumerate(job.header)
        )
        self.stdout.write(f"Columns: {columns}")
        self.stdout.write(
            f"{job.get_status_display()}: {job.rows_read:,} rows read; "
            f"{job.contacts_created:,} contacts created, {job.contacts_updated:,} updated; "
            f"{job.memberships_created:,} memberships created, {job.memberships_updated:,} already subscribed; "
            f"{job.skipped_opted_out:,} skipped (opted out), {job.skipped_blocked:,} skipped (blocked)"
            f"{f', {job.opted_out:,} opted out by this file' if job.mode == ImportMode.OPT_OUT else ''}; "
            f"{job.duplicates:,} duplicates; {job.errors:,} errors"
        )
        if job.errors and error_report:
            with open(error_report, "w", encoding="utf-8", newline="") as out:
                for text in import_error_report_lines(job=job):
                    out.write(text)
            self.stdout.write(f"Error report: {error_report} ({job.errors:,} rows)")
        elif job.errors:
            self.stdout.write(
                "Rerun with --error-report PATH, or download the report from /imports/, for the failed rows."
            )
        if job.status != ImportStatus.COMPLETED:
            raise CommandError(
                f"Import #{job.pk} {job.status}: {job.failure_reason or 'stopped before the end'}"
            )
