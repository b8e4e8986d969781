"""Fill the consent ledger (`contacts.NumberSuppression`) from what stood before it existed.

1. Every (list, number) whose latest subscribe / opt-out / resubscribe event is an opt-out, whether
   or not a contact still holds the number (deleted contacts' opt-outs survive as events).
2. Every opted-out membership, with its contact's current number (the demo and old data have
   memberships without an event).
3. Every blocked contact's number.

Rows that already stand are left alone (the first one, with its evidence, wins).
"""

from django.db import migrations

BATCH = 5000


def backfill(apps, schema_editor):
    SubscriptionEvent = apps.get_model("sendinglists", "SubscriptionEvent")
    ListContact = apps.get_model("sendinglists", "ListContact")
    Contact = apps.get_model("contacts", "Contact")
    NumberSuppression = apps.get_model("contacts", "NumberSuppression")

    rows: list = []

    def add(**fields):
        rows.append(NumberSuppression(**fields))
        if len(rows) >= BATCH:
            flush()

    def flush():
        NumberSuppression.objects.bulk_create(rows, ignore_conflicts=True)
        rows.clear()

    # Streamed in (list, number, time) order: the last event of each key decides; O(1) memory.
    events = (
        SubscriptionEvent.objects.filter(
            sending_list__isnull=False, kind__in=["subscribed", "opted_out", "resubscribed"]
        )
        .order_by("sending_list_id", "phone_number", "occurred_at", "id")
        .values_list("sending_list_id", "phone_number", "kind", "reason", "occurred_at", "id")
    )
    previous = None

    def decide(event):
        list_id, phone, kind, reason, occurred_at, event_id = event
        if kind == "opted_out":
            add(
                phone_number=phone,
                sending_list_id=list_id,
                kind="opt_out",
                reason=reason,
                occurred_at=occurred_at,
                event_id=event_id,
            )

    for event in events.iterator(chunk_size=BATCH):
        if previous is not None and previous[:2] != event[:2]:
            decide(previous)
        previous = event
    if previous is not None:
        decide(previous)
    memberships = ListContact.objects.filter(active=False).values_list(
        "sending_list_id", "contact__phone_number", "unsub_reason", "opted_out_at"
    )
    for list_id, phone, reason, opted_out_at in memberships.iterator(chunk_size=BATCH):
        add(
            phone_number=phone,
            sending_list_id=list_id,
            kind="opt_out",
            reason=reason,
            occurred_at=opted_out_at,
        )
    for phone, updated_at in Contact.objects.filter(blocked=True).values_list("phone_number", "updated_at"):
        add(phone_number=phone, sending_list_id=None, kind="block", occurred_at=updated_at)
    flush()


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_consent_ledger"),
        ("sendinglists", "0014_apitoken_limited_to_lists"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
