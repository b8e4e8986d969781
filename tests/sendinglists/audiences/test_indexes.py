"""On PostgreSQL the compiler's SQL is served by the indexes the migration creates (checked with the
planner told to avoid sequential scans: these tables are tiny in tests, so it would scan them)."""

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from sendinglists.audiences.services import segment_build
from sendinglists.models import ListContact

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Tiny test tables: the list's FK index alone would win; bitmap scans show what is usable.
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = queryset.order_by().values("id").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def crowded_list(audience_list):
    """The fixture list plus 3,000 members unlike its six, analysed, so the planner sees selectivity."""
    contacts = Contact.objects.bulk_create(Contact(phone_number=f"+1202555{n:04d}") for n in range(3000))
    now = timezone.now()
    ListContact.objects.bulk_create(
        ListContact(
            sending_list=audience_list,
            contact=contact,
            subscribed_at=now,
            status_changed_at=now,
            signup_method="api",
            custom_fields={"state": "WA", "plan": "business"},
        )
        for contact in contacts
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sendinglists_listcontact")
        cursor.execute("ANALYZE contacts_contact_tags")
    return audience_list


def test_migration_creates_the_audience_indexes(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
            "('listcontact_custom_fields_gin', 'listcontact_list_clicked_part', 'listcontact_list_revenue_part', "
            "'contact_tags_tag_contact') ORDER BY indexname"
        )
        indexes = dict(cursor.fetchall())

    assert sorted(indexes) == [
        "contact_tags_tag_contact",
        "listcontact_custom_fields_gin",
        "listcontact_list_clicked_part",
        "listcontact_list_revenue_part",
    ]
    assert "USING gin (custom_fields jsonb_path_ops)" in indexes["listcontact_custom_fields_gin"]
    assert "WHERE (last_clicked_at IS NOT NULL)" in indexes["listcontact_list_clicked_part"]


@pytest.mark.parametrize(
    ("query", "index", "competitor"),
    [
        ('state = "CA"', "listcontact_custom_fields_gin", None),
        ("clicked_within = 30d", "listcontact_list_clicked_part", "listcontact_list_last_click"),
        (
            "revenue >= 50 AND not_sent_within = 7d",
            "listcontact_list_revenue_part",
            "listcontact_list_revenue",
        ),
        ("tag = vip", "contact_tags_tag_contact", "contacts_contact_tags(tag_id)"),
    ],
)
def test_audience_sql_is_served_by_its_index(crowded_list, query, index, competitor):
    """The partial indexes must match the compiled predicates (e.g. `revenue_total >= 50` implies
    `revenue_total > 0`). At test scale a full index on the same column would win, so it is
    dropped inside the test's transaction (rolled back afterwards)."""
    if competitor:
        with connection.cursor() as cursor:
            if competitor.endswith(")"):  # Django's FK index, named by a hash: find it by its column
                table, column = competitor[:-1].split("(")
                cursor.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
                    [table, f"%btree ({column})"],
                )
                competitor = cursor.fetchone()[0]
            cursor.execute(f"DROP INDEX {competitor}")
    queryset = segment_build(sending_list=crowded_list, query=query).queryset()

    assert index in plan(queryset)


def test_custom_field_equality_compiles_to_json_containment(audience_list):
    sql = str(segment_build(sending_list=audience_list, query='state = "CA"').queryset().query)

    assert """"sendinglists_listcontact"."custom_fields" @> Jsonb({'state': 'CA'})""" in sql
    assert "->" not in sql
