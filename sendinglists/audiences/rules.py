# Over ~400 lines on purpose: one rule language, the field catalog and the validator that applies it read together.
"""The audience rule schema: which fields a rule may test, with which operators and values.

Rules are JSON, the same shape the API accepts and `Audience.rules` stores:

    {"group": "and", "rules": [
        {"field": "status", "operator": "=", "value": "active"},
        {"field": "clicked_within", "operator": "=", "value": "30d"},
        {"group": "or", "rules": [
            {"field": "state", "operator": "=", "value": "CA"},
            {"field": "revenue", "operator": ">=", "value": 50}]}]}

`rules_validate` checks raw rules against the list's custom fields and returns them in canonical
form (typed values, canonical operator and field names, nested groups flattened), or raises
`RulesInvalid` listing every problem with where it is. A rule a field cannot take (`revenue
contains "x"`, a number compared with text, a custom field the list does not define) is a clear
error here, never a database error later.

Semantics that apply to every field: `!=`, `not in` and `not contains` also match members with no
value (no tag, no custom field value); `is empty` matches a missing value, an empty text or null.
A relative time `30d` means "30 days before now".
"""

import datetime as dt
import difflib
import enum
import re
from dataclasses import dataclass, field
from decimal import Decimal

from contacts.choices import LineType
from sendinglists.choices import FieldType, MembershipStatus, SignupMethod, UnsubReason
from sendinglists.lists.customfields import MAX_TEXT_LENGTH, convert_value

MAX_RULES = 50
MAX_DEPTH = 5
MAX_LIST_VALUES = 100
MAX_DAYS = 3650
MAX_NUMBER = 10**15
# The days a timestamp rule may name, as ISO text (which compares as the dates do).
FIRST_DAY, LAST_DAY = "1900-01-01", "2999-12-31"
CUSTOM_PREFIX = "custom."

DURATION_RE = re.compile(r"^(\d{1,5})[dD]$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Words of the text query: a custom field key spelled like one is written custom.<key>.
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty", "contains", "true", "false"})


class Op(enum.StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LTE = "<="
    GT = ">"
    GTE = ">="
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"
    IS_EMPTY = "is empty"
    IS_NOT_EMPTY = "is not empty"


LIST_OPS = {Op.IN, Op.NOT_IN}
NO_VALUE_OPS = {Op.IS_EMPTY, Op.IS_NOT_EMPTY}
ORDER_OPS = (Op.LT, Op.LTE, Op.GT, Op.GTE)

# Spellings API consumers use for the canonical operators.
OPERATOR_ALIASES = {
    "==": Op.EQ,
    "eq": Op.EQ,
    "equals": Op.EQ,
    "<>": Op.NE,
    "ne": Op.NE,
    "lt": Op.LT,
    "lte": Op.LTE,
    "gt": Op.GT,
    "gte": Op.GTE,
    "not_in": Op.NOT_IN,
    "not_contains": Op.NOT_CONTAINS,
    "is_empty": Op.IS_EMPTY,
    "empty": Op.IS_EMPTY,
    "is_not_empty": Op.IS_NOT_EMPTY,
    "not_empty": Op.IS_NOT_EMPTY,
}


class Kind(enum.StrEnum):
    """How a field's values are typed and compared (drives validation, the compiler and the builder)."""

    ENUM = "enum"
    TEXT = "text"
    NUMBER = "number"
    DATETIME = "datetime"  # a timestamp: compared with a date (YYYY-MM-DD) or a relative time (30d)
    BOOLEAN = "boolean"
    TAG = "tag"
    WITHIN = "within"  # "happened within the last N days": the value is a duration
    CUSTOM_TEXT = "custom_text"
    CUSTOM_NUMBER = "custom_number"
    CUSTOM_DATE = "custom_date"
    CUSTOM_BOOLEAN = "custom_boolean"
    CUSTOM_CHOICE = "custom_choice"


KIND_OPERATORS: dict[Kind, tuple[Op, ...]] = {
    Kind.ENUM: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN),
    Kind.TEXT: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.CONTAINS, Op.NOT_CONTAINS, Op.IS_EMPTY, Op.IS_NOT_EMPTY),
    Kind.NUMBER: (Op.EQ, Op.NE, *ORDER_OPS),
    Kind.DATETIME: (Op.EQ, *ORDER_OPS),
    Kind.BOOLEAN: (Op.EQ, Op.NE),
    Kind.TAG: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN),
    Kind.WITHIN: (Op.EQ,),
    Kind.CUSTOM_TEXT: (
        Op.EQ,
        Op.NE,
        Op.IN,
        Op.NOT_IN,
        Op.CONTAINS,
        Op.NOT_CONTAINS,
        Op.IS_EMPTY,
        Op.IS_NOT_EMPTY,
    ),
    Kind.CUSTOM_NUMBER: (Op.EQ, Op.NE, *ORDER_OPS, Op.IS_EMPTY, Op.IS_NOT_EMPTY),
    Kind.CUSTOM_DATE: (Op.EQ, Op.NE, *ORDER_OPS, Op.IS_EMPTY, Op.IS_NOT_EMPTY),
    Kind.CUSTOM_BOOLEAN: (Op.EQ, Op.NE, Op.IS_EMPTY, Op.IS_NOT_EMPTY),
    Kind.CUSTOM_CHOICE: (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.IS_EMPTY, Op.IS_NOT_EMPTY),
}

CUSTOM_KINDS = {
    FieldType.TEXT: Kind.CUSTOM_TEXT,
    FieldType.NUMBER: Kind.CUSTOM_NUMBER,
    FieldType.DATE: Kind.CUSTOM_DATE,
    FieldType.BOOLEAN: Kind.CUSTOM_BOOLEAN,
    FieldType.CHOICE: Kind.CUSTOM_CHOICE,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field a rule can test."""

    name: str
    label: str
    kind: Kind
    section: str
    choices: tuple[str, ...] = ()
    aliases: dict = field(default_factory=dict)  # other spelling -> canonical choice
    nullable: bool = False  # a DATETIME that may be unset: adds `is empty` / `is not empty`
    custom_field: object | None = None  # the CustomField, for custom kinds
    help: str = ""

    @property
    def operators(self) -> tuple[Op, ...]:
        ops = KIND_OPERATORS[self.kind]
        return (*ops, Op.IS_EMPTY, Op.IS_NOT_EMPTY) if self.nullable else ops

    @property
    def is_custom(self) -> bool:
        return self.custom_field is not None


def _choices(values, aliases=None) -> dict:
    return {"choices": tuple(values), "aliases": aliases or {}}


# The status a member reads as (sendinglists.choices.status_from): `blocked` whatever the
# membership holds while its contact is blocked, and then no other status.
STATUS_CHOICES = ("active", "opted_out", "bad_response", "invalid_contact", "manual", "complaint", "blocked")
# `opted_out` reads better in a query than the stored reason `message` it stands for.
STATUS_TO_REASON = {"opted_out": MembershipStatus.OPTED_OUT.value}

BUILTIN_FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec(
            "status",
            "Status",
            Kind.ENUM,
            "Membership",
            **_choices(STATUS_CHOICES, {"message": "opted_out", "opted-out": "opted_out"}),
        ),
        FieldSpec(
            "reason",
            "Opt-out reason",
            Kind.ENUM,
            "Membership",
            **_choices(UnsubReason.values, {"opted_out": "message"}),
            help="Why an inactive member left; active members have none.",
        ),
        FieldSpec("signup_method", "Signup method", Kind.ENUM, "Membership", **_choices(SignupMethod.values)),
        FieldSpec("subscribed_at", "Subscribed", Kind.DATETIME, "Membership"),
        FieldSpec("opted_out_at", "Opted out", Kind.DATETIME, "Membership", nullable=True),
        FieldSpec("in_workflow", "In a workflow", Kind.BOOLEAN, "Membership"),
        FieldSpec("tag", "Tag", Kind.TAG, "Contact", help="The contact has this tag (case-insensitive)."),
        FieldSpec("line_type", "Line type", Kind.ENUM, "Contact", **_choices(LineType.values)),
        FieldSpec("is_valid", "Valid number", Kind.BOOLEAN, "Contact"),
        FieldSpec("blocked", "Blocked", Kind.BOOLEAN, "Contact"),
        FieldSpec("timezone", "Timezone", Kind.TEXT, "Contact"),
        FieldSpec("carrier", "Carrier", Kind.TEXT, "Contact"),
        FieldSpec("clicked_within", "Clicked within", Kind.WITHIN, "Engagement"),
        FieldSpec(
            "not_clicked_within",
            "Not clicked within",
            Kind.WITHIN,
            "Engagement",
            help="No click in the last N days, including never.",
        ),
        FieldSpec("sent_within", "Sent within", Kind.WITHIN, "Engagement"),
        FieldSpec(
            "not_sent_within",
            "Not sent within",
            Kind.WITHIN,
            "Engagement",
            help="No message in the last N days, including never.",
        ),
        FieldSpec("sends", "Sends", Kind.NUMBER, "Engagement"),
        FieldSpec("clicks", "Clicks", Kind.NUMBER, "Engagement"),
        FieldSpec("conversions", "Conversions", Kind.NUMBER, "Engagement"),
        FieldSpec("revenue", "Revenue", Kind.NUMBER, "Engagement"),
        FieldSpec("last_sent_at", "Last sent", Kind.DATETIME, "Engagement", nullable=True),
        FieldSpec("last_clicked_at", "Last clicked", Kind.DATETIME, "Engagement", nullable=True),
        FieldSpec("last_revenue_at", "Last revenue", Kind.DATETIME, "Engagement", nullable=True),
    )
}


def custom_field_spec(custom_field) -> FieldSpec:
    kind = CUSTOM_KINDS[custom_field.field_type]
    choices = tuple(str(c) for c in custom_field.choices or ()) if kind == Kind.CUSTOM_CHOICE else ()
    return FieldSpec(
        name=field_name_for(custom_field.key),
        label=custom_field.label or custom_field.key,
        kind=kind,
        section="Custom fields",
        choices=choices,
        custom_field=custom_field,
    )


def field_name_for(key: str) -> str:
    """The name a rule uses for custom field `key`: the bare key unless a built-in owns the name."""
    if key in BUILTIN_FIELDS or key.lower() in KEYWORDS or not IDENTIFIER_RE.match(key):
        return CUSTOM_PREFIX + key
    return key


def field_catalog(custom_fields) -> list[FieldSpec]:
    """Every field a rule on a list with `custom_fields` can test, in builder order."""
    return [*BUILTIN_FIELDS.values(), *(custom_field_spec(f) for f in custom_fields)]


# --- problems -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleProblem:
    path: str  # where in the rules: "rules[1].rules[0]"; "" is the whole rule set
    message: str
    position: int | None = None  # where in the text query, when the rules came from one

    def __str__(self) -> str:
        where = f" (at position {self.position})" if self.position is not None else ""
        return f"{self.message}{where}"

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message, "position": self.position}


class RulesInvalid(Exception):
    """Rules that cannot be used, with every problem found."""

    def __init__(self, problems: list[RuleProblem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return [str(p) for p in self.problems]


class _Invalid(Exception):
    pass


# --- validation -----------------------------------------------------------------------------------


def empty_rules() -> dict:
    return {"group": "and", "rules": []}


def rules_validate(raw, *, custom_fields, positions: dict[str, int] | None = None) -> dict:
    """Canonical rules for `raw` on a list whose CustomFields are `custom_fields`.

    Raises RulesInvalid listing every problem; `positions` (path -> text position, from the query
    parser) makes each problem point into the query text as well.
    """
    validator = _Validator(custom_fields, positions or {})
    if raw is None or raw == {}:
        return empty_rules()
    if isinstance(raw, dict) and "group" not in raw and "field" in raw:
        raw = {"group": "and", "rules": [raw]}  # a single rule is a group of one
    result = validator.group(raw, path="", depth=1)
    if validator.rule_count > MAX_RULES:
        validator.problem(
            "", f"Too many rules ({validator.rule_count}); an audience has at most {MAX_RULES}."
        )
    if validator.problems:
        raise RulesInvalid(validator.problems)
    return _normalize_root(result)


def _normalize_root(root: dict) -> dict:
    # `a OR b` is stored as an OR root, not an AND root holding one OR group; a root of one rule
    # (or none) is an AND group, whatever it was called.
    while len(root["rules"]) == 1 and "group" in root["rules"][0]:
        root = root["rules"][0]
    if len(root["rules"]) < 2:
        root = {"group": "and", "rules": root["rules"]}
    return root


class _Validator:
    def __init__(self, custom_fields, positions: dict[str, int]):
        self.custom = {f.key: f for f in custom_fields}
        self.positions = positions
        self.problems: list[RuleProblem] = []
        self.rule_count = 0

    def problem(self, path: str, message: str) -> None:
        self.problems.append(RuleProblem(path, message, self.positions.get(path)))

    def group(self, raw, *, path: str, depth: int) -> dict | None:
        where = f"{path}: " if path else ""
        if not isinstance(raw, dict):
            self.problem(path, f"{where}expected a group {{'group': 'and'|'or', 'rules': [...]}} or a rule.")
            return None
        extra = set(raw) - {"group", "rules"}
        if extra:
            self.problem(path, f"{where}unknown keys {', '.join(sorted(map(str, extra)))} in a group.")
        kind = str(raw.get("group", "")).lower()
        if kind not in ("and", "or"):
            self.problem(path, f"{where}a group is 'and' or 'or', not {raw.get('group')!r}.")
        children = raw.get("rules")
        if not isinstance(children, list):
            self.problem(path, f"{where}a group needs a list of rules.")
            return None
        if not children and path:
            self.problem(path, f"{where}an empty group matches nothing useful; add a rule or remove it.")
        if depth > MAX_DEPTH:
            self.problem(path, f"{where}groups nest at most {MAX_DEPTH} deep.")
            return None
        result = []
        for index, child in enumerate(children):
            child_path = f"{path}.rules[{index}]" if path else f"rules[{index}]"
            if isinstance(child, dict) and "group" in child:
                node = self.group(child, path=child_path, depth=depth + 1)
            else:
                node = self.rule(child, path=child_path)
            if node is None:
                continue
            if "group" in node and len(node["rules"]) == 1:
                node = node["rules"][0]
            if "group" in node and node["group"] == kind:
                result.extend(node["rules"])  # (a AND (b AND c)) is (a AND b AND c)
            else:
                result.append(node)
        return {"group": kind, "rules": result}

    def rule(self, raw, *, path: str) -> dict | None:
        self.rule_count += 1
        if not isinstance(raw, dict):
            self.problem(path, f"{path}: expected a rule {{'field', 'operator', 'value'}}, got {raw!r:.60}.")
            return None
        extra = set(raw) - {"field", "operator", "value"}
        if extra:
            self.problem(path, f"{path}: unknown keys {', '.join(sorted(map(str, extra)))} in a rule.")
            return None
        name = raw.get("field")
        try:
            spec = self.resolve(name)
            op = self.operator(spec, raw.get("operator"))
            value = self.value(spec, op, raw.get("value"), has_value="value" in raw)
        except _Invalid as exc:
            self.problem(path, str(exc))
            return None
        rule = {"field": spec.name, "operator": op.value}
        if op not in NO_VALUE_OPS:
            rule["value"] = value
        return rule

    def resolve(self, name) -> FieldSpec:
        if not isinstance(name, str) or not name.strip():
            raise _Invalid("A rule needs a field name.")
        name = name.strip()
        if name.startswith(CUSTOM_PREFIX):
            key = name[len(CUSTOM_PREFIX) :]
            if key in self.custom:
                return custom_field_spec(self.custom[key])
            raise _Invalid(f"This list has no custom field {key!r}{self._custom_hint(key)}.")
        if name in BUILTIN_FIELDS:
            return BUILTIN_FIELDS[name]
        if name in self.custom:
            return custom_field_spec(self.custom[name])
        if name.lower() in BUILTIN_FIELDS:  # built-in names are case-insensitive; custom keys are not
            return BUILTIN_FIELDS[name.lower()]
        known = [*BUILTIN_FIELDS, *self.custom]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        custom = ", ".join(sorted(self.custom)) or "none"
        raise _Invalid(
            f"Unknown field {name!r}.{hint} Fields: {', '.join(BUILTIN_FIELDS)}; "
            f"custom fields of this list: {custom}."
        )

    def _custom_hint(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self.custom), n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def operator(self, spec: FieldSpec, raw) -> Op:
        text = " ".join(str(raw or "").lower().split())
        try:
            op = Op(text)
        except ValueError:
            op = OPERATOR_ALIASES.get(text.replace(" ", "_")) or OPERATOR_ALIASES.get(text)
        if op is None:
            raise _Invalid(f"{spec.name}: unknown operator {raw!r}; use one of {_ops_text(spec)}.")
        if op not in spec.operators:
            raise _Invalid(f"{spec.name} cannot use {op.value!r}; use one of {_ops_text(spec)}.")
        return op

    def value(self, spec: FieldSpec, op: Op, raw, *, has_value: bool):
        if op in NO_VALUE_OPS:
            if has_value and raw not in (None, "", []):
                raise _Invalid(f"{spec.name} {op.value} takes no value.")
            return None
        if op in LIST_OPS:
            if not isinstance(raw, list | tuple) or not raw:
                raise _Invalid(f"{spec.name} {op.value} needs a list of values, e.g. (a, b).")
            if len(raw) > MAX_LIST_VALUES:
                raise _Invalid(f"{spec.name} {op.value}: at most {MAX_LIST_VALUES} values.")
            values = []
            for item in raw:
                converted = self.scalar(spec, op, item)
                if converted not in values:
                    values.append(converted)
            return values
        if isinstance(raw, list | tuple):
            raise _Invalid(f"{spec.name} {op.value} takes one value; use 'in' for a list.")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise _Invalid(f"{spec.name} {op.value} needs a value.")
        return self.scalar(spec, op, raw)

    def scalar(self, spec: FieldSpec, op: Op, raw):
        kind = spec.kind
        if isinstance(raw, dict | list | tuple):
            raise _Invalid(f"{spec.name}: {raw!r:.40} is not a single value.")
        if isinstance(raw, str) and "\x00" in raw:
            # PostgreSQL stores no NUL in text or JSON; no value of any field can hold one.
            raise _Invalid(f"{spec.name}: a value cannot contain the NUL character (\\u0000).")
        if kind == Kind.ENUM:
            text = str(raw).strip().lower()
            text = spec.aliases.get(text, text)
            if text not in spec.choices:
                raise _Invalid(f"{spec.name}: {raw!r} is not one of {', '.join(spec.choices)}.")
            return text
        if kind in (Kind.TEXT, Kind.TAG, Kind.CUSTOM_TEXT):
            if isinstance(raw, bool):
                raise _Invalid(f'{spec.name}: expected text, got {str(raw).lower()}; quote it: "{raw}".')
            text = _number_text(raw) if isinstance(raw, int | float) else str(raw).strip()
            limit = 50 if kind == Kind.TAG else MAX_TEXT_LENGTH
            if not text and op not in (Op.EQ, Op.NE):
                raise _Invalid(f"{spec.name} {op.value} needs a value.")
            if len(text) > limit:
                raise _Invalid(f"{spec.name}: a value is at most {limit} characters.")
            return text
        if kind in (Kind.NUMBER, Kind.CUSTOM_NUMBER):
            if isinstance(raw, str) and DURATION_RE.match(raw.strip()):
                raise _Invalid(f"{spec.name}: {raw!r} is a duration; {spec.name} compares with a number.")
            try:
                number = convert_value(FieldType.NUMBER, raw)
            except ValueError as exc:
                raise _Invalid(f"{spec.name}: {exc}.") from None
            # Bound so the value binds as a 64-bit integer or an exact float on every database.
            if abs(number) > MAX_NUMBER:
                raise _Invalid(f"{spec.name}: {str(raw)[:40]} is out of range (-10^15 to 10^15).")
            return number
        if kind in (Kind.BOOLEAN, Kind.CUSTOM_BOOLEAN):
            try:
                return convert_value(FieldType.BOOLEAN, raw)
            except ValueError as exc:
                raise _Invalid(f"{spec.name}: {exc}.") from None
        if kind == Kind.WITHIN:
            return self.duration(spec, raw)
        if kind in (Kind.DATETIME, Kind.CUSTOM_DATE):
            if isinstance(raw, str) and DURATION_RE.match(raw.strip()):
                if kind == Kind.DATETIME and op == Op.EQ:
                    raise _Invalid(
                        f"{spec.name} = {raw}: a relative time is a moment, not a day; "
                        f"use <, <=, > or >= (e.g. {spec.name} >= {raw}) or a date YYYY-MM-DD."
                    )
                return self.duration(spec, raw)
            if isinstance(raw, bool | int | float):
                raise _Invalid(
                    f"{spec.name}: {raw!r} is not a date; use YYYY-MM-DD or a relative time like 30d."
                )
            try:
                day = convert_value(FieldType.DATE, raw)
            except ValueError:
                raise _Invalid(
                    f"{spec.name}: {raw!r} is not a date; use YYYY-MM-DD or a relative time like 30d."
                ) from None
            # A timestamp's day becomes a range of instants (the day's start to the next day's), so
            # 9999-12-31 would overflow; no membership was subscribed or messaged outside these years.
            if kind == Kind.DATETIME and not FIRST_DAY <= day <= LAST_DAY:
                raise _Invalid(f"{spec.name}: {day} is out of range ({FIRST_DAY} to {LAST_DAY}).")
            return day
        if kind == Kind.CUSTOM_CHOICE:
            try:
                return convert_value(FieldType.CHOICE, raw, list(spec.custom_field.choices))
            except ValueError as exc:
                raise _Invalid(f"{spec.name}: {exc}.") from None
        raise _Invalid(f"{spec.name}: unsupported field kind {kind}.")  # pragma: no cover

    def duration(self, spec: FieldSpec, raw) -> str:
        if isinstance(raw, int) and not isinstance(raw, bool):
            days = raw
        else:
            match = DURATION_RE.match(str(raw).strip())
            if not match:
                raise _Invalid(f"{spec.name}: {raw!r} is not a number of days; write it like 30d.")
            days = int(match.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise _Invalid(f"{spec.name}: {days} days is out of range (1 to {MAX_DAYS}).")
        return f"{days}d"


def _ops_text(spec: FieldSpec) -> str:
    return ", ".join(op.value for op in spec.operators)


def _number_text(value) -> str:
    return format(Decimal(str(value)).normalize(), "f") if isinstance(value, float) else str(value)


def duration_days(value: str) -> int:
    return int(DURATION_RE.match(value).group(1))


def is_duration(value) -> bool:
    return isinstance(value, str) and DURATION_RE.match(value) is not None


def days_ago(now: dt.datetime, value: str) -> dt.datetime:
    return now - dt.timedelta(days=duration_days(value))


def iter_rules(node: dict):
    """Every rule (leaf) in canonical rules."""
    if "group" in node:
        for child in node["rules"]:
            yield from iter_rules(child)
    else:
        yield node
