"""The facet table (ListContactFacet) and, on PostgreSQL, the triggers that keep it in step.

Every row of `sendinglists_listcontactfacet` says "membership M of list L has facet F":
`c:<key>=<jsonb text of the value>` for each string or boolean custom field value (dates are
strings) whose facet fits in 512 bytes, and `t:<tag id>` for each tag of the member's contact. The
triggers run in the writing transaction, so a count never sees a membership without its facets:
- a membership inserted (one statement-level trigger per INSERT or COPY, over its new rows),
- deleted (the same, over its old rows),
- updated in its custom fields, contact or list (statement-level too: the facets lost are deleted
  and those gained inserted; an UPDATE of anything else costs the trigger two EXCEPTs and no write),
- a contact tagged or untagged (statement-level, over the tag rows; Django only ever inserts and
  deletes rows of a many-to-many table, so an update there has no trigger),
- either table truncated.

Deleting a contact deletes its tag rows and its memberships in some order; each trigger removes
what the other table still holds, so either order leaves no facet behind.

Concurrent writers: a membership trigger reads the contact's tags and a tag trigger reads the
contact's memberships, so a contact tagged while another transaction adds it to a list would leave
that membership without the tag's facet (neither sees the other's uncommitted row). Each trigger
therefore locks the contacts it reads about before reading: FOR KEY SHARE on the membership side,
FOR UPDATE on the tag side (the two conflict). Whichever comes second waits for the first to commit,
and its next statement reads with a new snapshot (READ COMMITTED), so it sees the first's rows. The
writers that lock the contact first (an import's contact upsert, `contact_upsert`, `contact_add_tags`)
already hold a stronger lock on those rows, so the triggers' locks make them wait for nothing new.

`sendinglists_custom_facets(jsonb)` is the one definition of a custom facet; ListContactFacet.for_custom
spells the same text in Python (tests/sendinglists/test_facets.py compares the two).
"""

from django.db import migrations, models

TABLE = "sendinglists_listcontactfacet"

# Each trigger touches the facets of the rows its statement wrote: a probe of the primary key per
# facet. With the plain cost model the planner would rather hash the whole facet table once a
# statement writes a few thousand rows (measured while writing this, on a 1M-member list: deleting
# the facets of 20,000 updated rows took 640 ms as a hash join over a scan of 2.1M facets, 128 ms
# as probes).
PROBES = "SET enable_hashjoin = off SET enable_mergejoin = off"


def facets_of(rows: str) -> str:
    """SELECT (sending_list_id, facet, id) of every facet of the memberships in `rows` (a table or
    a transition table): one per custom value, one per tag of the contact."""
    return f"""
    SELECT m.sending_list_id, f.facet, m.id
    FROM {rows} m CROSS JOIN LATERAL sendinglists_custom_facets(m.custom_fields) AS f(facet)
    UNION ALL
    SELECT m.sending_list_id, 't:' || ct.tag_id, m.id
    FROM {rows} m JOIN contacts_contact_tags ct ON ct.contact_id = m.contact_id"""


def moved(rows: str, other: str) -> str:
    """The (id, sending_list_id, contact_id) of `rows` that `other` holds with another list or contact."""
    return f"SELECT id, sending_list_id, contact_id FROM {rows} EXCEPT SELECT id, sending_list_id, contact_id FROM {other}"


FUNCTIONS = f"""
CREATE FUNCTION sendinglists_custom_facets(fields jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT facet
    FROM jsonb_each(CASE WHEN jsonb_typeof(fields) = 'object' THEN fields ELSE '{{}}'::jsonb END) AS e,
         LATERAL (SELECT 'c:' || e.key || '=' || e.value::text) AS f(facet)
    WHERE jsonb_typeof(e.value) IN ('string', 'boolean') AND octet_length(facet) <= 512
$$;

CREATE FUNCTION sendinglists_listcontact_facets_insert() RETURNS trigger LANGUAGE plpgsql
{PROBES} AS $$
BEGIN
    PERFORM FROM contacts_contact WHERE id IN (SELECT contact_id FROM new_rows) FOR KEY SHARE;
    INSERT INTO {TABLE} (sending_list_id, facet, list_contact_id){facets_of("new_rows")};
    RETURN NULL;
END $$;

CREATE FUNCTION sendinglists_listcontact_facets_delete() RETURNS trigger LANGUAGE plpgsql
{PROBES} AS $$
BEGIN
    PERFORM FROM contacts_contact WHERE id IN (SELECT contact_id FROM old_rows) FOR KEY SHARE;
    DELETE FROM {TABLE} x USING ({facets_of("old_rows")}
    ) AS gone (sending_list_id, facet, id)
    WHERE x.sending_list_id = gone.sending_list_id AND x.facet = gone.facet
      AND x.list_contact_id = gone.id;
    RETURN NULL;
END $$;

-- Per UPDATE statement: the custom facets the updated rows lost are deleted and those they gained
-- inserted; memberships moved to another contact or list (rare) move their tag facets too. A trigger
-- with transition tables cannot have a column list, so this runs for every UPDATE of memberships;
-- when no custom field, contact or list changed it costs two EXCEPTs over the updated rows and no
-- write. Measured on a 1M-member list (pgbench, prepared single-row counter UPDATEs): 0.51-0.54 ms
-- with it against 0.48 ms without. A row-level trigger with a column list costs those nothing
-- (0.42 against 0.40 ms), but one UPDATE of the custom fields of 20,000 members took 3.4-3.7 s with
-- it against 1.0 s without; this one's statement took 0.47 s of that UPDATE's time.
CREATE FUNCTION sendinglists_listcontact_facets_update() RETURNS trigger LANGUAGE plpgsql
{PROBES} AS $$
BEGIN
    -- EXCEPT rather than a join: a planner aiming at EXISTS's first row would nest the two loops.
    IF EXISTS (
        SELECT id, sending_list_id, custom_fields FROM old_rows
        EXCEPT SELECT id, sending_list_id, custom_fields FROM new_rows
    ) THEN
        WITH before AS (
            SELECT o.sending_list_id AS list, f.facet, o.id
            FROM old_rows o CROSS JOIN LATERAL sendinglists_custom_facets(o.custom_fields) AS f(facet)
        ), after AS (
            SELECT n.sending_list_id AS list, f.facet, n.id
            FROM new_rows n CROSS JOIN LATERAL sendinglists_custom_facets(n.custom_fields) AS f(facet)
        ), deleted AS (
            DELETE FROM {TABLE} x
            USING (SELECT * FROM before EXCEPT ALL SELECT * FROM after) AS gone
            WHERE x.sending_list_id = gone.list AND x.facet = gone.facet AND x.list_contact_id = gone.id
        )
        INSERT INTO {TABLE} (sending_list_id, facet, list_contact_id)
        SELECT * FROM after EXCEPT ALL SELECT * FROM before;
    END IF;
    IF EXISTS ({moved("old_rows", "new_rows")}) THEN
        PERFORM FROM contacts_contact
        WHERE id IN (SELECT contact_id FROM old_rows UNION ALL SELECT contact_id FROM new_rows) FOR KEY SHARE;
        DELETE FROM {TABLE} x
        USING ({moved("old_rows", "new_rows")}) AS moved
        JOIN contacts_contact_tags ct ON ct.contact_id = moved.contact_id
        WHERE x.sending_list_id = moved.sending_list_id AND x.facet = 't:' || ct.tag_id
          AND x.list_contact_id = moved.id;
        INSERT INTO {TABLE} (sending_list_id, facet, list_contact_id)
        SELECT moved.sending_list_id, 't:' || ct.tag_id, moved.id
        FROM ({moved("new_rows", "old_rows")}) AS moved
        JOIN contacts_contact_tags ct ON ct.contact_id = moved.contact_id;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION sendinglists_contact_tag_facets_insert() RETURNS trigger LANGUAGE plpgsql
{PROBES} AS $$
BEGIN
    PERFORM FROM contacts_contact WHERE id IN (SELECT contact_id FROM new_rows) FOR UPDATE;
    INSERT INTO {TABLE} (sending_list_id, facet, list_contact_id)
    SELECT lc.sending_list_id, 't:' || n.tag_id, lc.id
    FROM new_rows n JOIN sendinglists_listcontact lc ON lc.contact_id = n.contact_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION sendinglists_contact_tag_facets_delete() RETURNS trigger LANGUAGE plpgsql
{PROBES} AS $$
BEGIN
    PERFORM FROM contacts_contact WHERE id IN (SELECT contact_id FROM old_rows) FOR UPDATE;
    DELETE FROM {TABLE} x USING old_rows o JOIN sendinglists_listcontact lc ON lc.contact_id = o.contact_id
    WHERE x.sending_list_id = lc.sending_list_id AND x.facet = 't:' || o.tag_id
      AND x.list_contact_id = lc.id;
    RETURN NULL;
END $$;

CREATE FUNCTION sendinglists_facets_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'sendinglists_listcontact' THEN
        DELETE FROM {TABLE};
    ELSE
        DELETE FROM {TABLE} WHERE facet >= 't:' AND facet < 't;';
    END IF;
    RETURN NULL;
END $$;
"""

TRIGGERS = f"""
CREATE TRIGGER listcontact_facets_insert AFTER INSERT ON sendinglists_listcontact
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_listcontact_facets_insert();
CREATE TRIGGER listcontact_facets_delete AFTER DELETE ON sendinglists_listcontact
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_listcontact_facets_delete();
CREATE TRIGGER listcontact_facets_update AFTER UPDATE ON sendinglists_listcontact
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_listcontact_facets_update();
CREATE TRIGGER listcontact_facets_truncate AFTER TRUNCATE ON sendinglists_listcontact
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_facets_truncate();
CREATE TRIGGER contact_tag_facets_insert AFTER INSERT ON contacts_contact_tags
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_contact_tag_facets_insert();
CREATE TRIGGER contact_tag_facets_delete AFTER DELETE ON contacts_contact_tags
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_contact_tag_facets_delete();
CREATE TRIGGER contact_tag_facets_truncate AFTER TRUNCATE ON contacts_contact_tags
    FOR EACH STATEMENT EXECUTE FUNCTION sendinglists_facets_truncate();

INSERT INTO {TABLE} (sending_list_id, facet, list_contact_id){facets_of("sendinglists_listcontact")};
"""

DROP = """
DROP TRIGGER IF EXISTS listcontact_facets_insert ON sendinglists_listcontact;
DROP TRIGGER IF EXISTS listcontact_facets_delete ON sendinglists_listcontact;
DROP TRIGGER IF EXISTS listcontact_facets_update ON sendinglists_listcontact;
DROP TRIGGER IF EXISTS listcontact_facets_truncate ON sendinglists_listcontact;
DROP TRIGGER IF EXISTS contact_tag_facets_insert ON contacts_contact_tags;
DROP TRIGGER IF EXISTS contact_tag_facets_delete ON contacts_contact_tags;
DROP TRIGGER IF EXISTS contact_tag_facets_truncate ON contacts_contact_tags;
DROP FUNCTION IF EXISTS sendinglists_listcontact_facets_insert();
DROP FUNCTION IF EXISTS sendinglists_listcontact_facets_delete();
DROP FUNCTION IF EXISTS sendinglists_listcontact_facets_update();
DROP FUNCTION IF EXISTS sendinglists_contact_tag_facets_insert();
DROP FUNCTION IF EXISTS sendinglists_contact_tag_facets_delete();
DROP FUNCTION IF EXISTS sendinglists_facets_truncate();
DROP FUNCTION IF EXISTS sendinglists_custom_facets(jsonb);
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        cursor.execute(TRIGGERS)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_drop_phone_like_index"),
        ("sendinglists", "0012_listcontact_indexes_ascending_id"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListContactFacet",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "sending_list_id",
                        "facet",
                        "list_contact_id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("sending_list_id", models.BigIntegerField()),
                ("facet", models.TextField()),
                ("list_contact_id", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
