"""Drop the `varchar_pattern_ops` index Django adds beside a unique CharField on PostgreSQL.

It serves `LIKE 'prefix%'` under a non-C collation; phone numbers are only ever looked up whole
(normalized to E.164 first), so it was a fourth random-order index that every new contact (a
million in a big import) had to update. The unique index stays.
"""

from django.db import migrations


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS contacts_contact_phone_number_d530626e_like")


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS contacts_contact_phone_number_d530626e_like "
            "ON contacts_contact (phone_number varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(_drop, _create, elidable=False)]
