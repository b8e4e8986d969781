"""Helpers for import tests: files from text, and an import run to the end (chunks run eagerly
after the start commits, as in the embedded default)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from sendinglists.actors import Actor
from sendinglists.imports.pipeline import COUNT_FIELDS
from sendinglists.imports.services import import_create, import_start
from sendinglists.models import ImportJob
from tests.factories import SendingListFactory


def csv_file(content: str | bytes, name: str = "contacts.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    data = content.encode(encoding) if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def run_import(
    sending_list, content, *, mapping=None, start_mapping=None, name="contacts.csv", **kwargs
) -> ImportJob:
    """Create and start an import of `content`, running every chunk; returns the finished job."""
    job = import_create(
        sending_list=sending_list,
        uploaded_file=csv_file(content, name=name),
        actor=Actor.system("test"),
        mapping=mapping,
        **kwargs,
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        import_start(consent_attestation="They signed up in store.", job=job, mapping=start_mapping)
    job.refresh_from_db()
    return job


def counts_of(job: ImportJob) -> dict:
    """The job's non-zero counts."""
    return {name: getattr(job, name) for name in COUNT_FIELDS if getattr(job, name)}


@pytest.fixture
def sending_list(db):
    return SendingListFactory(phone_number="+18005550100", name="Acme Deals", default_region="US")
