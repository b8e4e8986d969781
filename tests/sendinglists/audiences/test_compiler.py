"""Every rule type against one fixture list: the exact member set, the same on SQLite and PostgreSQL
(this module runs in both passes of .ci/run)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from contacts.services import contact_add_tags
from sendinglists.audiences.services import segment_build, segment_count, segment_members
from tests.sendinglists.audiences.conftest import ALL, NOW, labels

CASES = [
    # membership status and reason
    # (eve's contact is blocked: she reads as blocked, never active, whatever her membership holds)
    ("status = active", {"ana", "ben"}),
    ("status = opted_out", {"cleo"}),
    ("status = message", {"cleo"}),
    ("status != active", {"cleo", "dev", "eve", "fay"}),
    ("status in (invalid_contact, complaint)", {"dev", "fay"}),
    ("status not in (active, opted_out)", {"dev", "eve", "fay"}),
    ("status = blocked", {"eve"}),
    ("status != blocked", ALL - {"eve"}),
    ("status in (blocked, complaint)", {"eve", "fay"}),
    ("status = active AND tag in (vip, beta)", {"ana"}),
    ("status = blocked OR tag = vip", {"ana", "cleo", "eve"}),
    ("reason = complaint", {"fay"}),
    ("reason in (message, invalid_contact)", {"cleo", "dev"}),
    # signup method
    ("signup_method = import", {"ana", "cleo"}),
    ("signup_method in (api, journey)", {"ben", "eve"}),
    ("signup_method != import", {"ben", "dev", "eve", "fay"}),
    # subscribed date: absolute days and relative times
    ("subscribed_at >= 2025-03-01", {"ben", "dev", "eve"}),
    ("subscribed_at > 2025-03-01", {"dev", "eve"}),
    ("subscribed_at < 2025-02-02", {"ana", "cleo"}),
    ("subscribed_at <= 2025-02-02", {"ana", "cleo", "fay"}),
    ("subscribed_at = 2025-02-02", {"fay"}),
    ("subscribed_at >= 7d", {"dev", "eve"}),
    ("opted_out_at is not empty", {"cleo", "dev", "fay"}),
    ("opted_out_at is empty", {"ana", "ben", "eve"}),
    # tags (case-insensitive names)
    ("tag = vip", {"ana", "cleo"}),
    ("tag = VIP", {"ana", "cleo"}),
    ("tag != vip", {"ben", "dev", "eve", "fay"}),
    ("tag in (beta, nosuchtag)", {"cleo", "eve"}),
    ("tag not in (vip, beta)", {"ben", "dev", "fay"}),
    ("tag = nosuchtag", set()),
    ("tag != nosuchtag", ALL),
    # contact fields
    ("line_type = landline", {"ben"}),
    ("line_type in (voip, landline)", {"ben", "dev"}),
    ("line_type != mobile", {"ben", "dev"}),
    ("is_valid = false", {"dev"}),
    ("is_valid != false", ALL - {"dev"}),
    ("blocked = true", {"eve"}),
    ('timezone = "America/New_York"', {"ana"}),
    ('timezone contains "america"', {"ana", "ben", "eve"}),
    ('timezone not contains "america"', {"cleo", "dev", "fay"}),
    ('timezone in ("Europe/London", "America/Chicago")', {"cleo", "eve"}),
    ("timezone is empty", {"dev", "fay"}),
    ('carrier contains "wireless"', {"ana"}),
    ('carrier = "AT&T"', {"ben"}),
    ("carrier is not empty", {"ana", "ben", "cleo"}),
    # engagement
    ("clicked_within = 30d", {"ana", "eve"}),
    ("not_clicked_within = 30d", {"ben", "cleo", "dev", "fay"}),
    ("sent_within = 7d", {"ana", "eve"}),
    ("not_sent_within = 7d", {"ben", "cleo", "dev", "fay"}),
    ("sends >= 12", {"ana", "ben", "eve"}),
    ("sends = 0", {"dev"}),
    ("sends < 5", {"cleo", "dev"}),
    ("sends != 12", ALL - {"ana"}),
    ("clicks > 0", {"ana", "cleo", "eve"}),
    ("conversions >= 1", {"ana"}),
    ("revenue >= 50", {"ana", "cleo"}),
    ("revenue > 50", {"ana"}),
    ("revenue <= 0", {"ben", "dev", "eve", "fay"}),
    ("last_sent_at < 2025-05-01", {"cleo"}),
    ("last_sent_at <= 2025-05-01", {"cleo", "fay"}),
    ("last_sent_at is empty", {"dev"}),
    ("last_clicked_at = 2025-06-01", {"ana"}),
    ("last_clicked_at > 2025-06-01", {"eve"}),
    ("last_revenue_at is not empty", {"ana"}),
    ("in_workflow = true", {"ana"}),
    ("in_workflow = false", ALL - {"ana"}),
    # custom text (equality is exact; contains is case-insensitive)
    ('state = "CA"', {"ana"}),
    ("state = CA", {"ana"}),
    ('custom.state = "CA"', {"ana"}),
    ('state != "CA"', {"ben", "cleo", "dev", "eve", "fay"}),
    ('state in ("CA", "TX")', {"ana", "fay"}),
    ('state not in ("CA", "TX")', {"ben", "cleo", "dev", "eve"}),
    ('state contains "c"', {"ana", "cleo"}),
    ('state not contains "c"', {"ben", "dev", "eve", "fay"}),
    ("state is empty", {"dev", "eve"}),
    ("state is not empty", {"ana", "ben", "cleo", "fay"}),
    ("notes is empty", ALL),
    # custom number
    ("score >= 10", {"ana", "cleo"}),
    ("score < 6", {"ben", "eve"}),
    ("score = 5.5", {"ben"}),
    ("score = 10", {"ana"}),
    ("score != 10", {"ben", "cleo", "dev", "eve", "fay"}),
    ("score > -5", {"ana", "ben", "cleo", "eve"}),
    ("score is empty", {"dev", "fay"}),
    # custom date
    ("signup_date < 2025-01-01", {"ana"}),
    ("signup_date >= 2025-01-01", {"cleo"}),
    ("signup_date = 2024-12-01", {"ana"}),
    ("signup_date != 2024-12-01", {"ben", "cleo", "dev", "eve", "fay"}),
    ("signup_date > 365d", {"ana", "cleo"}),
    ("signup_date is empty", {"ben", "dev", "eve", "fay"}),
    # custom boolean
    ("vip = true", {"ana", "fay"}),
    ("vip = false", {"cleo"}),
    ("vip != true", {"ben", "cleo", "dev", "eve"}),
    ("vip is empty", {"ben", "dev", "eve"}),
    # custom choice (values match the defined choice case-insensitively)
    ('plan = "pro"', {"ana", "eve"}),
    ("plan = PRO", {"ana", "eve"}),
    ("plan in (free, business)", {"ben", "cleo"}),
    ("plan not in (pro)", {"ben", "cleo", "dev", "fay"}),
    ("plan is empty", {"dev", "fay"}),
    # AND / OR groups
    ('status = active AND (state = "CA" OR revenue >= 50)', {"ana"}),
    ('status = active AND clicked_within = 30d AND (state = "CA" OR sends >= 40)', {"ana"}),
    ("tag = vip OR blocked = true OR reason = complaint", {"ana", "cleo", "eve", "fay"}),
    ("(status = active OR status = complaint) AND not_sent_within = 7d", {"ben", "fay"}),
    ("status = active and sends >= 12 or tag = beta", {"ana", "ben", "cleo", "eve"}),
    ("status = active AND (tag = beta OR (vip = true AND sends < 20))", {"ana"}),
    ("", ALL),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_rule_matches_exact_members(audience_list, query, expected):
    segment = segment_build(sending_list=audience_list, query=query)

    assert labels(segment.queryset(now=NOW)) == expected


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_rules_json_and_canonical_query_match_the_same_members(audience_list, query, expected):
    segment = segment_build(sending_list=audience_list, query=query)
    from_rules = segment_build(sending_list=audience_list, rules=segment.rules)
    from_text = segment_build(sending_list=audience_list, query=segment.query)

    assert from_rules.rules == from_text.rules == segment.rules
    assert labels(from_rules.queryset(now=NOW)) == expected


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_count_is_the_number_of_members(audience_list, query, expected):
    """On PostgreSQL a count with a tag or custom-field equality reads the facet table instead."""
    segment = segment_build(sending_list=audience_list, query=query)

    assert segment_count(segment=segment, now=NOW) == len(expected)


@pytest.mark.parametrize("name", ["Ósmosis", "İstanbul"])
def test_a_non_ascii_tag_rule_finds_its_members(audience_list, name):
    """Rule values and tag names are folded by the database's LOWER, as the tag's unique index is."""
    ana = audience_list.members["ana"]
    contact_add_tags(contact=ana.contact, names=[name])
    segment = segment_build(sending_list=audience_list, query=f'tag = "{name}"')

    assert labels(segment.queryset(now=NOW)) == {"ana"}
    assert segment_count(segment=segment, now=NOW) == 1


def test_audience_is_scoped_to_its_list(audience_list):
    segment = segment_build(sending_list=audience_list, query="sends >= 90 OR state = CA")

    assert [m.sending_list_id for m in segment.queryset(now=NOW)] == [audience_list.pk]


def test_custom_field_keys_that_are_query_words_or_lookups_work(audience_list):
    from sendinglists.models import CustomField

    CustomField.objects.create(
        sending_list=audience_list, key="contains", label="Contains", field_type="text"
    )
    CustomField.objects.create(sending_list=audience_list, key="exact", label="Exact", field_type="number")
    CustomField.objects.create(sending_list=audience_list, key="status", label="Status", field_type="text")
    ana = audience_list.members["ana"]
    ana.custom_fields = {**ana.custom_fields, "contains": "x", "exact": 3, "status": "gold"}
    ana.save(update_fields=["custom_fields"])

    segment = segment_build(
        sending_list=audience_list,
        query='custom.contains = "x" AND custom.exact > 2 AND custom.status = "gold" AND status = active',
    )

    assert labels(segment.queryset(now=NOW)) == {"ana"}
    assert (
        segment.query == 'custom.contains = "x" AND exact > 2 AND custom.status = "gold" AND status = active'
    )


# --- any text: a clear error, or a count and a page that run ------------------------------------

_TEXT = ['"CA"', '""', '"%"', '"_"', '"\\\\"', '"é"', '"İ"', '"\u0000"', '"' + "x" * 600 + '"', "CA", "5"]
_NUMBER = ["5", "-2.5", "0", "1e400", "1e-400", "9" * 40, "NaN", "Infinity", '"5"', "x"]
_DATE = [
    "2025-01-31",
    "2025-13-45",
    "0001-01-01",
    "9999-12-31",
    "30d",
    "0d",
    "99999999999d",
    "12/31/2024",
    "x",
]
_DAYS = ["30d", "0d", "1d", "99999999999d", "5", "-1d", "x"]
_BOOLEAN = ["true", "yes", "no", "1", "maybe"]
_CHOICE = [
    "active",
    "opted_out",
    "message",
    "complaint",
    "pro",
    "free",
    "import",
    "mobile",
    '("pro", "free")',
    "()",
]
_COMPARE = ["=", "!=", "<", "<=", ">", ">="]
_KINDS = [  # fields of a kind, the operators to try on them, the values to try
    (
        "state notes custom.state custom.in carrier timezone tag",
        ["=", "!=", "contains", "not contains", "in"],
        _TEXT,
    ),
    ("state notes carrier timezone opted_out_at", ["is empty", "is not empty"], [""]),
    ("score sends clicks conversions revenue", _COMPARE, _NUMBER),
    ("signup_date subscribed_at opted_out_at last_sent_at", _COMPARE, _DATE),
    ("clicked_within not_clicked_within sent_within not_sent_within", ["=", ">"], _DAYS),
    ("vip in_workflow is_valid", ["=", "!="], _BOOLEAN),
    ("plan status reason signup_method line_type", ["=", "!=", "in", "not in"], _CHOICE),
]
_clause = st.one_of(
    *(
        st.tuples(st.sampled_from(fields.split()), st.sampled_from(ops), st.sampled_from(values)).map(
            " ".join
        )
        for fields, ops, values in _KINDS
    )
)
_query = st.recursive(
    _clause,
    lambda inner: st.tuples(inner, st.sampled_from([" AND ", " OR ", " or "]), inner).map(
        lambda t: f"({''.join(t)})"
    ),
    max_leaves=4,
)
_soup = st.lists(
    st.sampled_from(["(", ")", ",", "AND", "OR", "=", ">=", "in", "tag", "sends", "5", '"'])
    | st.text(max_size=4),
    max_size=10,
).map(" ".join)


@given(_query | _soup)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_is_a_clear_error_or_a_count_and_a_page_that_run(audience_list, query):
    """Never a 500: whatever a user types is refused with a ValidationError keyed `query`, or it
    counts and pages on the real database, the count equal to the members the queryset finds."""
    note(f"query: {query!r}")
    with transaction.atomic():  # a savepoint: one example's database error cannot abort the next
        try:
            segment = segment_build(sending_list=audience_list, query=query)
        except ValidationError as error:
            assert set(error.message_dict) == {"query"}, error.message_dict
            assert all(message.strip() for message in error.message_dict["query"])
            event("refused")
            return
        event("ran")
        assert segment_count(segment=segment, now=NOW) == len(labels(segment.queryset(now=NOW)))
        # The page has no `now`: relative rules ("clicked_within = 30d") count from the real time.
        assert len(segment_members(segment=segment).rows) == segment.queryset().count()
