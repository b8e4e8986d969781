"""The facet table stays equal to what the memberships and the contacts' tags say, whatever writes
them (ORM, bulk writes, an import's raw SQL, deletes that cascade), and audience counts read it.

PostgreSQL only: the triggers that keep it live there (migration 0013). The expected facets are
computed here in Python from the rows, independently of the triggers' SQL.
"""

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Tag
from sendinglists.audiences.services import segment_build, segment_count
from sendinglists.models import ListContact, ListContactFacet, SendingList
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    ListContactFactory,
    SendingListFactory,
    TagFactory,
)
from tests.sendinglists.imports.conftest import run_import

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL triggers")


def expected_facets() -> set[tuple[int, str, int]]:
    tags_of: dict[int, list[int]] = {}
    for contact_id, tag_id in Contact.tags.through.objects.values_list("contact_id", "tag_id"):
        tags_of.setdefault(contact_id, []).append(tag_id)
    facets = set()
    for membership in ListContact.objects.all():
        for key, value in membership.custom_fields.items():
            facet = ListContactFacet.for_custom(key, value) if isinstance(value, str | bool) else None
            if facet:
                facets.add((membership.sending_list_id, facet, membership.pk))
        for tag_id in tags_of.get(membership.contact_id, []):
            facets.add((membership.sending_list_id, ListContactFacet.for_tag(tag_id), membership.pk))
    return facets


def stored_facets() -> set[tuple[int, str, int]]:
    return set(ListContactFacet.objects.values_list("sending_list_id", "facet", "list_contact_id"))


def assert_in_step() -> None:
    assert stored_facets() == expected_facets()


@pytest.fixture
def lists(db):
    return SendingListFactory(), SendingListFactory()


def test_facets_follow_memberships_created_updated_and_deleted(lists):
    first, second = lists
    vip = TagFactory(name="vip")
    contact = ContactFactory()
    contact.tags.add(vip)
    membership = ListContactFactory(
        sending_list=first, contact=contact, custom_fields={"state": "CA", "score": 7, "opted": True}
    )
    ListContactFactory(sending_list=second, contact=contact, custom_fields={"state": "NY"})
    assert (first.pk, 'c:state="CA"', membership.pk) in stored_facets()
    assert (first.pk, f"t:{vip.pk}", membership.pk) in stored_facets()
    assert_in_step()

    membership.custom_fields = {"state": "TX", "opted": False}
    membership.save()
    assert_in_step()
    ListContact.objects.filter(pk=membership.pk).update(custom_fields={"plan": "pro"})
    assert_in_step()
    # Counters and status changes leave the facets alone (the update trigger does not run).
    ListContact.objects.filter(pk=membership.pk).update(send_count=5)
    assert_in_step()

    other = ContactFactory()
    ListContact.objects.filter(pk=membership.pk).update(contact=other)
    assert (first.pk, f"t:{vip.pk}", membership.pk) not in stored_facets()
    assert_in_step()

    third = SendingListFactory()
    ListContact.objects.filter(pk=membership.pk).update(sending_list=third)
    assert (third.pk, 'c:plan="pro"', membership.pk) in stored_facets()
    assert_in_step()

    membership.delete()
    assert_in_step()
    assert {facet[0] for facet in stored_facets()} == {second.pk}


def test_one_update_of_many_rows_changes_only_the_facets_that_changed(lists):
    first, _ = lists
    vip = TagFactory(name="vip")
    members = [
        ListContactFactory(sending_list=first, custom_fields={"state": state, "plan": "pro"})
        for state in ("CA", "NY", "TX")
    ]
    members[0].contact.tags.add(vip)
    ids = [m.pk for m in members]

    ListContact.objects.filter(pk__in=ids[:2]).update(custom_fields={"state": "CA", "plan": "free"})
    assert_in_step()
    ListContact.objects.filter(pk__in=ids).update(send_count=3)  # no custom field: no facet changes
    assert_in_step()
    ListContact.objects.bulk_update(
        [ListContact(pk=ids[1], custom_fields={}), ListContact(pk=ids[2], custom_fields={"vip": True})],
        ["custom_fields"],
    )
    assert_in_step()
    assert len(stored_facets()) == 4  # CA, free and the tag for the first; vip for the third


def test_facets_follow_tags_added_removed_and_deleted(lists):
    first, second = lists
    vip, beta = TagFactory(name="vip"), TagFactory(name="beta")
    contacts = [ContactFactory() for _ in range(3)]
    for contact in contacts:
        ListContactFactory(sending_list=first, contact=contact)
    ListContactFactory(sending_list=second, contact=contacts[0])

    contacts[0].tags.add(vip, beta)
    contacts[1].tags.add(vip)
    assert_in_step()
    assert len(stored_facets()) == 5  # contact 0: two tags on two lists; contact 1: one

    contacts[0].tags.remove(beta)
    assert_in_step()
    contacts[1].tags.clear()
    assert_in_step()
    vip.delete()
    assert_in_step()
    assert stored_facets() == set()


def test_deleting_a_contact_or_a_list_leaves_no_facet(lists):
    first, second = lists
    vip = TagFactory(name="vip")
    contacts = [ContactFactory() for _ in range(4)]
    for contact in contacts:
        contact.tags.add(vip)
        ListContactFactory(sending_list=first, contact=contact, custom_fields={"state": "CA"})
        ListContactFactory(sending_list=second, contact=contact, custom_fields={"state": "WA"})

    contacts[0].delete()
    assert_in_step()
    Contact.objects.filter(pk__in=[contacts[1].pk, contacts[2].pk]).delete()
    assert_in_step()
    SendingList.objects.filter(pk=first.pk).delete()
    assert_in_step()
    assert stored_facets() == {
        (second.pk, 'c:state="WA"', ListContact.objects.get(contact=contacts[3]).pk),
        (second.pk, f"t:{vip.pk}", ListContact.objects.get(contact=contacts[3]).pk),
    }


def test_an_import_keeps_the_facets_in_step(db):
    sending_list = SendingListFactory(phone_number="+18005550100", default_region="US")
    CustomFieldFactory(sending_list=sending_list, key="state", field_type="text")
    run_import(
        sending_list,
        'phone,state,tags\n+14155550101,CA,vip\n+14155550102,NY,\n+14155550103,,"vip, beta"\n',
        mapping={"phone": "phone", "state": "custom:state", "tags": "tags"},
    )
    assert_in_step()
    run_import(
        sending_list,
        "phone,state,tags\n+14155550101,TX,beta\n+14155550104,CA,\n",
        mapping={"phone": "phone", "state": "custom:state", "tags": "tags"},
    )
    assert_in_step()
    tag = Tag.objects.get(name__iexact="vip")
    assert segment_count(segment=segment_build(sending_list=sending_list, query="tag = vip")) == 2
    assert segment_count(segment=segment_build(sending_list=sending_list, query="state = CA")) == 1
    assert (sending_list.pk, f"t:{tag.pk}") in {(f[0], f[1]) for f in stored_facets()}


def test_truncating_the_memberships_empties_the_facets(lists):
    ListContactFactory(sending_list=lists[0], custom_fields={"state": "CA"})
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction holds deferred checks
        cursor.execute("TRUNCATE sendinglists_listcontact CASCADE")

    assert stored_facets() == set()


@pytest.mark.parametrize(
    "value",
    [
        "CA",
        True,
        False,
        "",
        'quote " and backslash \\ and slash /',
        "tab\tnewline\ncarriage\rbell\x07formfeed\x0cdel\x7f",
        "accents é, CJK 東京, emoji 🎉, line separator \u2028",
    ],
)
def test_python_spells_a_facet_as_the_trigger_does(lists, value):
    membership = ListContactFactory(sending_list=lists[0], custom_fields={"note": value})

    assert stored_facets() == {(lists[0].pk, ListContactFacet.for_custom("note", value), membership.pk)}


def test_a_value_too_long_for_a_facet_has_none_and_is_still_counted(lists):
    sending_list = lists[0]
    CustomFieldFactory(sending_list=sending_list, key="note", field_type="text")
    long_value = "é" * 300  # 600 bytes
    ListContactFactory(sending_list=sending_list, custom_fields={"note": long_value})
    ListContactFactory(sending_list=sending_list, custom_fields={"note": "short"})

    assert ListContactFacet.for_custom("note", long_value) is None
    assert [facet[1] for facet in stored_facets()] == ['c:note="short"']
    segment = segment_build(
        sending_list=sending_list, rules={"field": "note", "operator": "=", "value": long_value}
    )
    assert segment_count(segment=segment) == 1


def test_a_count_with_a_tag_or_custom_equality_reads_the_facet_table(lists):
    sending_list = lists[0]
    CustomFieldFactory(sending_list=sending_list, key="state", field_type="text")
    segment = segment_build(sending_list=sending_list, query='state = "CA" OR clicked_within = 7d')

    with CaptureQueriesContext(connection) as captured:
        segment_count(segment=segment)

    assert "sendinglists_listcontactfacet" in captured.captured_queries[-1]["sql"]


def _in_thread(work) -> threading.Thread:
    """Run `work` in a thread with its own database connection (its own transaction)."""

    def run():
        try:
            with transaction.atomic():
                work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def race(first, second) -> None:
    """`first` in this transaction and `second` in another one started before this one commits:
    `second` must wait for the commit (the triggers' row locks), then finish."""
    with transaction.atomic():
        first()
        other = _in_thread(second)
        other.join(timeout=1)
        assert other.is_alive()
    other.join(timeout=30)
    assert not other.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_contact_tagged_while_another_transaction_adds_it_to_a_list_gets_the_tag_facet():
    sending_list, contact, vip = SendingListFactory(), ContactFactory(), TagFactory(name="vip")

    race(
        lambda: ListContactFactory(sending_list=sending_list, contact=contact),
        lambda: contact.tags.add(vip),
    )

    assert_in_step()
    assert len(stored_facets()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_membership_added_while_another_transaction_tags_the_contact_gets_the_tag_facet():
    sending_list, contact, vip = SendingListFactory(), ContactFactory(), TagFactory(name="vip")

    race(
        lambda: contact.tags.add(vip),
        lambda: ListContactFactory(sending_list=sending_list, contact=contact),
    )

    assert_in_step()
    assert len(stored_facets()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_contact_tagged_while_another_transaction_deletes_its_membership_leaves_no_facet():
    sending_list, contact, vip = SendingListFactory(), ContactFactory(), TagFactory(name="vip")
    membership = ListContactFactory(sending_list=sending_list, contact=contact)

    race(lambda: ListContact.objects.filter(pk=membership.pk).delete(), lambda: contact.tags.add(vip))

    assert_in_step()
    assert stored_facets() == set()
