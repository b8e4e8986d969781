"""CSV export: exact cells, formula injection neutralised, streamed in chunks of any size."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from sendinglists.audiences import export
from sendinglists.audiences.export import export_response
from sendinglists.audiences.services import segment_build
from sendinglists.models import CustomField
from tests.factories import ContactFactory, ListContactFactory, SendingListFactory, TagFactory

UTC = dt.UTC


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.fixture
def hostile_list(db):
    sending_list = SendingListFactory(name="Spring Sale")
    CustomField.objects.create(sending_list=sending_list, key="note", label="Note", field_type="text")
    CustomField.objects.create(sending_list=sending_list, key="score", label="Score", field_type="number")
    contact = ContactFactory(
        phone_number="+14155550101",
        first_name='=HYPERLINK("http://evil.example","click")',
        last_name="@SUM(A1:A2)",
        email="x@example.com",
    )
    contact.tags.add(TagFactory(name="-vip"), TagFactory(name="alpha"))
    ListContactFactory(
        sending_list=sending_list,
        contact=contact,
        signup_method="import",
        subscribed_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        custom_fields={"note": "+1+2", "score": -3},
        send_count=4,
        click_count=1,
        revenue_total=Decimal("12.50"),
        last_sent_at=dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC),
        in_workflow=True,
    )
    second = ContactFactory(
        phone_number="+14155550102", first_name="\tTabbed", last_name="\rReturn", email=""
    )
    ListContactFactory(
        sending_list=sending_list,
        contact=second,
        active=False,
        unsub_reason="message",
        opted_out_at=dt.datetime(2025, 5, 5, tzinfo=UTC),
        status_changed_at=dt.datetime(2025, 5, 5, tzinfo=UTC),
        signup_method="api",
        subscribed_at=dt.datetime(2025, 2, 1, tzinfo=UTC),
        custom_fields={"note": "plain -text"},
    )
    return sending_list


def test_list_export_has_exact_cells_with_formulas_neutralised(hostile_list):
    segment = segment_build(sending_list=hostile_list)

    response = export_response(queryset=segment.queryset(), custom_keys=["note", "score"], filename="x.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert read_csv(response) == [
        [*export.BASE_COLUMNS, "note", "score"],
        [
            "+14155550102",
            "'\tTabbed",
            "'\rReturn",
            "",
            "message",
            "api",
            "2025-02-01T00:00:00Z",
            "2025-05-05T00:00:00Z",
            "0",
            "0",
            "0",
            "0.00",
            "",
            "",
            "false",
            "",
            "plain -text",
            "",
        ],
        [
            "+14155550101",
            '\'=HYPERLINK("http://evil.example","click")',
            "'@SUM(A1:A2)",
            "x@example.com",
            "active",
            "import",
            "2025-01-02T03:04:05Z",
            "",
            "4",
            "1",
            "0",
            "12.50",
            "2025-06-01T12:00:00Z",
            "",
            "true",
            "'-vip, alpha",
            "'+1+2",
            "-3",
        ],
    ]


def test_audience_export_contains_only_its_members(hostile_list):
    segment = segment_build(sending_list=hostile_list, query="status = active")

    rows = read_csv(export_response(queryset=segment.queryset(), custom_keys=[], filename="a.csv"))

    assert [row[0] for row in rows[1:]] == ["+14155550101"]


def test_export_streams_in_chunks_and_keeps_every_row_once(db, monkeypatch, django_assert_max_num_queries):
    sending_list = SendingListFactory()
    memberships = [ListContactFactory(sending_list=sending_list) for _ in range(7)]
    monkeypatch.setattr(export, "EXPORT_CHUNK_ROWS", 3)
    segment = segment_build(sending_list=sending_list)

    # 3 chunks of 3, 3 and 1 rows: two queries each (members + their tags); no COUNT, no full read.
    with django_assert_max_num_queries(6):
        rows = list(export.export_rows(queryset=segment.queryset(), custom_keys=[]))

    assert [row[0] for row in rows[1:]] == [m.contact.phone_number for m in reversed(memberships)]
