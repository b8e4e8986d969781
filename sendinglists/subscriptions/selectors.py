"""Reads of subscriptions (a number's membership of a list) that other apps' services build on."""

from django.db import connections

from contacts.models import Contact
from sendinglists.models import ListContact, SendingList


class _Columns:
    """One model's concrete columns in a hand-written SELECT, read back into an instance the way
    the ORM would (`from_db`, with the field and backend converters, e.g. JSON text -> dict)."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]
        self.columns = [field.get_col(alias) for field in self.fields]

    def select(self, connection) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def instance(self, connection, values):
        values = list(values)
        for index, column in enumerate(self.columns):
            for converter in connection.ops.get_db_converters(column) + column.get_db_converters(connection):
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


_MEMBER, _CONTACT, _LIST = _Columns(ListContact, "m"), _Columns(Contact, "c"), _Columns(SendingList, "l")


def member_for_update(
    *, list_number: str, region: str, phone_number: str
) -> tuple[SendingList, Contact, ListContact] | None:
    """The list at `list_number` (if its default region is `region`), the contact at `phone_number`
    and its membership of that list, or None when any of the three is missing; call it inside a
    transaction.

    Locks: the contact row and the membership row (SELECT ... FOR UPDATE OF c, m; the list row is
    only read), held until commit, so that one person's inbound messages are processed one at a time
    and each keyword's order checks see the previous one's result. PostgreSQL locks the rows in the
    order OF names them: the contact first, as every other path of a person's messages does (the
    opposite order could deadlock with them). SQLite has no row locks (its writes are serialized).

    One query, hand-written because the inbound webhook runs it on every message and compiling the
    same ORM query (select_related, select for update of two tables) cost more than running it.
    The instances come back as the ORM would build them, the membership's `contact` and
    `sending_list` already set.
    """
    connection = connections[ListContact.objects.db]
    quote = connection.ops.quote_name
    locking = " FOR UPDATE OF c, m" if connection.features.has_select_for_update_of else ""
    # Uses index: listcontact_list_contact_unique (and the unique phone numbers of both sides)
    sql = (
        f"SELECT {_MEMBER.select(connection)}, {_CONTACT.select(connection)}, {_LIST.select(connection)}"
        f" FROM {quote(ListContact._meta.db_table)} m"
        f" JOIN {quote(Contact._meta.db_table)} c ON c.id = m.contact_id"
        f" JOIN {quote(SendingList._meta.db_table)} l ON l.id = m.sending_list_id"
        f" WHERE l.phone_number = %s AND l.default_region = %s AND c.phone_number = %s{locking}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list_number, region, phone_number])
        row = cursor.fetchone()
    if row is None:
        return None
    member_end = len(_MEMBER.fields)
    contact_end = member_end + len(_CONTACT.fields)
    membership = _MEMBER.instance(connection, row[:member_end])
    contact = _CONTACT.instance(connection, row[member_end:contact_end])
    sending_list = _LIST.instance(connection, row[contact_end:])
    ListContact.contact.field.set_cached_value(membership, contact)
    ListContact.sending_list.field.set_cached_value(membership, sending_list)
    return sending_list, contact, membership
