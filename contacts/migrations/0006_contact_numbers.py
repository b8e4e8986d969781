"""ContactNumber: every phone number that identifies a contact (its primary phone and its phone
channels), kept by database triggers on both vendors.

The table's primary key is the number, so "a number is one contact's primary phone or one
contact's channel, never both and never two contacts'" is a unique index, race-free on PostgreSQL.
Only the triggers below write it, in the statement that writes the contact or the channel:
- a contact inserted adds its primary row; a phone change moves it; a contact deleted removes its rows;
- a phone channel inserted adds a channel row; an update of its kind, value or contact moves it;
  a channel deleted removes it.
A write that would give a number to a second holder fails with an IntegrityError (the unique index
on PostgreSQL; on SQLite a BEFORE trigger raises it, because an outer `INSERT OR IGNORE` —
`bulk_create(ignore_conflicts=True)` — would otherwise silently skip the trigger's own insert).

PostgreSQL: inserts and deletes use statement-level triggers over transition tables (one INSERT per
statement, however many rows an import writes); updates are row-level (transition tables cannot be
combined with UPDATE OF a column list) and fire only when the number really changes.

Backfill: every contact's phone, then every phone channel. A phone channel whose value is already
a contact's primary phone (its own or another's) breaks the new rule and cannot be kept: such
channel rows are deleted before the triggers exist, and their (channel id, contact id, number) are
printed. Nothing about consent is lost with them: the consent ledger is keyed by the number
(NumberSuppression), not by the channel, and the number stays with the contact whose primary it is.
The demo data holds no phone channels; a query for such duplicates on a copy of production data
tells an operator what will go before migrating:
    SELECT ch.id, ch.contact_id, ch.value FROM contacts_contactchannel ch
    JOIN contacts_contact c ON c.phone_number = ch.value WHERE ch.kind = 'phone';
Channels cannot repeat each other: (kind, value) was already unique.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.backends.ddl_references import Statement

NUMBERS = "contacts_contactnumber"
CONTACT = "contacts_contact"
CHANNEL = "contacts_contactchannel"
TAKEN = "UNIQUE constraint failed: contacts_contactnumber.phone_number"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER contacts_number_contact_check BEFORE INSERT ON {CONTACT}
    WHEN EXISTS (SELECT 1 FROM {NUMBERS} n WHERE n.phone_number = NEW.phone_number AND NOT n.is_primary)
    BEGIN SELECT RAISE(ABORT, '{TAKEN}'); END""",
    f"""CREATE TRIGGER contacts_number_contact_insert AFTER INSERT ON {CONTACT}
    BEGIN INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary) VALUES (NEW.phone_number, NEW.id, 1); END""",
    f"""CREATE TRIGGER contacts_number_contact_update AFTER UPDATE OF phone_number ON {CONTACT}
    WHEN OLD.phone_number IS NOT NEW.phone_number
    BEGIN UPDATE {NUMBERS} SET phone_number = NEW.phone_number WHERE phone_number = OLD.phone_number; END""",
    f"""CREATE TRIGGER contacts_number_contact_delete AFTER DELETE ON {CONTACT}
    BEGIN
        DELETE FROM {NUMBERS} WHERE phone_number = OLD.phone_number AND contact_id = OLD.id;
        DELETE FROM {NUMBERS} WHERE contact_id = OLD.id AND NOT is_primary;
    END""",
    f"""CREATE TRIGGER contacts_number_channel_check BEFORE INSERT ON {CHANNEL}
    WHEN NEW.kind = 'phone' AND EXISTS (SELECT 1 FROM {NUMBERS} n WHERE n.phone_number = NEW.value
        AND (n.is_primary OR n.contact_id <> NEW.contact_id))
    BEGIN SELECT RAISE(ABORT, '{TAKEN}'); END""",
    f"""CREATE TRIGGER contacts_number_channel_insert AFTER INSERT ON {CHANNEL} WHEN NEW.kind = 'phone'
    BEGIN INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary) VALUES (NEW.value, NEW.contact_id, 0); END""",
    f"""CREATE TRIGGER contacts_number_channel_update AFTER UPDATE OF kind, value, contact_id ON {CHANNEL}
    BEGIN
        DELETE FROM {NUMBERS} WHERE OLD.kind = 'phone' AND phone_number = OLD.value AND NOT is_primary;
        INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary)
            SELECT NEW.value, NEW.contact_id, 0 WHERE NEW.kind = 'phone';
    END""",
    f"""CREATE TRIGGER contacts_number_channel_delete AFTER DELETE ON {CHANNEL} WHEN OLD.kind = 'phone'
    BEGIN DELETE FROM {NUMBERS} WHERE phone_number = OLD.value AND NOT is_primary; END""",
]
SQLITE_NAMES = [
    "contacts_number_contact_check",
    "contacts_number_contact_insert",
    "contacts_number_contact_update",
    "contacts_number_contact_delete",
    "contacts_number_channel_check",
    "contacts_number_channel_insert",
    "contacts_number_channel_update",
    "contacts_number_channel_delete",
]

POSTGRES_FUNCTIONS = f"""
CREATE FUNCTION contacts_numbers_contact_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary)
    SELECT phone_number, id, true FROM new_rows ORDER BY phone_number;
    RETURN NULL;
END $$;

CREATE FUNCTION contacts_numbers_contact_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {NUMBERS} SET phone_number = NEW.phone_number WHERE phone_number = OLD.phone_number;
    RETURN NULL;
END $$;

CREATE FUNCTION contacts_numbers_contact_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {NUMBERS} n USING old_rows o WHERE n.phone_number = o.phone_number AND n.contact_id = o.id;
    DELETE FROM {NUMBERS} n USING old_rows o WHERE n.contact_id = o.id AND NOT n.is_primary;
    RETURN NULL;
END $$;

CREATE FUNCTION contacts_numbers_channel_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary)
    SELECT value, contact_id, false FROM new_rows WHERE kind = 'phone' ORDER BY value;
    RETURN NULL;
END $$;

CREATE FUNCTION contacts_numbers_channel_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.kind = 'phone' THEN
        DELETE FROM {NUMBERS} WHERE phone_number = OLD.value AND NOT is_primary;
    END IF;
    IF NEW.kind = 'phone' THEN
        INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary) VALUES (NEW.value, NEW.contact_id, false);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION contacts_numbers_channel_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {NUMBERS} n USING old_rows o
    WHERE o.kind = 'phone' AND n.phone_number = o.value AND NOT n.is_primary;
    RETURN NULL;
END $$;

CREATE TRIGGER contacts_numbers_contact_insert AFTER INSERT ON {CONTACT}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_numbers_contact_insert();
CREATE TRIGGER contacts_numbers_contact_update AFTER UPDATE OF phone_number ON {CONTACT}
    FOR EACH ROW WHEN (OLD.phone_number IS DISTINCT FROM NEW.phone_number)
    EXECUTE FUNCTION contacts_numbers_contact_update();
CREATE TRIGGER contacts_numbers_contact_delete AFTER DELETE ON {CONTACT}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_numbers_contact_delete();
CREATE TRIGGER contacts_numbers_channel_insert AFTER INSERT ON {CHANNEL}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_numbers_channel_insert();
CREATE TRIGGER contacts_numbers_channel_update AFTER UPDATE OF kind, value, contact_id ON {CHANNEL}
    FOR EACH ROW WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.value IS DISTINCT FROM NEW.value
        OR OLD.contact_id IS DISTINCT FROM NEW.contact_id)
    EXECUTE FUNCTION contacts_numbers_channel_update();
CREATE TRIGGER contacts_numbers_channel_delete AFTER DELETE ON {CHANNEL}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_numbers_channel_delete();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS contacts_numbers_contact_insert ON contacts_contact;
DROP TRIGGER IF EXISTS contacts_numbers_contact_update ON contacts_contact;
DROP TRIGGER IF EXISTS contacts_numbers_contact_delete ON contacts_contact;
DROP TRIGGER IF EXISTS contacts_numbers_channel_insert ON contacts_contactchannel;
DROP TRIGGER IF EXISTS contacts_numbers_channel_update ON contacts_contactchannel;
DROP TRIGGER IF EXISTS contacts_numbers_channel_delete ON contacts_contactchannel;
DROP FUNCTION IF EXISTS contacts_numbers_contact_insert();
DROP FUNCTION IF EXISTS contacts_numbers_contact_update();
DROP FUNCTION IF EXISTS contacts_numbers_contact_delete();
DROP FUNCTION IF EXISTS contacts_numbers_channel_insert();
DROP FUNCTION IF EXISTS contacts_numbers_channel_update();
DROP FUNCTION IF EXISTS contacts_numbers_channel_delete();
"""


def backfill_and_create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"contacts 0006: no ContactNumber triggers for {vendor}")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ch.id, ch.contact_id, ch.value FROM {CHANNEL} ch "
            f"JOIN {CONTACT} c ON c.phone_number = ch.value WHERE ch.kind = 'phone' ORDER BY ch.id"
        )
        duplicates = cursor.fetchall()
        if duplicates:
            print(
                f"\n  contacts 0006: deleting {len(duplicates)} phone channel(s) that repeat a contact's "
                "primary phone (channel id, contact id, number):"
            )
            for row in duplicates:
                print(f"    {row}")
            cursor.execute(
                f"DELETE FROM {CHANNEL} WHERE kind = 'phone' "
                f"AND value IN (SELECT phone_number FROM {CONTACT})"
            )
        cursor.execute(
            f"INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary) "
            f"SELECT phone_number, id, true FROM {CONTACT}"
        )
        cursor.execute(
            f"INSERT INTO {NUMBERS} (phone_number, contact_id, is_primary) "
            f"SELECT value, contact_id, false FROM {CHANNEL} WHERE kind = 'phone'"
        )
    if vendor == "postgresql":
        # Django's varchar_pattern_ops twin of a CharField key serves LIKE 'prefix%' only; numbers are
        # looked up whole. CreateModel queued it for the end of this migration: take it out.
        schema_editor.deferred_sql = [
            statement
            for statement in schema_editor.deferred_sql
            if not (
                isinstance(statement, Statement)
                and statement.references_table(NUMBERS)
                and "varchar_pattern_ops" in str(statement)
            )
        ]
        schema_editor.execute(POSTGRES_FUNCTIONS)
    else:
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    else:
        for name in SQLITE_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
    schema_editor.execute(f"DELETE FROM {NUMBERS}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0005_suppression_resumed_after_stopall"),
    ]

    operations = [
        migrations.CreateModel(
            name="ContactNumber",
            fields=[
                ("phone_number", models.CharField(max_length=254, primary_key=True, serialize=False)),
                (
                    "is_primary",
                    models.BooleanField(help_text="The contact's phone_number; otherwise a phone channel"),
                ),
                (
                    "contact",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="numbers",
                        to="contacts.contact",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("is_primary", False)),
                        fields=["contact"],
                        name="contactnumber_channels",
                    )
                ],
            },
        ),
        migrations.RunPython(backfill_and_create_triggers, drop_triggers, elidable=False),
    ]
