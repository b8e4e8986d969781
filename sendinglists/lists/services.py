from collections import Counter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum

from contacts.phones import normalize_phone
from contacts.services import region_or_error
from sendinglists.choices import (
    FieldType,
    MembershipStatus,
)
from sendinglists.lists.customfields import custom_fields_clean
from sendinglists.lists.models import CustomField, ListStatusCount, SendingList

# --- counts ---------------------------------------------------------------------------------------


def list_status_counts_add(*, sending_list_id: int, deltas: Counter) -> None:
    """Record count changes per status (a Counter of status -> +n/-n); zero deltas write nothing."""
    rows = [
        ListStatusCount(sending_list_id=sending_list_id, status=status, count=count)
        for status, count in deltas.items()
        if count
    ]
    if rows:
        ListStatusCount.objects.bulk_create(rows)


def list_status_counts(*, sending_list_ids: list[int]) -> dict[int, dict[str, int]]:
    """Members per list and status: {list_id: {status: count}} (every status present, maybe 0)."""
    counts = {list_id: dict.fromkeys(MembershipStatus.values, 0) for list_id in sending_list_ids}
    rows = (
        ListStatusCount.objects.filter(sending_list_id__in=sending_list_ids)
        .values("sending_list_id", "status")
        .annotate(total=Sum("count"))
    )
    for row in rows:
        counts[row["sending_list_id"]][row["status"]] = row["total"]
    return counts


def list_status_counts_squash() -> int:
    """Fold each list's count rows into one row per status; returns how many lists were squashed.

    Safe to run concurrently with writers: it sums and deletes exactly the rows it read, under a
    lock on the list row, and inserts their sum in the same transaction.
    """
    squashed = 0
    list_ids = (
        ListStatusCount.objects.filter(is_squashed=False).values_list("sending_list_id", flat=True).distinct()
    )
    for list_id in list(list_ids):
        with transaction.atomic():
            SendingList.objects.select_for_update().filter(pk=list_id).first()
            rows = list(ListStatusCount.objects.select_for_update().filter(sending_list_id=list_id))
            totals: Counter = Counter()
            for row in rows:
                totals[row.status] += row.count
            ListStatusCount.objects.filter(pk__in=[row.pk for row in rows]).delete()
            ListStatusCount.objects.bulk_create(
                ListStatusCount(sending_list_id=list_id, status=status, count=count, is_squashed=True)
                for status, count in totals.items()
                if count
            )
        squashed += 1
    return squashed


# --- custom fields --------------------------------------------------------------------------------


def custom_field_check(*, field_type: str, choices) -> None:
    """The rules of a field definition that the database cannot check; forms call it in `clean()`."""
    if field_type == FieldType.CHOICE and not choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})


@transaction.atomic
def custom_field_room_check(*, sending_list: SendingList, adding: int = 1) -> None:
    """ValidationError (not about one field) when `adding` more custom fields would put
    `sending_list` over CUSTOM_FIELDS_PER_LIST_MAX. The one rule: custom_field_create enforces it;
    the import start and the admin forms ask it first to refuse a whole mapping or formset at once."""
    limit = settings.CUSTOM_FIELDS_PER_LIST_MAX
    existing = CustomField.objects.filter(sending_list=sending_list).count() if sending_list.pk else 0
    if adding > 0 and existing + adding > limit:
        raise ValidationError(
            f"A list can have at most {limit:,} custom fields (CUSTOM_FIELDS_PER_LIST_MAX): "
            f"{sending_list.name!r} has {existing:,}, and {adding:,} more would make {existing + adding:,}.",
            code="custom_fields_limit",
        )


@transaction.atomic
def custom_field_create(
    *, sending_list: SendingList, key: str, label: str = "", field_type: str = FieldType.TEXT, choices=None
) -> CustomField:
    """Define a custom field on a list. The key is a slug; a duplicate key, or a field past
    CUSTOM_FIELDS_PER_LIST_MAX, is a ValidationError."""
    # The list row's lock serialises concurrent creates, so two cannot both take the last place.
    SendingList.objects.select_for_update().filter(pk=sending_list.pk).exists()
    custom_field_room_check(sending_list=sending_list)
    field = CustomField(
        sending_list=sending_list,
        key=key,
        label=label or key.replace("_", " ").title(),
        field_type=field_type,
        choices=list(choices or []),
    )
    field.full_clean(exclude=["sending_list"], validate_unique=False)
    custom_field_check(field_type=field_type, choices=field.choices)
    if CustomField.objects.filter(sending_list=sending_list, key=key).exists():
        raise ValidationError({"key": f"This list already has a custom field {key!r}."})
    field.save()
    return field


def clean_custom_fields(*, sending_list: SendingList | int, values: dict | None) -> dict:
    """`values` checked and typed against the custom fields of `sending_list` (a list or its id)."""
    if not values:
        return {}
    fields = _custom_field_definitions(getattr(sending_list, "pk", sending_list))
    return custom_fields_clean(fields=fields, values=values)


def _custom_field_definitions(sending_list_id: int) -> list[CustomField]:
    """A list's custom fields, by key. A raw query: a filtered API page and a subscribe with custom
    fields read them on every request, and compiling the ORM query cost as much again as running it
    (0.59 against 0.28 ms of CPU)."""
    meta = CustomField._meta
    quote = connection.ops.quote_name
    # Uses index: customfield_list_key_unique (sending_list, key)
    sql = (
        f"SELECT * FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('sending_list').column)} = %s"
        f" ORDER BY {quote(meta.get_field('key').column)}"
    )
    return list(CustomField.objects.raw(sql, [sending_list_id]))


# --- sending lists --------------------------------------------------------------------------------


@transaction.atomic
def sending_list_create(
    *, phone_number: str, name: str, default_region: str = "US", help_text: str = ""
) -> SendingList:
    default_region = region_or_error(default_region, field="default_region")
    phone = normalize_phone(phone_number, default_region)
    if not phone.is_valid:
        raise ValidationError(
            {"phone_number": f"{phone_number} is not a valid sender number: {phone.error}."}
        )
    if SendingList.objects.filter(phone_number=phone.e164).exists():
        raise ValidationError({"phone_number": f"A sending list already uses {phone.e164}."})
    sending_list = SendingList(
        phone_number=phone.e164, name=name, default_region=default_region, help_text=help_text
    )
    sending_list.full_clean()
    sending_list.save()
    return sending_list
