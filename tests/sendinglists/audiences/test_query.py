"""The text query: parse errors point at their position; rules and text convert both ways."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sendinglists.audiences.query import QuerySyntaxError, query_parse, rules_to_query
from sendinglists.audiences.rules import rules_validate
from sendinglists.models import CustomField

FIELDS = [
    CustomField(key="state", label="State", field_type="text"),
    CustomField(key="score", label="Score", field_type="number"),
    CustomField(key="signup_date", label="Signup date", field_type="date"),
    CustomField(key="vip", label="VIP", field_type="boolean"),
    CustomField(key="plan", label="Plan", field_type="choice", choices=["free", "pro", "Business Plus"]),
    CustomField(key="status", label="Status (custom)", field_type="text"),
    CustomField(key="in", label="In", field_type="text"),
]


def canonical(query: str) -> dict:
    parsed = query_parse(query)
    return rules_validate(parsed.rules, custom_fields=FIELDS, positions=parsed.positions)


def test_issue_example_parses_to_nested_groups_and_writes_back_identically():
    query = 'status = active AND clicked_within = 30d AND (state = "CA" OR revenue >= 50)'

    rules = canonical(query)

    assert rules == {
        "group": "and",
        "rules": [
            {"field": "status", "operator": "=", "value": "active"},
            {"field": "clicked_within", "operator": "=", "value": "30d"},
            {
                "group": "or",
                "rules": [
                    {"field": "state", "operator": "=", "value": "CA"},
                    {"field": "revenue", "operator": ">=", "value": 50},
                ],
            },
        ],
    }
    assert rules_to_query(rules) == query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=active", "status = active"),
        ("STATUS = Active and Sends>=3", "status = active AND sends >= 3"),
        ("status == active or status <> manual", "status = active OR status != manual"),
        ("(a_b_c)", None),
        ("((status = active))", "status = active"),
        ("status = active AND (sends > 1 AND clicks > 0)", "status = active AND sends > 1 AND clicks > 0"),
        ("status = active OR (sends > 1 OR clicks > 0)", "status = active OR sends > 1 OR clicks > 0"),
        ("sends > 1 AND clicks > 0 OR tag = vip", '(sends > 1 AND clicks > 0) OR tag = "vip"'),
        ("tag IN ('vip', \"big spender\")", 'tag in ("vip", "big spender")'),
        ("state NOT CONTAINS 'x'", 'state not contains "x"'),
        ("state is NOT empty", "state is not empty"),
        ("plan = 'business plus'", 'plan = "Business Plus"'),
        ("score = 5.50", "score = 5.5"),
        ("score > -2", "score > -2"),
        ("clicked_within = 30", "clicked_within = 30d"),
        ("signup_date >= '12/31/2024'", "signup_date >= 2024-12-31"),
        ("subscribed_at < 2025-01-31", "subscribed_at < 2025-01-31"),
        ("custom.status = gold", 'custom.status = "gold"'),
        ('custom.in = "x"', 'custom.in = "x"'),
        ('state = "say \\"hi\\" \\\\ bye"', 'state = "say \\"hi\\" \\\\ bye"'),
        ("reason = opted_out", "reason = message"),
        ("status = message", "status = opted_out"),
        ("vip = yes", "vip = true"),
        ("state = 94110", 'state = "94110"'),
        ("", ""),
        ("   ", ""),
    ],
)
def test_query_normalizes_to_canonical_text(query, expected):
    if expected is None:
        with pytest.raises(QuerySyntaxError):
            canonical(query)
        return
    assert rules_to_query(canonical(query)) == expected


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("status =", "Expected a value after '=', found the end of the query", 8),
        (
            "status active",
            "Expected an operator (=, !=, <, <=, >, >=, in, contains, is empty) after "
            "'status', found 'active'",
            7,
        ),
        (
            "status = active AND",
            "Expected a condition (like status = active), found the end of the query",
            19,
        ),
        ("(status = active", "Expected ')' to close the '(' at position 0, found the end of the query", 16),
        ("status = active)", "Unexpected ')' without a matching '('", 15),
        (
            "status = active sends > 3",
            "Unexpected 'sends' after a complete condition; join conditions with AND or OR",
            16,
        ),
        ('state = "CA', 'Unterminated text starting with "', 8),
        ("state = CA#", "Unexpected character '#'", 10),
        (
            "tag in (vip",
            "Expected ',' or ')' in the list started at position 7, found the end of the query",
            11,
        ),
        ("tag in ()", "Expected at least one value in the list", 8),
        ("tag in vip", "Expected '(' to start the list of values, found 'vip'", 7),
        ("state is full", "Expected EMPTY after IS", 9),
        ("state not like 'x'", "Expected IN or CONTAINS after NOT, found 'like'", 10),
        ("= active", "Expected a field name, found '='", 0),
        ("status = active AND ()", "Empty parentheses: put a condition inside", 21),
        (
            "status = and",
            "Expected a value after '=', found the keyword 'and'; quote it (\"and\") if you mean the text",
            9,
        ),
        ("sends >= 3 AND AND", "Expected a field name, found 'AND'", 15),
    ],
)
def test_syntax_error_names_the_problem_and_its_position(query, message, position):
    with pytest.raises(QuerySyntaxError) as raised:
        query_parse(query)

    assert raised.value.message == message
    assert raised.value.position == position
    assert str(raised.value) == f"{message} (at position {position})"


def test_syntax_error_pointer_puts_a_caret_under_the_problem():
    with pytest.raises(QuerySyntaxError) as raised:
        query_parse("status = active sends > 3")

    assert raised.value.pointer == "status = active sends > 3\n                ^"


def test_query_longer_than_the_limit_is_refused():
    with pytest.raises(QuerySyntaxError, match="longer than 4000 characters"):
        query_parse("sends > 1 AND " * 400)


# --- round trip, property-based -------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s)
_days = st.integers(min_value=1, max_value=3650).map(lambda n: f"{n}d")
_number = st.one_of(st.integers(-10_000, 10_000), st.decimals(-1000, 1000, places=2).map(float))
_date = st.dates(
    min_value=__import__("datetime").date(1990, 1, 1), max_value=__import__("datetime").date(2999, 12, 31)
).map(lambda d: d.isoformat())

LEAVES = [
    st.builds(
        lambda v: {"field": "status", "operator": "=", "value": v}, st.sampled_from(["active", "opted_out"])
    ),
    st.builds(
        lambda vs: {"field": "signup_method", "operator": "not in", "value": vs},
        st.lists(st.sampled_from(["api", "import", "inbound"]), min_size=1, max_size=3, unique=True),
    ),
    st.builds(lambda v: {"field": "tag", "operator": "=", "value": v}, _text),
    st.builds(lambda v: {"field": "carrier", "operator": "contains", "value": v}, _text),
    st.builds(lambda v: {"field": "clicked_within", "operator": "=", "value": v}, _days),
    st.builds(
        lambda op, v: {"field": "sends", "operator": op, "value": v}, st.sampled_from(["<", ">="]), _number
    ),
    st.builds(
        lambda op, v: {"field": "last_sent_at", "operator": op, "value": v},
        st.sampled_from(["<", ">"]),
        st.one_of(_days, _date),
    ),
    st.builds(lambda v: {"field": "state", "operator": "!=", "value": v}, _text),
    st.builds(lambda v: {"field": "custom.status", "operator": "in", "value": [v]}, _text),
    st.builds(lambda v: {"field": "score", "operator": "<=", "value": v}, _number),
    st.builds(lambda v: {"field": "signup_date", "operator": "=", "value": v}, _date),
    st.builds(lambda v: {"field": "vip", "operator": "=", "value": v}, st.booleans()),
    st.builds(
        lambda v: {"field": "plan", "operator": "=", "value": v}, st.sampled_from(["free", "Business Plus"])
    ),
    st.just({"field": "state", "operator": "is empty"}),
]
_rules = st.recursive(
    st.one_of(LEAVES),
    lambda children: st.builds(
        lambda group, rules: {"group": group, "rules": rules},
        st.sampled_from(["and", "or"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(_rules)
def test_rules_to_text_and_back_is_the_identity_on_canonical_rules(raw):
    rules = rules_validate(raw, custom_fields=FIELDS)

    text = rules_to_query(rules)

    assert canonical(text) == rules
