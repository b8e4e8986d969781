"""A bad rule is a clear ValidationError naming the rule (and its position in a text query)."""

import pytest
from django.core.exceptions import ValidationError

from sendinglists.audiences.services import audience_create, audience_segment, problems_of, segment_build
from sendinglists.models import Audience, CustomField

BUILTINS = (
    "status, reason, signup_method, subscribed_at, opted_out_at, in_workflow, tag, line_type, is_valid, "
    "blocked, timezone, carrier, clicked_within, not_clicked_within, sent_within, not_sent_within, sends, "
    "clicks, conversions, revenue, last_sent_at, last_clicked_at, last_revenue_at"
)


def query_problems(sending_list, query: str) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        segment_build(sending_list=sending_list, query=query)
    assert list(raised.value.message_dict) == ["query"]
    return problems_of(raised.value)


def rules_problems(sending_list, rules) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        segment_build(sending_list=sending_list, rules=rules)
    assert list(raised.value.message_dict) == ["rules"]
    return problems_of(raised.value)


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        (
            "statu = active",
            f"Unknown field 'statu'. Did you mean 'status'? Fields: {BUILTINS}; custom fields of this list: "
            "notes, plan, score, signup_date, state, vip.",
            0,
        ),
        (
            "sends > 1 AND custom.sate = x",
            "This list has no custom field 'sate' (did you mean 'state'?).",
            14,
        ),
        (
            'revenue contains "x"',
            "revenue cannot use 'contains'; use one of =, !=, <, <=, >, >=.",
            0,
        ),
        ('score >= "abc"', "score: 'abc' is not a number.", 0),
        ("sends >= 30d", "sends: '30d' is a duration; sends compares with a number.", 0),
        (
            "status = gone",
            "status: 'gone' is not one of active, opted_out, bad_response, invalid_contact, manual, complaint, blocked.",
            0,
        ),
        ("plan = gold", "plan: 'gold' is not one of: free, pro, business.", 0),
        (
            "signup_date > tomorrow",
            "signup_date: 'tomorrow' is not a date; use YYYY-MM-DD or a relative time like 30d.",
            0,
        ),
        ("clicked_within = 0d", "clicked_within: 0 days is out of range (1 to 3650).", 0),
        ('tag in (vip, "\x00")', "tag: a value cannot contain the NUL character (\\u0000).", 0),
        ("sends > 99999999999999999999", "sends: 99999999999999999999 is out of range (-10^15 to 10^15).", 0),
        (
            "score < -99999999999999999999",
            "score: -99999999999999999999 is out of range (-10^15 to 10^15).",
            0,
        ),
        (
            "subscribed_at <= 9999-12-31",
            "subscribed_at: 9999-12-31 is out of range (1900-01-01 to 2999-12-31).",
            0,
        ),
        (
            "last_sent_at > 0001-01-01",
            "last_sent_at: 0001-01-01 is out of range (1900-01-01 to 2999-12-31).",
            0,
        ),
        ("clicked_within > 30d", "clicked_within cannot use '>'; use one of =.", 0),
        ("clicked_within = soon", "clicked_within: 'soon' is not a number of days; write it like 30d.", 0),
        (
            "subscribed_at = 7d",
            "subscribed_at = 7d: a relative time is a moment, not a day; use <, <=, > or >= "
            "(e.g. subscribed_at >= 7d) or a date YYYY-MM-DD.",
            0,
        ),
        ("vip = maybe", "vip: 'maybe' is not yes/no (use true or false).", 0),
        ("status = active AND state = true", 'state: expected text, got true; quote it: "True".', 20),
        ("sends is empty", "sends cannot use 'is empty'; use one of =, !=, <, <=, >, >=.", 0),
        ("line_type contains mob", "line_type cannot use 'contains'; use one of =, !=, in, not in.", 0),
    ],
)
def test_invalid_rule_in_a_query_is_a_clear_error_at_its_position(audience_list, query, message, position):
    assert query_problems(audience_list, query) == [
        {
            "path": "rules[0]" if position == 0 or "AND" not in query else "rules[1]",
            "message": message,
            "position": position,
        }
    ]


def test_every_problem_is_reported_at_once_with_its_own_position(audience_list):
    problems = query_problems(audience_list, 'stats = active AND (score > "y" OR tag = vip)')

    assert [(p["path"], p["position"]) for p in problems] == [("rules[0]", 0), ("rules[1].rules[0]", 20)]
    assert problems[1]["message"] == "score: 'y' is not a number."


def test_syntax_error_is_a_validation_error_with_its_position(audience_list):
    problems = query_problems(audience_list, "status = active AND")

    assert problems == [
        {
            "path": "",
            "message": "Expected a condition (like status = active), found the end of the query",
            "position": 19,
        }
    ]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"group": "xor", "rules": [{"field": "sends", "operator": ">", "value": 1}]},
            "a group is 'and' or 'or', not 'xor'.",
        ),
        ({"group": "and", "rules": "sends > 1"}, "a group needs a list of rules."),
        (
            {"group": "and", "rules": [{"field": "sends", "operator": ">", "value": 1, "extra": 1}]},
            "rules[0]: unknown keys extra in a rule.",
        ),
        (
            {"group": "and", "rules": [{"group": "or", "rules": []}]},
            "rules[0]: an empty group matches nothing useful; add a rule or remove it.",
        ),
        (
            {"group": "and", "rules": [{"field": "status", "operator": "in", "value": "active"}]},
            "status in needs a list of values, e.g. (a, b).",
        ),
        (
            {
                "group": "and",
                "rules": [{"field": "tag", "operator": "in", "value": [f"t{i}" for i in range(101)]}],
            },
            "tag in: at most 100 values.",
        ),
        (
            {"group": "and", "rules": [{"field": "sends", "operator": "like", "value": 1}]},
            "sends: unknown operator 'like'; use one of =, !=, <, <=, >, >=.",
        ),
        ({"group": "and", "rules": [{"field": "sends", "operator": ">"}]}, "sends > needs a value."),
        (
            {"group": "and", "rules": [{"field": "state", "operator": "is empty", "value": "x"}]},
            "state is empty takes no value.",
        ),
        (
            {"group": "and", "rules": [{"field": "state", "operator": "=", "value": "x" * 501}]},
            "state: a value is at most 500 characters.",
        ),
        ({"group": "and", "rules": [{"operator": "=", "value": "x"}]}, "A rule needs a field name."),
        (
            {"group": "and", "rules": [["sends", ">", 1]]},
            "rules[0]: expected a rule {'field', 'operator', 'value'}, got ['sends', '>', 1].",
        ),
        ("status = active", "expected a group {'group': 'and'|'or', 'rules': [...]} or a rule."),
    ],
)
def test_invalid_json_rules_are_clear_errors(audience_list, rules, message):
    problems = rules_problems(audience_list, rules)

    assert [p["message"] for p in problems] == [message]


def test_more_than_fifty_rules_are_refused(audience_list):
    rules = {"group": "or", "rules": [{"field": "sends", "operator": "=", "value": n} for n in range(51)]}

    assert [p["message"] for p in rules_problems(audience_list, rules)] == [
        "Too many rules (51); an audience has at most 50."
    ]


def test_groups_nested_deeper_than_five_are_refused(audience_list):
    rules = {"field": "sends", "operator": ">", "value": 1}
    for depth in range(6):
        rules = {
            "group": "and" if depth % 2 else "or",
            "rules": [rules, {"field": "clicks", "operator": ">", "value": depth}],
        }

    messages = [p["message"] for p in rules_problems(audience_list, rules)]

    assert messages == ["rules[0].rules[0].rules[0].rules[0].rules[0]: groups nest at most 5 deep."]


def test_operator_aliases_and_single_rule_json_are_accepted(audience_list):
    segment = segment_build(
        sending_list=audience_list, rules={"field": "sends", "operator": "gte", "value": "12"}
    )

    assert segment.rules == {"group": "and", "rules": [{"field": "sends", "operator": ">=", "value": 12}]}
    assert segment.query == "sends >= 12"


def test_query_and_rules_that_disagree_are_refused(audience_list):
    with pytest.raises(ValidationError) as raised:
        segment_build(
            sending_list=audience_list,
            query="sends > 1",
            rules={"group": "and", "rules": [{"field": "sends", "operator": ">", "value": 2}]},
        )

    assert raised.value.message_dict == {
        "query": ["The query and the rules say different things; send one of them."]
    }


def test_invalid_audience_is_not_saved(audience_list):
    with pytest.raises(ValidationError):
        audience_create(sending_list=audience_list, name="Broken", query="score > abc")

    assert Audience.objects.count() == 0


def test_saved_audience_whose_custom_field_was_deleted_reports_which_rule_no_longer_fits(audience_list):
    audience = audience_create(
        sending_list=audience_list, name="Californians", query='state = "CA" OR sends > 30'
    )
    CustomField.objects.filter(sending_list=audience_list, key="state").delete()

    with pytest.raises(ValidationError) as raised:
        audience_segment(audience=audience)

    assert raised.value.message_dict["rules"][0].startswith("Unknown field 'state'.")


def test_saved_audience_whose_custom_field_changed_type_reports_the_rule(audience_list):
    audience = audience_create(sending_list=audience_list, name="Text states", query='state contains "a"')
    CustomField.objects.filter(sending_list=audience_list, key="state").update(field_type="number")

    with pytest.raises(ValidationError) as raised:
        audience_segment(audience=audience)

    assert raised.value.message_dict == {
        "rules": ["state cannot use 'contains'; use one of =, !=, <, <=, >, >=, is empty, is not empty."]
    }
