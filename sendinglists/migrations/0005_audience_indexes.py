"""PostgreSQL indexes the audience compiler's SQL is written for (sendinglists/audiences/compiler.py).

- custom-field equality compiles to containment `custom_fields @> '{"state": "CA"}'`: a GIN index
  with `jsonb_path_ops` (smaller and faster than the default opclass for `@>`, the only operator
  the compiler uses on the whole document);
- engagement rules compile to range conditions that these partial indexes match exactly, so their
  counts are index-only scans over the engaged few rather than the whole list:
  `clicked_within = 30d` (-> last_clicked_at >= now - 30 days, implies NOT NULL) and
  `revenue >= 50 AND not_sent_within = 7d` (-> revenue_total >= 50, implies > 0);
- a tag rule is an EXISTS on the contact-tag table by (tag_id, contact_id).

Built CONCURRENTLY (the migration is not atomic) so a live table keeps taking writes. SQLite has
no jsonb, and its planner does fine on the lists an embedded install holds, so nothing runs there.
"""

from django.db import migrations

INDEXES = {
    "listcontact_custom_fields_gin": (
        "sendinglists_listcontact USING gin (custom_fields jsonb_path_ops)"
    ),
    "listcontact_list_clicked_part": (
        "sendinglists_listcontact (sending_list_id, last_clicked_at, send_count) "
        "WHERE last_clicked_at IS NOT NULL"
    ),
    "listcontact_list_revenue_part": (
        "sendinglists_listcontact (sending_list_id, revenue_total, last_sent_at) WHERE revenue_total > 0"
    ),
    "contact_tags_tag_contact": "contacts_contact_tags (tag_id, contact_id)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0001_initial"),
        ("sendinglists", "0004_import_pipeline"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
