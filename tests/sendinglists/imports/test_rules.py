"""The import's rules, through the real pipeline (create, start, chunks) on the real database."""

from contacts.models import Contact
from sendinglists.actors import Actor
from sendinglists.choices import ActorKind, EventKind, ImportStatus, SignupMethod, UnsubReason
from sendinglists.contacts.services import contact_block, contact_delete
from sendinglists.imports.models import ImportChunk, ImportRowError, ImportSeenPhone
from sendinglists.imports.pipeline import chunk_apply
from sendinglists.lists.services import list_status_counts
from sendinglists.models import CustomField, ListContact, SubscriptionEvent
from sendinglists.subscriptions.opt_out import list_contact_opt_out
from sendinglists.subscriptions.subscribe import list_contact_subscribe
from tests.factories import ContactFactory, CustomFieldFactory, TagFactory
from tests.sendinglists.imports.conftest import counts_of, run_import

SYSTEM = Actor.system("test")


def status_counts(sending_list) -> dict:
    counts = list_status_counts(sending_list_ids=[sending_list.pk])[sending_list.pk]
    return {status: count for status, count in counts.items() if count}


def test_import_creates_contacts_and_active_import_memberships_with_an_event_naming_the_import(sending_list):
    job = run_import(
        sending_list,
        "Phone Number,First Name,Last Name,E-mail\n"
        "+14155550101,Ana,Smith,ana@example.com\n"
        "(415) 555-0102,Ben,Jones,\n",
    )

    assert job.status == ImportStatus.COMPLETED
    assert counts_of(job) == {"rows_read": 2, "contacts_created": 2, "memberships_created": 2}
    ana = Contact.objects.get(phone_number="+14155550101")
    assert (ana.first_name, ana.last_name, ana.email) == ("Ana", "Smith", "ana@example.com")
    memberships = ListContact.objects.filter(sending_list=sending_list).order_by("contact__phone_number")
    assert [(m.contact.phone_number, m.active, m.signup_method, m.unsub_reason) for m in memberships] == [
        ("+14155550101", True, SignupMethod.IMPORT, ""),
        ("+14155550102", True, SignupMethod.IMPORT, ""),
    ]
    events = SubscriptionEvent.objects.filter(sending_list=sending_list).order_by("phone_number")
    assert [
        (e.phone_number, e.kind, e.signup_method, e.actor_kind, e.actor_id, e.actor_label, e.list_contact_id)
        for e in events
    ] == [
        (
            "+14155550101",
            EventKind.SUBSCRIBED,
            "import",
            ActorKind.IMPORT,
            str(job.pk),
            f"Import #{job.pk}",
            memberships[0].pk,
        ),
        (
            "+14155550102",
            EventKind.SUBSCRIBED,
            "import",
            ActorKind.IMPORT,
            str(job.pk),
            f"Import #{job.pk}",
            memberships[1].pk,
        ),
    ]
    assert status_counts(sending_list) == {"active": 2}


def test_every_valid_phone_format_is_normalized_with_the_lists_region(sending_list):
    job = run_import(
        sending_list,
        "phone\n+14155550101\n14155550102\n(415) 555-0103\n415.555.0104\n415-555-0105\n+44 7911 123456\n",
    )

    assert counts_of(job) == {"rows_read": 6, "contacts_created": 6, "memberships_created": 6}
    assert sorted(Contact.objects.values_list("phone_number", flat=True)) == [
        "+14155550101",
        "+14155550102",
        "+14155550103",
        "+14155550104",
        "+14155550105",
        "+447911123456",
    ]


def test_national_numbers_use_the_region_given_to_the_import(sending_list):
    job = run_import(sending_list, "phone\n07911 123456\n", region="GB")

    assert counts_of(job) == {"rows_read": 1, "contacts_created": 1, "memberships_created": 1}
    assert list(Contact.objects.values_list("phone_number", flat=True)) == ["+447911123456"]


def test_an_invalid_phone_is_a_row_error_with_its_line_column_and_reason(sending_list):
    job = run_import(sending_list, "Name,Phone\nAna,+14155550101\nBen,555-12\nCleo,\nDev,call me\n")

    assert counts_of(job) == {"rows_read": 4, "contacts_created": 1, "memberships_created": 1, "errors": 3}
    errors = list(ImportRowError.objects.filter(job=job).values_list("line", "column", "reason", "values"))
    assert errors == [
        (
            3,
            "Phone",
            "Line 3: Phone: '555-12' is not a valid phone number (wrong number of digits).",
            ["Ben", "555-12"],
        ),
        (4, "Phone", "Line 4: Phone: the phone number is empty.", ["Cleo", ""]),
        (
            5,
            "Phone",
            "Line 5: Phone: 'call me' is not a valid phone number (contains letters).",
            ["Dev", "call me"],
        ),
    ]
    assert Contact.objects.count() == 1


def test_an_existing_active_membership_gets_custom_fields_merged(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="state", label="State")
    CustomFieldFactory(sending_list=sending_list, key="plan", label="Plan")
    contact = ContactFactory(phone_number="+14155550101")
    list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="api",
        actor=SYSTEM,
        custom_fields={"state": "CA", "plan": "pro"},
    )

    job = run_import(sending_list, "phone,state,plan\n4155550101,NY,\n")

    assert counts_of(job) == {"rows_read": 1, "memberships_updated": 1}
    membership = ListContact.objects.get(sending_list=sending_list, contact=contact)
    assert (membership.active, membership.signup_method) == (True, "api")
    assert membership.custom_fields == {"state": "NY", "plan": "pro"}
    assert SubscriptionEvent.objects.filter(list_contact=membership).count() == 1  # only the API's subscribe
    assert status_counts(sending_list) == {"active": 1}


def test_an_opted_out_membership_is_untouched_and_counted_as_skipped(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="state", label="State")
    contact = ContactFactory(phone_number="+14155550101")
    membership = list_contact_subscribe(
        sending_list=sending_list,
        contact=contact,
        signup_method="api",
        actor=SYSTEM,
        custom_fields={"state": "CA"},
    ).membership
    list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=SYSTEM)
    before = ListContact.objects.get(pk=membership.pk)

    job = run_import(sending_list, "phone,state\n+14155550101,NY\n+14155550102,TX\n")

    assert counts_of(job) == {
        "rows_read": 2,
        "contacts_created": 1,
        "memberships_created": 1,
        "skipped_opted_out": 1,
    }
    after = ListContact.objects.get(pk=membership.pk)
    assert (after.active, after.unsub_reason, after.custom_fields, after.updated_at) == (
        False,
        UnsubReason.MESSAGE,
        {"state": "CA"},
        before.updated_at,
    )
    assert list(SubscriptionEvent.objects.filter(list_contact=membership).values_list("kind", flat=True)) == [
        EventKind.OPTED_OUT,
        EventKind.SUBSCRIBED,
    ]
    assert status_counts(sending_list) == {"active": 1, "message": 1}


def test_a_blocked_contact_is_never_subscribed(sending_list):
    contact = ContactFactory(phone_number="+14155550101")
    contact_block(contact=contact, actor=SYSTEM)

    job = run_import(sending_list, "phone\n+14155550101\n")

    assert counts_of(job) == {"rows_read": 1, "skipped_blocked": 1}
    assert not ListContact.objects.filter(contact=contact).exists()
    assert not SubscriptionEvent.objects.filter(contact=contact, kind=EventKind.SUBSCRIBED).exists()
    assert status_counts(sending_list) == {}


def test_a_number_deleted_while_opted_out_comes_back_opted_out_not_active(sending_list):
    contact = ContactFactory(phone_number="+14155550101")
    membership = list_contact_subscribe(
        sending_list=sending_list, contact=contact, signup_method="api", actor=SYSTEM
    ).membership
    list_contact_opt_out(membership=membership, reason=UnsubReason.COMPLAINT, actor=SYSTEM)
    contact_delete(contact=contact)

    job = run_import(sending_list, "phone\n+14155550101\n")

    assert counts_of(job) == {"rows_read": 1, "contacts_created": 1, "skipped_opted_out": 1}
    restored = ListContact.objects.get(sending_list=sending_list, contact__phone_number="+14155550101")
    assert (restored.active, restored.unsub_reason) == (False, UnsubReason.COMPLAINT)
    assert not SubscriptionEvent.objects.filter(
        phone_number="+14155550101", kind=EventKind.SUBSCRIBED, actor_kind=ActorKind.IMPORT
    ).exists()
    assert status_counts(sending_list) == {"complaint": 1}


def test_contacts_merge_without_blanking_known_values(sending_list):
    contact = ContactFactory(
        phone_number="+14155550101", first_name="Ana", last_name="Smith", email="ana@example.com", carrier=""
    )

    job = run_import(
        sending_list,
        "phone,first_name,last_name,email,carrier\n+14155550101,,Smyth,,Verizon\n+14155550102,,,,\n",
    )

    assert counts_of(job) == {
        "rows_read": 2,
        "contacts_created": 1,
        "contacts_updated": 1,
        "memberships_created": 2,
    }
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.email, contact.carrier) == (
        "Ana",
        "Smyth",
        "ana@example.com",
        "Verizon",
    )


def test_an_unchanged_existing_contact_is_not_counted_as_updated(sending_list):
    ContactFactory(phone_number="+14155550101", first_name="Ana", last_name="Smith", email="ana@example.com")

    job = run_import(sending_list, "phone,first_name,email\n+14155550101,Ana,ana@example.com\n")

    assert counts_of(job) == {"rows_read": 1, "memberships_created": 1}


def test_a_phone_twice_in_the_file_is_one_contact_and_the_repeat_is_reported_as_duplicate(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="state", label="State")
    job = run_import(
        sending_list,
        "phone,first_name,email,state\n"
        "+14155550101,Ana,ana@example.com,CA\n"
        "(415) 555-0101,,,NY\n"
        "+14155550102,Ben,,\n"
        "14155550101,Anna,,\n",
    )

    assert counts_of(job) == {
        "rows_read": 4,
        "contacts_created": 2,
        "memberships_created": 2,
        "duplicates": 2,
    }
    ana = Contact.objects.get(phone_number="+14155550101")
    assert (ana.first_name, ana.email) == ("Anna", "ana@example.com")
    membership = ListContact.objects.get(contact=ana)
    assert membership.custom_fields == {"state": "NY"}
    assert SubscriptionEvent.objects.filter(contact=ana).count() == 1


def test_duplicates_across_chunks_are_counted_once_and_make_one_contact(sending_list):
    lines = [f"+1415555{n:04d}" for n in range(1, 8)] + ["+14155550001", "+14155550002", "+14155550003"]

    job = run_import(sending_list, "phone\n" + "\n".join(lines) + "\n", chunk_rows=3)

    assert job.total_chunks == 4
    assert counts_of(job) == {
        "rows_read": 10,
        "contacts_created": 7,
        "memberships_created": 7,
        "duplicates": 3,
    }
    assert Contact.objects.count() == 7
    assert SubscriptionEvent.objects.count() == 7
    assert not ImportSeenPhone.objects.filter(job=job).exists()  # bookkeeping dropped when done


def test_counts_add_up_to_rows_read(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="score", label="Score", field_type="number")
    blocked = ContactFactory(phone_number="+14155550109")
    contact_block(contact=blocked, actor=SYSTEM)
    job = run_import(
        sending_list,
        "phone,score\n+14155550101,1\n+14155550101,2\n+14155550109,3\nnope,4\n+14155550102,x\n+14155550103,\n",
        chunk_rows=2,
    )

    assert counts_of(job) == {
        "rows_read": 6,
        "contacts_created": 2,
        "memberships_created": 2,
        "skipped_blocked": 1,
        "duplicates": 1,
        "errors": 2,
    }
    assert job.rows_read == sum(
        getattr(job, name)
        for name in (
            "memberships_created",
            "memberships_updated",
            "skipped_opted_out",
            "skipped_blocked",
            "duplicates",
            "errors",
        )
    )


def test_a_full_name_column_is_split_into_first_and_last_name(sending_list):
    run_import(
        sending_list,
        'Name,Phone\nAna Smith,+14155550101\nMary Ann Jones,+14155550102\n"Garcia, Luis",+14155550103\nCher,+14155550104\n',
    )

    assert list(Contact.objects.order_by("phone_number").values_list("first_name", "last_name")) == [
        ("Ana", "Smith"),
        ("Mary Ann", "Jones"),
        ("Luis", "Garcia"),
        ("Cher", ""),
    ]


def test_timezone_carrier_and_tags_are_set_on_the_contact(sending_list):
    TagFactory(name="VIP")
    run_import(
        sending_list,
        'phone,timezone,carrier,tags\n+14155550101,America/New_York,Verizon,"vip, Spring Sale"\n',
    )

    contact = Contact.objects.get()
    assert (contact.timezone, contact.carrier) == ("America/New_York", "Verizon")
    assert sorted(contact.tags.values_list("name", flat=True)) == ["Spring Sale", "VIP"]


def test_bad_values_are_row_errors_naming_the_column_and_the_problem(sending_list):
    CustomFieldFactory(sending_list=sending_list, key="score", label="Score", field_type="number")
    CustomFieldFactory(
        sending_list=sending_list, key="plan", label="Plan", field_type="choice", choices=["free", "pro"]
    )
    CustomFieldFactory(sending_list=sending_list, key="joined", label="Joined", field_type="date")
    job = run_import(
        sending_list,
        "phone,email,timezone,score,plan,joined,tags\n"
        "+14155550101,not-an-email,,,,,\n"
        "+14155550102,,Mars/Olympus,,,,\n"
        "+14155550103,,,lots,,,\n"
        "+14155550104,,,,gold,,\n"
        "+14155550105,,,,,31/31/2020,\n"
        '+14155550106,,,,,,"a,b,c,d,e,f"\n'
        "+14155550107,bad@,,,,,\n",
    )

    assert counts_of(job) == {"rows_read": 7, "errors": 7}
    assert list(ImportRowError.objects.filter(job=job).values_list("line", "reason")) == [
        (2, "Line 2: email: 'not-an-email' is not a valid email address."),
        (
            3,
            "Line 3: timezone: 'Mars/Olympus' is not a time zone (use an IANA name such as America/New_York).",
        ),
        (4, "Line 4: score: 'lots' is not a number."),
        (5, "Line 5: plan: 'gold' is not one of: free, pro."),
        (6, "Line 6: joined: '31/31/2020' is not a date (use YYYY-MM-DD)."),
        (7, "Line 7: tags: 6 tags; a contact can have at most 5."),
        (8, "Line 8: email: 'bad@' is not a valid email address."),
    ]
    assert Contact.objects.count() == 0
    assert ListContact.objects.count() == 0


def test_a_row_that_would_give_a_contact_more_than_five_tags_is_an_error(sending_list):
    contact = ContactFactory(phone_number="+14155550101")
    contact.tags.set([TagFactory(name=name) for name in ("a", "b", "c", "d")])

    job = run_import(sending_list, 'phone,tags\n+14155550101,"e,f"\n+14155550101,e\n')

    assert counts_of(job) == {"rows_read": 2, "memberships_created": 1, "errors": 1}
    assert list(ImportRowError.objects.filter(job=job).values_list("line", "reason")) == [
        (
            2,
            "Line 2: Tags: the contact already has 4 tags (a, b, c, d); adding e, f would make 6 (at most 5).",
        ),
    ]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["a", "b", "c", "d", "e"]


def test_a_custom_field_can_be_created_on_the_spot_with_a_type(sending_list):
    job = run_import(
        sending_list,
        "phone,Loyalty Score,State\n+14155550101,42,CA\n",
        start_mapping={
            "phone": "phone",
            "Loyalty Score": "custom:loyalty_score:number",
            "State": "custom:state",
        },
    )

    assert counts_of(job) == {"rows_read": 1, "contacts_created": 1, "memberships_created": 1}
    fields = {f.key: (f.label, f.field_type) for f in CustomField.objects.filter(sending_list=sending_list)}
    assert fields == {"loyalty_score": ("Loyalty Score", "number"), "state": ("State", "text")}
    assert ListContact.objects.get().custom_fields == {"loyalty_score": 42, "state": "CA"}
    assert job.mapping == {"0": "phone", "1": "custom:loyalty_score", "2": "custom:state"}


def test_other_columns_default_to_text_custom_fields_keyed_by_their_slug(sending_list):
    job = run_import(sending_list, "Mobile,State,Favorite Color\n+14155550101,CA,blue\n")

    assert job.mapping == {"0": "phone", "1": "custom:state", "2": "custom:favorite_color"}
    assert ListContact.objects.get().custom_fields == {"state": "CA", "favorite_color": "blue"}


def test_a_chunk_applied_twice_changes_nothing_the_second_time(sending_list):
    job = run_import(sending_list, "phone\n+14155550101\n+14155550102\nbad\n")
    chunk = ImportChunk.objects.get(job=job)

    assert chunk_apply(chunk_id=chunk.pk) is None

    job.refresh_from_db()
    assert counts_of(job) == {"rows_read": 3, "contacts_created": 2, "memberships_created": 2, "errors": 1}
    assert (Contact.objects.count(), ListContact.objects.count(), SubscriptionEvent.objects.count()) == (
        2,
        2,
        2,
    )
    assert ImportRowError.objects.filter(job=job).count() == 1
    assert chunk.counts == {
        "rows_read": 3,
        "contacts_created": 2,
        "contacts_updated": 0,
        "memberships_created": 2,
        "memberships_updated": 0,
        "skipped_opted_out": 0,
        "skipped_blocked": 0,
        "opted_out": 0,
        "duplicates": 0,
        "errors": 1,
    }
    assert status_counts(sending_list) == {"active": 2}


def test_an_import_run_again_on_the_same_file_updates_and_creates_nothing_new(sending_list):
    content = "phone,first_name\n+14155550101,Ana\n+14155550102,Ben\n"
    run_import(sending_list, content)

    again = run_import(sending_list, content)

    assert counts_of(again) == {"rows_read": 2, "memberships_updated": 2}
    assert (Contact.objects.count(), ListContact.objects.count(), SubscriptionEvent.objects.count()) == (
        2,
        2,
        2,
    )


def test_the_ledger_holds_the_opt_outs_that_stand_after_their_contacts_are_deleted(sending_list):
    from sendinglists.subscriptions.consent import suppression_standing, suppressions_standing
    from sendinglists.subscriptions.subscribe import list_contact_resubscribe
    from tests.factories import SendingListFactory

    other_list = SendingListFactory(phone_number="+18005550199")
    histories = {
        "+14155550101": (sending_list, ["opt_out"]),  # opted out: stands
        "+14155550102": (sending_list, ["opt_out", "resubscribe"]),  # came back: does not
        "+14155550103": (sending_list, []),  # subscribed only
        "+14155550104": (other_list, ["opt_out"]),  # another list's opt-out
    }
    for phone, (target, steps) in histories.items():
        contact = ContactFactory(phone_number=phone)
        membership = list_contact_subscribe(
            sending_list=target, contact=contact, signup_method="api", actor=SYSTEM
        ).membership
        for step in steps:
            if step == "opt_out":
                list_contact_opt_out(membership=membership, reason=UnsubReason.MESSAGE, actor=SYSTEM)
            else:
                list_contact_resubscribe(membership=membership, actor=SYSTEM)
        contact_delete(contact=contact)
    phones = [*histories, "+14155550105"]

    standing = suppressions_standing(sending_list_id=sending_list.pk, phone_numbers=phones)

    assert {phone: (row.kind, row.reason) for phone, row in standing.items()} == {
        "+14155550101": ("opt_out", "message")
    }
    assert set(standing) == {
        phone for phone in phones if suppression_standing(sending_list_id=sending_list.pk, phone_number=phone)
    }
    assert suppressions_standing(sending_list_id=sending_list.pk, phone_numbers=[]) == {}


def test_a_chunk_run_again_after_some_of_its_parts_committed_writes_only_the_rest(sending_list):
    from django.test import TestCase

    from sendinglists.imports import pipeline
    from sendinglists.imports.models import ImportChunkPart
    from sendinglists.imports.services import import_create, import_start
    from tests.sendinglists.imports.conftest import csv_file

    content = "phone,first_name\n" + "".join(f"+1415555{n:04d},N{n}\n" for n in range(1, 41)) + "bad,X\n"
    job = import_create(sending_list=sending_list, uploaded_file=csv_file(content))
    with TestCase.captureOnCommitCallbacks(execute=False):
        import_start(consent_attestation="They signed up in store.", job=job)
    job.refresh_from_db()
    chunk = ImportChunk.objects.get(job=job)
    # Four parts (as on PostgreSQL), and a first run that died after committing parts 0 and 1.
    existing_parts = chunk.parts.count()  # 4 on PostgreSQL, 1 on SQLite
    ImportChunkPart.objects.bulk_create(
        ImportChunkPart(chunk=chunk, part=part) for part in range(existing_parts, 4)
    )
    assert chunk.parts.count() == 4
    records, errors = pipeline._read(job, chunk)
    for part in (0, 1):
        mine = {p: r for p, r in records.items() if int(p[1:]) % 4 == part}
        pipeline._apply_part(job, chunk, part, mine, errors if part == 0 else [])
    assert list(ImportChunkPart.objects.filter(chunk=chunk).values_list("applied", flat=True)) == [
        True,
        True,
        False,
        False,
    ]

    again = chunk_apply(chunk_id=chunk.pk)

    job.refresh_from_db()
    chunk.refresh_from_db()
    assert counts_of(job) == {"rows_read": 41, "contacts_created": 40, "memberships_created": 40, "errors": 1}
    assert sum(again.values()) < sum(chunk.counts.values())  # only the two remaining parts
    assert (chunk.applied, job.chunks_done) == (True, 1)
    assert (Contact.objects.count(), ListContact.objects.count(), SubscriptionEvent.objects.count()) == (
        40,
        40,
        40,
    )
    assert ImportRowError.objects.filter(job=job).count() == 1
    assert chunk_apply(chunk_id=chunk.pk) is None


def test_numbers_too_large_to_store_are_row_errors_and_the_import_completes(sending_list):
    content = (
        "Phone,Score\n"
        f"+14155550101,{'9' * 5000}\n"  # used to fail the whole import: JSON cannot write it
        "+14155550102,1e999999999\n"  # used to hang the worker building a billion-digit int
        "+14155550103,123456789012345678901234567890\n"
        "+14155550104,-1.5e3\n"
    )

    job = run_import(sending_list, content, start_mapping={"0": "phone", "1": "custom:score:number"})

    assert job.status == ImportStatus.COMPLETED
    assert counts_of(job) == {"rows_read": 4, "contacts_created": 2, "memberships_created": 2, "errors": 2}
    assert [error.reason for error in ImportRowError.objects.filter(job=job).order_by("line")] == [
        "Line 2: Score: '9999999999999999999999999999999999999999' is too large (a number has at most 30 digits).",
        "Line 3: Score: '1e999999999' is too large (a number has at most 30 digits).",
    ]
    assert {
        m.contact.phone_number: m.custom_fields for m in ListContact.objects.select_related("contact")
    } == {"+14155550103": {"score": 123456789012345678901234567890}, "+14155550104": {"score": -1500}}
