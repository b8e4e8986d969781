"""Set-based writes of one chunk, inside the chunk's transaction.

Rows go into a temporary staging table (PostgreSQL: COPY; SQLite: batched executemany) and every
write is one statement over it: `INSERT … SELECT … ON CONFLICT` for contacts, memberships and the
job's seen phones, `UPDATE … FROM` for custom field merges. Nothing here decides what a row
becomes; `pipeline.py` does, and tells the writer.

Lock order: every statement that touches shared rows takes them in key order (phones sorted,
contact ids sorted), so two chunks that share numbers wait for each other instead of deadlocking.

The rules the ORM services hold are not spelled again here: the fields a contact merges come from
`contacts.services.UPSERT_MERGED_FIELDS`, and a new membership's values and its SUBSCRIBED event's
from `sendinglists.subscriptions.rows`; the statements are built from them once per chunk.
"""

import json
import uuid
from collections.abc import Iterable

from django.db import connection, models

from contacts.choices import SuppressionKind
from contacts.models import Contact
from contacts.services import UPSERT_MERGED_FIELDS
from sendinglists.actors import Actor
from sendinglists.choices import EventKind, SignupMethod
from sendinglists.subscriptions.models import ListContact, SubscriptionEvent
from sendinglists.subscriptions.rows import event_values, new_membership_values

_MERGED_FIELDS = UPSERT_MERGED_FIELDS
STAGE_COLUMNS = ("phone", "phone_int", "line_type", "uuid", *_MERGED_FIELDS)


def _columns(model: type[models.Model], values: dict) -> tuple[list[str], list]:
    """The column names and database values of a rule's field values (see `subscriptions.rows`)."""
    columns, params = [], []
    for name, value in values.items():
        field = model._meta.get_field(name)
        columns.append(field.column)
        params.append(
            field.get_db_prep_save(value.pk if isinstance(value, models.Model) else value, connection)
        )
    return columns, params


def _timestamp_columns(model: type[models.Model]) -> list[str]:
    """The auto_now / auto_now_add columns that save() would stamp: the writer stamps them with now."""
    return [
        field.column
        for field in model._meta.concrete_fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]


class ChunkWriter:
    """One chunk's writes; create it inside the chunk's transaction, call `close()` at the end."""

    def __init__(self, *, job_id: int, sending_list_id: int, now):
        self.job_id = job_id
        self.sending_list_id = sending_list_id
        self.is_postgres = connection.vendor == "postgresql"
        self.occurred_at = now
        self.now = connection.ops.adapt_datetimefield_value(now)
        self.cursor = connection.cursor()
        self._temp_tables: list[str] = []
        # {staged phone: contact id} for the staged phones that are a contact's phone channel.
        self.channel_holders: dict[str, int] = {}
        # The contacts of the staged phones that hold a phone channel (`contacts_state`).
        self.contacts_with_channels: set[int] = set()
        self._temp_schema = "pg_temp" if self.is_postgres else "temp"
        if self.is_postgres:
            # A chunk joins ~20k staged rows to tables of millions by unique keys: index probes
            # (nested loops) cost in proportion to the chunk, hash joins scan the whole table.
            # The planner's statistics lag behind a big import, so say it (for this transaction).
            self.cursor.execute("SET LOCAL enable_hashjoin = off")
            self.cursor.execute("SET LOCAL enable_mergejoin = off")
            # A part writes megabytes of WAL; its commit need not wait for the flush. A crash can
            # lose only the last parts' commits, and with them their `applied` marks, which commit
            # in the same transaction: the retried chunk writes them again (no loss, no double).
            self.cursor.execute("SET LOCAL synchronous_commit = off")

    def close(self, *, drop_tables: bool = True) -> None:
        # Dropped here too, not only ON COMMIT: the chunk may run inside an outer transaction.
        if drop_tables:
            for table in self._temp_tables:
                self.cursor.execute(f"DROP TABLE IF EXISTS {self._temp_schema}.{table}")
        self.cursor.close()

    # --- staging ----------------------------------------------------------------------------------

    def _create_temp(self, table: str, columns_sql: str) -> None:
        self.cursor.execute(f"DROP TABLE IF EXISTS {self._temp_schema}.{table}")
        on_commit = " ON COMMIT DROP" if self.is_postgres else ""
        self.cursor.execute(f"CREATE TEMP TABLE {table} ({columns_sql}){on_commit}")
        self._temp_tables.append(table)

    def _load(self, table: str, columns: tuple, rows: Iterable[tuple]) -> None:
        """Bulk-load rows into a table: COPY on PostgreSQL, executemany in batches on SQLite."""
        names = ", ".join(connection.ops.quote_name(column) for column in columns)
        if self.is_postgres:
            with self.cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                self.cursor.executemany(sql, batch)
                batch = []
        if batch:
            self.cursor.executemany(sql, batch)

    def stage_contacts(self, records: list) -> None:
        """Stage one row per distinct phone (records sorted by phone)."""
        self._create_temp(
            "import_stage",
            "phone varchar(16) PRIMARY KEY, phone_int bigint, line_type varchar(16), uuid char(32), "
            + ", ".join(f"{f} {Contact._meta.get_field(f).db_type(connection)}" for f in _MERGED_FIELDS),
        )
        if self.is_postgres:
            rows = (
                (r.phone, int(r.phone[1:]), r.line_type, None, *(r.values.get(f, "") for f in _MERGED_FIELDS))
                for r in records
            )
        else:
            rows = (
                (
                    r.phone,
                    int(r.phone[1:]),
                    r.line_type,
                    uuid.uuid4().hex,
                    *(r.values.get(f, "") for f in _MERGED_FIELDS),
                )
                for r in records
            )
        self._load("import_stage", STAGE_COLUMNS, rows)

    # --- statements -------------------------------------------------------------------------------

    def seen_first(self) -> set[int]:
        """Record the staged phones as seen by the job; returns those it had not seen before."""
        self.cursor.execute(
            "INSERT INTO sendinglists_importseenphone (job_id, phone) "
            "SELECT %s, s.phone_int FROM import_stage s WHERE true ORDER BY s.phone_int "
            "ON CONFLICT (job_id, phone) DO NOTHING RETURNING phone",
            [self.job_id],
        )
        return {row[0] for row in self.cursor.fetchall()}

    def contacts_upsert(self, *, scope_list_ids: list[int] | None = None) -> tuple[set[str], set[str]]:
        """Insert new contacts, merge non-blank values into existing ones (never blanking a known
        value). Returns (phones created, phones whose contact changed). A phone that is a contact's
        phone channel identifies that contact: its values merge into it, no contact is inserted.

        `scope_list_ids`: the import runs for a token limited to these lists, so a contact that any
        other list holds keeps its values (they belong to that list's owner too)."""
        # Uses index: contacts_contactnumber_pkey (one probe per staged phone)
        self.cursor.execute(
            "SELECT s.phone, n.contact_id FROM import_stage s "
            "JOIN contacts_contactnumber n ON n.phone_number = s.phone WHERE NOT n.is_primary"
        )
        self.channel_holders = dict(self.cursor.fetchall())
        # The trigger that records a new contact's number refuses one that is a channel.
        not_a_channel = (
            "NOT EXISTS (SELECT 1 FROM contacts_contactnumber n WHERE n.phone_number = s.phone AND NOT n.is_primary)"
            if self.channel_holders
            else "true"
        )
        existing: set[str] = set()
        if not self.is_postgres:
            self.cursor.execute(
                "SELECT c.phone_number FROM import_stage s JOIN contacts_contact c ON c.phone_number = s.phone"
            )
            existing = {row[0] for row in self.cursor.fetchall()}
        uuid_sql = "gen_random_uuid()" if self.is_postgres else "s.uuid"
        inserted_sql = "(xmax = 0)" if self.is_postgres else "0"
        assignments = ", ".join(
            f"{f} = CASE WHEN excluded.{f} <> '' THEN excluded.{f} ELSE c.{f} END" for f in _MERGED_FIELDS
        )
        changed = " OR ".join(f"(excluded.{f} <> '' AND excluded.{f} <> c.{f})" for f in _MERGED_FIELDS)
        scope_params: list = []
        scope_sql = ""
        if scope_list_ids is not None:
            # Uses index: the membership's contact foreign key
            placeholders = ", ".join(["%s"] * len(scope_list_ids)) or "-1"  # no list: every one is outside
            scope_sql = (
                " AND NOT EXISTS (SELECT 1 FROM sendinglists_listcontact o "
                f"WHERE o.contact_id = c.id AND o.sending_list_id NOT IN ({placeholders}))"
            )
            changed = f"({changed}){scope_sql}"
            scope_params = list(scope_list_ids)
        merged = ", ".join(_MERGED_FIELDS)
        staged = ", ".join(f"s.{f}" for f in _MERGED_FIELDS)
        self.cursor.execute(
            f"INSERT INTO contacts_contact AS c (uuid, phone_number, {merged}, line_type, is_valid, blocked, "
            "created_at, updated_at) "
            f"SELECT {uuid_sql}, s.phone, {staged}, "
            # A new contact whose number the consent ledger holds as blocked is blocked from the start.
            "s.line_type, true, EXISTS (SELECT 1 FROM contacts_numbersuppression b "
            "WHERE b.phone_number = s.phone AND b.sending_list_id IS NULL AND b.kind = %s), "
            f"%s, %s FROM import_stage s WHERE {not_a_channel} ORDER BY s.phone "
            f"ON CONFLICT (phone_number) DO UPDATE SET {assignments}, updated_at = excluded.updated_at "
            f"WHERE {changed} "
            f"RETURNING phone_number, {inserted_sql}",
            [SuppressionKind.BLOCK.value, self.now, self.now, *scope_params],
        )
        created, updated = set(), set()
        for phone, inserted in self.cursor.fetchall():
            if self.is_postgres:
                (created if inserted else updated).add(phone)
            else:
                (updated if phone in existing else created).add(phone)
        if self.channel_holders:
            updated |= self._channel_contacts_update(scope_sql=scope_sql, scope_params=scope_params)
        return created, updated

    def _channel_contacts_update(self, *, scope_sql: str, scope_params: list) -> set[str]:
        """Merge the staged values of channel phones into the contacts holding them, as the upsert
        merges a contact's own phone; returns the phones whose contact changed."""
        assignments = ", ".join(
            f"{f} = CASE WHEN s.{f} <> '' THEN s.{f} ELSE c.{f} END" for f in _MERGED_FIELDS
        )
        changed = " OR ".join(f"(s.{f} <> '' AND s.{f} <> c.{f})" for f in _MERGED_FIELDS)
        self.cursor.execute(
            f"UPDATE contacts_contact AS c SET {assignments}, updated_at = %s "
            "FROM (SELECT t.*, n.contact_id FROM import_stage t JOIN contacts_contactnumber n "
            "ON n.phone_number = t.phone WHERE NOT n.is_primary) AS s "
            f"WHERE c.id = s.contact_id AND ({changed}){scope_sql} RETURNING id",
            [self.now, *scope_params],
        )
        changed_ids = {row[0] for row in self.cursor.fetchall()}
        return {phone for phone, contact_id in self.channel_holders.items() if contact_id in changed_ids}

    def contacts_state(self) -> dict[str, tuple]:
        """{phone: (contact id, blocked, membership id or None, membership active or None)}, a
        channel phone's from the contact holding it (several phones of a chunk may share one).
        Also notes which of these contacts hold a phone channel (`contacts_with_channels`): their
        consent is read over all their numbers."""
        # Uses index: contactnumber_channels (a probe of a small index per contact)
        has_channels = (
            "EXISTS (SELECT 1 FROM contacts_contactnumber n WHERE n.contact_id = c.id AND NOT n.is_primary)"
        )
        self.cursor.execute(
            f"SELECT s.phone, c.id, c.blocked, lc.id, lc.active, {has_channels} FROM import_stage s "
            "JOIN contacts_contact c ON c.phone_number = s.phone "
            "LEFT JOIN sendinglists_listcontact lc ON lc.contact_id = c.id AND lc.sending_list_id = %s",
            [self.sending_list_id],
        )
        rows = self.cursor.fetchall()
        if self.channel_holders:
            # The staged phones that are a contact's channel, through the number's holder.
            phones = sorted(self.channel_holders)
            self.cursor.execute(
                "SELECT n.phone_number, c.id, c.blocked, lc.id, lc.active, true FROM contacts_contactnumber n "
                "JOIN contacts_contact c ON c.id = n.contact_id "
                "LEFT JOIN sendinglists_listcontact lc ON lc.contact_id = c.id AND lc.sending_list_id = %s "
                f"WHERE n.phone_number IN ({', '.join(['%s'] * len(phones))})",
                [self.sending_list_id, *phones],
            )
            rows += self.cursor.fetchall()
        self.contacts_with_channels = {row[1] for row in rows if row[5]}
        return {
            phone: (contact_id, bool(blocked), membership_id, None if active is None else bool(active))
            for phone, contact_id, blocked, membership_id, active, _ in rows
        }

    def memberships_create(
        self, items: list[tuple[int, str, dict]], *, actor: Actor, note: str = ""
    ) -> set[int]:
        """Create active import memberships, each with its SUBSCRIBED event naming the import, for
        (contact id, phone, custom fields). A membership someone else created meanwhile is left
        alone (no event either). Returns the contact ids whose membership was created."""
        if not items:
            return set()
        json_type = "jsonb" if self.is_postgres else "text"
        self._create_temp(
            "import_new", f"contact_id bigint PRIMARY KEY, phone varchar(16), custom_fields {json_type}"
        )
        self._load(
            "import_new",
            ("contact_id", "phone", "custom_fields"),
            (
                (contact_id, phone, json.dumps(custom))
                for contact_id, phone, custom in sorted(items, key=lambda item: item[0])
            ),
        )
        columns, values = _columns(
            ListContact,
            new_membership_values(signup_method=SignupMethod.IMPORT, subscribed_at=self.occurred_at),
        )
        stamps = _timestamp_columns(ListContact)
        insert = (
            "INSERT INTO sendinglists_listcontact (sending_list_id, contact_id, custom_fields, "
            f"{', '.join(columns + stamps)}) "
            f"SELECT %s, n.contact_id, n.custom_fields, {', '.join(['%s'] * (len(columns) + len(stamps)))} "
            "FROM import_new n WHERE true ORDER BY n.contact_id "
            "ON CONFLICT (sending_list_id, contact_id) DO NOTHING RETURNING id, contact_id"
        )
        insert_params = [self.sending_list_id, *values, *[self.now] * len(stamps)]
        columns, values = _columns(
            SubscriptionEvent,
            event_values(
                kind=EventKind.SUBSCRIBED,
                actor=actor,
                occurred_at=self.occurred_at,
                signup_method=SignupMethod.IMPORT,
                note=note,
            ),
        )
        stamps = _timestamp_columns(SubscriptionEvent)
        events = (
            "INSERT INTO sendinglists_subscriptionevent (sending_list_id, list_contact_id, contact_id, "
            f"phone_number, {', '.join(columns + stamps)}) "
            f"SELECT %s, created.id, created.contact_id, n.phone, {', '.join(['%s'] * (len(columns) + len(stamps)))} "
            "FROM {created} JOIN import_new n ON n.contact_id = created.contact_id ORDER BY created.id"
        )
        event_params = [self.sending_list_id, *values, *[self.now] * len(stamps)]
        if self.is_postgres:
            # One statement: the memberships the INSERT returns get their events, server-side.
            self.cursor.execute(
                f"WITH created AS ({insert}) {events.format(created='created')} RETURNING contact_id",
                insert_params + event_params,
            )
            return {row[0] for row in self.cursor.fetchall()}
        self.cursor.execute(insert, insert_params)
        created = self.cursor.fetchall()
        self._create_temp("import_created", "id bigint PRIMARY KEY, contact_id bigint")
        self._load("import_created", ("id", "contact_id"), created)
        self.cursor.execute(events.format(created="import_created created"), event_params)
        return {contact_id for _, contact_id in created}

    def custom_fields_merge(self, items: list[tuple[int, dict]]) -> None:
        """Merge custom field values into active memberships (membership id, values); an opted-out
        membership (even one opted out a moment ago) is left untouched."""
        if not items:
            return
        json_type = "jsonb" if self.is_postgres else "text"
        self._create_temp("import_merge", f"id bigint PRIMARY KEY, custom_fields {json_type}")
        self._load(
            "import_merge",
            ("id", "custom_fields"),
            (
                (membership_id, json.dumps(values))
                for membership_id, values in sorted(items, key=lambda i: i[0])
            ),
        )
        if self.is_postgres:
            self.cursor.execute(
                "UPDATE sendinglists_listcontact lc SET custom_fields = lc.custom_fields || m.custom_fields, "
                "updated_at = %s FROM import_merge m "
                "WHERE lc.id = m.id AND lc.active AND NOT (lc.custom_fields @> m.custom_fields)",
                [self.now],
            )
        else:
            self.cursor.execute(
                "UPDATE sendinglists_listcontact SET "
                "custom_fields = json_patch(sendinglists_listcontact.custom_fields, m.custom_fields), "
                "updated_at = %s FROM import_merge m "
                "WHERE sendinglists_listcontact.id = m.id AND sendinglists_listcontact.active "
                "AND json_patch(sendinglists_listcontact.custom_fields, m.custom_fields) "
                "<> json(sendinglists_listcontact.custom_fields)",
                [self.now],
            )

    def row_errors_create(self, errors: list) -> None:
        self._load(
            "sendinglists_importrowerror",
            ("job_id", "line", "column", "reason", "values"),
            (
                (self.job_id, error.line, error.column, error.reason, json.dumps(error.cells or []))
                for error in errors
            ),
        )
